package dev.jdyld.memory;

/** A memory-mapping call failed; carries the call, the range asked for and errno. */
public final class MemoryException extends RuntimeException {
    private final int errno;

    public MemoryException(String call, long address, long length, int errno, String reason) {
        super(call + "(0x" + Long.toHexString(address) + ", " + length + " bytes) failed: "
                + reason + " (errno " + errno + ")");
        this.errno = errno;
    }

    public MemoryException(String message) {
        super(message);
        this.errno = 0;
    }

    /** The C errno of the failed call, or 0 when the failure was not a system call's. */
    public int errno() {
        return errno;
    }
}
