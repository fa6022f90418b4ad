package dev.jdyld.core;

import java.util.List;

/** Symbols referenced by the set and defined nowhere: all of them, in one error. */
public final class UnresolvedSymbolException extends LinkException {
    /**
     * The undefined names as the objects spell them.
     */
    private final List<String> symbols;

    /**
     * Names referenced and defined nowhere.
     *
     * @param symbols    the undefined names, as the objects spell them (mangled, for C++)
     * @param references each name as people read it (demangled) with the object that references
     *                   it, for the message
     * @param hint       what probably fixes it (a host library that was not given), or null
     */
    public UnresolvedSymbolException(List<String> symbols, List<String> references, String hint) {
        super(Location.NONE, "undefined symbol" + (symbols.size() == 1 ? "" : "s") + ": " + String.join(", ", references)
                + (hint == null ? "" : "; hint: " + hint));
        this.symbols = List.copyOf(symbols);
    }

    /**
     * The undefined names as the objects spell them.
     *
     * @return the names, in the order first referenced
     */
    public List<String> symbols() {
        return symbols;
    }
}
