package dev.jdyld.jit;

import java.util.List;

/**
 * Where a loaded set's pieces are: its permission groups and every loaded section, with the
 * GOT and stub counts of the planning pass.
 *
 * @param groups      one entry per non-empty permission group, in address order
 * @param sections    every loaded section, the GOT and the stubs, in address order
 * @param gotEntries  GOT slots: one per distinct symbol referenced through the GOT or a stub
 * @param stubs       stubs: one per distinct call target outside the set
 * @param relocations relocation entries applied
 * @param members     archive members pulled into the set, in the order they were pulled
 */
public record SetLayout(List<Group> groups, List<Section> sections, int gotEntries, int stubs, long relocations,
                        List<Member> members) {
    public SetLayout {
        groups = List.copyOf(groups);
        sections = List.copyOf(sections);
        members = List.copyOf(members);
    }

    /**
     * @param archive the archive file
     * @param member  the member's name
     * @param symbol  the first undefined symbol it defined: why it was pulled in
     */
    public record Member(String archive, String member, String symbol) {}

    /**
     * @param name        TEXT, RODATA, RELRO or DATA
     * @param address     first byte
     * @param size        bytes (whole pages)
     * @param permissions final permissions as {@code /proc/self/maps} shows them, e.g. {@code r-x}
     */
    public record Group(String name, long address, long size, String permissions) {}

    /**
     * @param object    the object file, or {@code <jdyld>} for linker-made sections
     * @param name      section name ({@code .got} and {@code .stubs} for the linker's own)
     * @param group     permission group name
     * @param address   first byte
     * @param size      bytes
     * @param alignment alignment in bytes
     */
    public record Section(String object, String name, String group, long address, long size, long alignment) {}
}
