package dev.jdyld.core;

/** Two objects of a set give strong definitions of one symbol. */
public final class DuplicateSymbolException extends LinkException {
    /**
     * Two strong definitions of one name.
     *
     * @param symbol       the name
     * @param firstObject  where it is defined first
     * @param secondObject where it is defined again
     */
    public DuplicateSymbolException(String symbol, String firstObject, String secondObject) {
        super(Location.file(secondObject).symbol(symbol), "duplicate definition; also defined in " + firstObject);
    }
}
