package dev.jdyld.link;

import java.util.List;

/** Symbols referenced by the set and defined nowhere: all of them, in one error. */
public final class UnresolvedSymbolException extends LinkException {
    private final List<String> symbols;

    UnresolvedSymbolException(List<String> symbols, List<String> references) {
        super("undefined symbol" + (symbols.size() == 1 ? "" : "s") + ": " + String.join(", ", references));
        this.symbols = List.copyOf(symbols);
    }

    public List<String> symbols() {
        return symbols;
    }
}
