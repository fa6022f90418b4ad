package dev.jdyld.jit;

/** The input is not a well-formed object or archive: truncated, inconsistent or hostile. */
public final class MalformedObjectException extends LinkException {
    public MalformedObjectException(Location location, String what) {
        super(location, what);
    }

    public String file() {
        return location().file();
    }

    /** Byte offset in the file of the bad record. */
    public long offset() {
        return location().offset();
    }
}
