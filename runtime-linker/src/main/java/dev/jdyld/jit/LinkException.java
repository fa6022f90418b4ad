package dev.jdyld.link;

/**
 * A load failed. The message is one line naming what was wrong and where (file, section, byte
 * offset, relocation, symbol, as far as they apply). When it is thrown nothing of the load
 * remains: no mapping, no symbol, no registration.
 */
public class LinkException extends RuntimeException {
    public LinkException(String message) {
        super(message);
    }

    public LinkException(String message, Throwable cause) {
        super(message, cause);
    }
}
