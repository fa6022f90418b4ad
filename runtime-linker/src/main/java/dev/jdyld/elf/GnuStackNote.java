package dev.jdyld.elf;

import java.util.List;

import static dev.jdyld.elf.Elf.SHF_EXECINSTR;

/**
 * What an object's {@code .note.GNU-stack} section says about the stack, as GNU ld reads it: a
 * section with {@code SHF_EXECINSTR} (gcc emits one for a GNU C nested function whose address is
 * taken, called through a trampoline it writes on the stack) asks for an executable stack, and so
 * does an object without the section (what hand-written assembly often is); an empty section
 * without the flag is the usual "not executable".
 */
public final class GnuStackNote {
    private static final String NAME = ".note.GNU-stack";

    private GnuStackNote() {}

    /**
     * Why a set of {@code objects} needs an executable stack: the first object that asks for one.
     *
     * @param object  the object that asks for it
     * @param reason  why, in GNU ld's words
     * @param missing whether it asks by having no note at all (rather than an executable one)
     */
    public record Need(String object, String reason, boolean missing) {
        @Override
        public String toString() {
            return object + ": " + reason;
        }
    }

    /** The first of {@code objects} that needs an executable stack, or null when none does. */
    public static Need need(List<ElfObject> objects) {
        for (ElfObject object : objects) {
            int note = -1;
            for (int s = 1; s < object.sectionCount; s++) {
                if (NAME.equals(object.sectionName[s])) {
                    note = s;
                    break;
                }
            }
            if (note < 0) {
                return new Need(object.name, "it has no .note.GNU-stack section, which GNU ld takes to mean an"
                        + " executable stack", true);
            }
            if ((object.sectionFlags[note] & SHF_EXECINSTR) != 0) {
                return new Need(object.name, "its .note.GNU-stack section is executable", false);
            }
        }
        return null;
    }
}
