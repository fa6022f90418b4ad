package dev.jdyld.link;

/** Two objects of a set give strong definitions of one symbol. */
public final class DuplicateSymbolException extends LinkException {
    DuplicateSymbolException(String symbol, String firstObject, String secondObject) {
        super("duplicate symbol " + symbol + ": defined in " + firstObject + " and in " + secondObject);
    }
}
