package dev.jdyld.jit;

/** The input is well-formed but of a kind jdyld does not load (machine, class, type, feature). */
public final class UnsupportedObjectException extends LinkException {
    public UnsupportedObjectException(Location location, String what) {
        super(location, what);
    }
}
