package dev.jdyld.core;

/** A relocation cannot be applied: unknown type, value out of range, or a bad target. */
public final class RelocationException extends LinkException {
    /**
     * A relocation that cannot be applied.
     *
     * @param location where (file, section, offset, relocation, symbol)
     * @param what     what is wrong
     */
    public RelocationException(Location location, String what) {
        super(location, what);
    }
}
