package dev.jdyld.link.arch;

/**
 * What an architecture's {@link Architecture#scan} asks of the planning pass. Each request is
 * idempotent per symbol: the GOT, stub and TLS tables count each distinct symbol once.
 */
public interface ScanContext {
    /** A GOT slot holding the symbol's address. */
    void got(SymbolRef symbol);

    /**
     * Whether a reference to the symbol through the GOT may be rewritten to reach it directly
     * instead: relaxation is on, and the symbol is the set's own code or data (not an IFUNC, an
     * absolute, a thread-local or a symbol the linker defines). The architecture then checks the
     * instruction and asks for no slot.
     */
    boolean mayBypassGot(SymbolRef symbol);

    /** A call or jump: direct inside the set (and, within reach, into earlier sets), else through a stub. */
    void branch(SymbolRef symbol);

    /**
     * The symbol's address, as the set sees it, is a stub of its own in the set (a 32-bit absolute
     * address of a host function, which lives above 2 GiB).
     */
    void canonicalStub(SymbolRef symbol);

    /** A thread-local access of the given model; the engine checks the symbol and refuses what it cannot do. */
    void threadLocal(Relocation relocation, SymbolRef symbol, TlsModel model);

    /** The set must lie in the low 2 GiB (a 32-bit absolute address). */
    void requireLow2GiB(Relocation relocation);

    /** The set must lie within reach of the symbol's address (a 32-bit PC-relative reference out of the set). */
    void requireNear(Relocation relocation, SymbolRef symbol);

    /**
     * The relocation reaches only {@code reach} bytes ({@code ADR}, literal loads: AArch64's tiny
     * code model): unless its symbol is in the section it patches, the whole set is placed within
     * that distance of itself.
     */
    void limitReach(Relocation relocation, SymbolRef symbol, long reach);

    /**
     * A direct branch that reaches only {@link Architecture#branchReach()}: where the set's code is
     * larger, a branch to a target in another part of it (or outside it) gets a range-extension
     * thunk in its own part's island.
     */
    void rangeExtension(Relocation relocation, SymbolRef symbol);
}
