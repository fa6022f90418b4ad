package dev.jdyld.jit;

import java.util.List;

/** Symbols referenced by the set and defined nowhere: all of them, in one error. */
public final class UnresolvedSymbolException extends LinkException {
    private final List<String> symbols;

    /**
     * @param symbols    the undefined names
     * @param references each name with the object that references it, for the message
     */
    public UnresolvedSymbolException(List<String> symbols, List<String> references) {
        super(Location.NONE, "undefined symbol" + (symbols.size() == 1 ? "" : "s") + ": " + String.join(", ", references));
        this.symbols = List.copyOf(symbols);
    }

    public List<String> symbols() {
        return symbols;
    }
}
