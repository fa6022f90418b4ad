package dev.jdyld.elf;

import java.util.ArrayList;
import java.util.List;

import static dev.jdyld.elf.Elf.GRP_COMDAT;
import static dev.jdyld.elf.Elf.SHT_GROUP;

/** An object's section groups ({@code SHT_GROUP}), validated: the COMDAT groups a linker keeps once. */
public final class SectionGroups {
    private SectionGroups() {}

    /** A COMDAT group: its section, signature and member sections. */
    public record Group(int section, String signature, int[] members) {}

    /** The object's {@code SHT_GROUP} sections flagged {@code GRP_COMDAT}, validated. */
    public static List<Group> comdat(ElfObject object) {
        List<Group> groups = new ArrayList<>();
        for (int g = 1; g < object.sectionCount; g++) {
            if (object.sectionType[g] != SHT_GROUP) {
                continue;
            }
            long size = object.sectionSize[g];
            if (size < 4 || size % 4 != 0 || object.sectionLink[g] != object.symtabIndex || object.sectionInfo[g] <= 0
                    || object.sectionInfo[g] >= object.symbolCount) {
                throw object.malformed(object.sectionName[g], object.headerOffset(g), "malformed SHT_GROUP section");
            }
            if ((object.u32(object.sectionOffset[g]) & GRP_COMDAT) == 0) {
                continue;
            }
            int[] members = new int[(int) (size / 4) - 1];
            for (int i = 0; i < members.length; i++) {
                int member = object.u32(object.sectionOffset[g] + 4 + 4L * i);
                if (member <= 0 || member >= object.sectionCount) {
                    throw object.malformed(object.sectionName[g], object.sectionOffset[g] + 4 + 4L * i, "group member "
                            + member
                            + " is not a section");
                }
                members[i] = member;
            }
            groups.add(new Group(g, object.symbolName(object.sectionInfo[g]), members));
        }
        return groups;
    }
}
