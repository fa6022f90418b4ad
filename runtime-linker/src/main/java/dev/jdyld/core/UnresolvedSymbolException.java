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
     * @param hint       what probably fixes it (a host library that was not given), or null: it
     *                   comes first, and the message names at most four symbols and counts the rest
     */
    public UnresolvedSymbolException(List<String> symbols, List<String> references, String hint) {
        super(Location.NONE, "undefined symbol" + (symbols.size() == 1 ? "" : "s") + ": "
                + (hint == null ? "" : "hint: " + hint + "; ") + String.join(", ", references.subList(0, Math.min(SHOWN,
                references.size()))) + (references.size() > SHOWN ? ", and " + (references.size() - SHOWN) + " more" : ""));
        this.symbols = List.copyOf(symbols);
    }

    /** How many names the message spells out: the rest are counted; {@link #symbols()} has them all. */
    private static final int SHOWN = 4;

    /**
     * The undefined names as the objects spell them.
     *
     * @return the names, in the order first referenced
     */
    public List<String> symbols() {
        return symbols;
    }
}
