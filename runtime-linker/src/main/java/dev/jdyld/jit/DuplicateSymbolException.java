package dev.jdyld.jit;

/** Two objects of a set give strong definitions of one symbol. */
public final class DuplicateSymbolException extends LinkException {
    public DuplicateSymbolException(String symbol, String firstObject, String secondObject) {
        super(Location.file(secondObject).symbol(symbol), "duplicate definition; also defined in " + firstObject);
    }
}
