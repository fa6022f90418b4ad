package dev.jdyld.link;

/** The input is not a well-formed object: truncated, inconsistent or hostile. */
public final class MalformedObjectException extends LinkException {
    private final String file;
    private final long offset;

    MalformedObjectException(String file, String section, long offset, String what) {
        super(file + (section == null ? "" : ": section " + section) + ": at offset 0x"
                + Long.toHexString(offset) + ": " + what);
        this.file = file;
        this.offset = offset;
    }

    public String file() {
        return file;
    }

    /** Byte offset in the file of the bad record. */
    public long offset() {
        return offset;
    }
}
