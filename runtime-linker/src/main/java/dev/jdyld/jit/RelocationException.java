package dev.jdyld.jit;

/** A relocation cannot be applied: unknown type, value out of range, or a bad target. */
public final class RelocationException extends LinkException {
    public RelocationException(Location location, String what) {
        super(location, what);
    }
}
