package dev.jdyld.memory;

/** A memory-mapping call failed; carries the call, the range asked for and errno. */
public final class MemoryException extends RuntimeException {
    /**
     * The {@code errno} of the failed call; 0 when no system call failed.
     */
    private final int errno;

    /**
     * A failed system call.
     *
     * @param call    the call, e.g. {@code mmap}
     * @param address the address it was given
     * @param length  the length it was given
     * @param errno   the {@code errno} it set
     * @param reason  what jdyld was doing
     */
    public MemoryException(String call, long address, long length, int errno, String reason) {
        super(call + "(0x" + Long.toHexString(address) + ", " + length + " bytes) failed: "
                + reason + " (errno " + errno + ")");
        this.errno = errno;
    }

    /**
     * A request the memory manager cannot satisfy (no system call failed).
     *
     * @param message what is wrong
     */
    public MemoryException(String message) {
        super(message);
        this.errno = 0;
    }

    /**
     * The C errno of the failed call, or 0 when the failure was not a system call's.
     *
     * @return the {@code errno} of the failed call, or 0 when no system call failed
     */
    public int errno() {
        return errno;
    }
}
