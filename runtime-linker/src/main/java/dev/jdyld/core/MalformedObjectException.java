package dev.jdyld.core;

/** The input is not a well-formed object or archive: truncated, inconsistent or hostile. */
public final class MalformedObjectException extends LinkException {
    /**
     * An input that breaks the ELF or archive format.
     *
     * @param location where
     * @param what     what is wrong
     */
    public MalformedObjectException(Location location, String what) {
        super(location, what);
    }

    /**
     * The input's name.
     *
     * @return the file the error is in, or null when it is not known
     */
    public String file() {
        return location().file();
    }

    /**
     * Byte offset in the file of the bad record.
     *
     * @return the offset of the bad bytes, or -1 when unknown
     */
    public long offset() {
        return location().offset();
    }
}
