package dev.jdyld.core;

/** The input is well-formed but of a kind jdyld does not load (machine, class, type, feature). */
public final class UnsupportedObjectException extends LinkException {
    /**
     * A valid input that uses something jdyld does not support.
     *
     * @param location where
     * @param what     what is not supported
     */
    public UnsupportedObjectException(Location location, String what) {
        super(location, what);
    }
}
