package dev.jdyld.link;

/** A relocation cannot be applied: unknown type, value out of range, or a bad target. */
public final class RelocationException extends LinkException {
    RelocationException(String message) {
        super(message);
    }
}
