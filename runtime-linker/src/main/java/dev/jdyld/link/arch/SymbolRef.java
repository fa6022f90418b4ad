package dev.jdyld.link.arch;

/** The symbol of the relocation being scanned, as resolved by the engine. */
public interface SymbolRef {
    SymbolKind kind();

    /** The address, where resolution already knows it (earlier sets and host); 0 otherwise. */
    long address();

    /** Whether the symbol is outside the set (an earlier set's or the host's). */
    default boolean isOutsideSet() {
        return kind() == SymbolKind.EARLIER_SET || kind() == SymbolKind.HOST;
    }

    /** Whether a host symbol lies in an executable mapping: a function rather than data. */
    boolean isHostFunction();

    /** Whether the symbol's value is an address in memory (not an absolute constant or null). */
    boolean refersToAddress();
}
