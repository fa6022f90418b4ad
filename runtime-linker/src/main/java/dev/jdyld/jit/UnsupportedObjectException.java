package dev.jdyld.link;

/** The input is well-formed but of a kind jdyld does not load (machine, class, type, feature). */
public final class UnsupportedObjectException extends LinkException {
    UnsupportedObjectException(String message) {
        super(message);
    }
}
