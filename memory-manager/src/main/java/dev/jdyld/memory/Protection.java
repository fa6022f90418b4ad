package dev.jdyld.memory;

/** Page protections jdyld uses; never writable and executable together. */
public enum Protection {
    /**
     * No access.
     */
    NONE(Libc.PROT_NONE, "---"),
    /**
     * Read only.
     */
    READ(Libc.PROT_READ, "r--"),
    /**
     * Read and write, never execute.
     */
    READ_WRITE(Libc.PROT_READ | Libc.PROT_WRITE, "rw-"),
    /**
     * Read and execute, never write.
     */
    READ_EXECUTE(Libc.PROT_READ | Libc.PROT_EXEC, "r-x");

    final int bits;
    private final String maps;

    Protection(int bits, String maps) {
        this.bits = bits;
        this.maps = maps;
    }

    /**
     * As {@code /proc/self/maps} prints it, without the private/shared letter: {@code r-x}.
     *
     * @return the three permission letters as {@code /proc/self/maps} shows them, e.g. {@code r-x}
     */
    public String mapsString() {
        return maps;
    }
}
