package dev.jdyld.link.arch;

/**
 * For one object, by symbol index, what the relocation loop needs after layout: flat arrays of
 * addresses so that applying a relocation is array reads and one write.
 */
public final class ResolvedSymbols {
    /** {@code S}: the symbol's address (0 for an undefined weak symbol). */
    public final long[] address;
    /** {@code G + GOT}: address of the symbol's GOT slot, or 0 when it has none. */
    public final long[] gotSlot;
    /** {@code L}: where a call to the symbol goes: its stub when it has one, else {@code S}. */
    public final long[] callTarget;
    /** {@code Z}: the symbol's size. */
    public final long[] size;
    /** Address of the symbol's {@code tls_index} pair (general dynamic), or 0. */
    public final long[] tlsGdSlot;
    /** Address of the symbol's TLS descriptor, or 0. */
    public final long[] tlsDescSlot;
    /** The symbol is defined in a COMDAT group the set dropped (only {@code .eh_frame} may refer to one). */
    public final boolean[] inDroppedGroup;
    /** Address of the set's local-dynamic {@code tls_index} pair, or 0. */
    public long tlsLdSlot;
    /** The set's TLS module id. */
    public long tlsModule;
    /**
     * Offset of the set's TLS block from the thread pointer when the block is in static TLS
     * ({@code TPOFF} values are it plus the variable's offset in the block); 0 otherwise.
     */
    public long tlsThreadPointerOffset;

    public ResolvedSymbols(int count) {
        address = new long[count];
        gotSlot = new long[count];
        callTarget = new long[count];
        size = new long[count];
        tlsGdSlot = new long[count];
        tlsDescSlot = new long[count];
        inDroppedGroup = new boolean[count];
    }
}
