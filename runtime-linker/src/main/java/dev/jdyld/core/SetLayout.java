package dev.jdyld.core;

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
 * @param symbols     the set's functions and data objects (local ones too), its stubs and its GOT
 *                    slots of named symbols, in address order: what a disassembler or profiler names
 * @param threadLocal the set's thread-local block, or null when the set has no thread-local storage
 * @param executableStack why the set needs an executable stack ({@code OBJECT: reason}, from its
 *                    {@code .note.GNU-stack} as GNU ld reads it), or null when it needs none
 */
public record SetLayout(List<Group> groups, List<Section> sections, int gotEntries, int stubs, long relocations,
                        List<Member> members, List<Symbol> symbols, ThreadLocalBlock threadLocal,
                        String executableStack) {
    /**
     * Copies the lists (a layout never changes); symbols already in an {@link AddressOrderedSymbols} are kept as they are.
     */
    public SetLayout {
        groups = List.copyOf(groups);
        sections = List.copyOf(sections);
        members = List.copyOf(members);
        symbols = symbols instanceof AddressOrderedSymbols ordered ? ordered : List.copyOf(symbols);
    }

    /**
     * The set's thread-local block: {@code .tdata} then {@code .tbss}, one copy per thread.
     *
     * @param staticTls           whether the block is in glibc's static TLS, at one offset from every
     *                            thread's pointer (the set has local- or initial-exec code); otherwise
     *                            each thread's block is allocated on its first access
     * @param size                bytes of the block
     * @param templateSize        bytes of it initialised from {@code .tdata}
     * @param alignment           its alignment
     * @param threadPointerOffset for a block in static TLS, its offset from the thread pointer (negative:
     *                            below it); 0 otherwise
     */
    public record ThreadLocalBlock(boolean staticTls, long size, long templateSize, long alignment,
                                   long threadPointerOffset) {
    }

    /**
     * A named address range of the set.
     *
     * @param name    the symbol's name; for a stub or GOT slot, the name of the symbol it leads to
     * @param kind    what the range is
     * @param address first byte
     * @param size    bytes ({@code st_size}; may be 0 for symbols without a size)
     */
    public record Symbol(String name, Kind kind, long address, long size) {
        /** What a {@link Symbol} names. */
        public enum Kind {
            /** Code of the set ({@code STT_FUNC}, {@code STT_GNU_IFUNC}). */
            FUNCTION,
            /** Data of the set ({@code STT_OBJECT}, common symbols). */
            OBJECT,
            /** A stub the linker made for calls to the symbol. */
            STUB,
            /** A GOT slot holding the symbol's address. */
            GOT
        }
    }

    /**
     * An archive member pulled into the set.
     *
     * @param archive the archive file
     * @param member  the member's name
     * @param symbol  the first undefined symbol it defined: why it was pulled in
     */
    public record Member(String archive, String member, String symbol) {}

    /**
     * A permission group of the set.
     *
     * @param name        TEXT, RODATA, RELRO or DATA
     * @param address     first byte
     * @param size        bytes: whole pages, or, for a group smaller than a page packed into a page it
     *                    shares with other sets' groups of the same permission, exactly its bytes
     * @param permissions final permissions as {@code /proc/self/maps} shows them, e.g. {@code r-x}
     */
    public record Group(String name, long address, long size, String permissions) {}

    /**
     * A section of the set (or one the linker made).
     *
     * @param object    the object file, or {@code <jdyld>} for linker-made sections
     * @param name      section name ({@code .got} and {@code .stubs} for the linker's own)
     * @param group     permission group name
     * @param address   first byte
     * @param size      bytes
     * @param alignment alignment in bytes
     * @param index     the section's index in its object's section header table; -1 for the linker's own
     */
    public record Section(String object, String name, String group, long address, long size, long alignment, int index) {}
}
