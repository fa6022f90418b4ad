package dev.jdyld.memory;

/** Page protections jdyld uses; never writable and executable together. */
public enum Protection {
    NONE(Libc.PROT_NONE, "---"),
    READ(Libc.PROT_READ, "r--"),
    READ_WRITE(Libc.PROT_READ | Libc.PROT_WRITE, "rw-"),
    READ_EXECUTE(Libc.PROT_READ | Libc.PROT_EXEC, "r-x");

    final int bits;
    private final String maps;

    Protection(int bits, String maps) {
        this.bits = bits;
        this.maps = maps;
    }

    /** As {@code /proc/self/maps} prints it, without the private/shared letter: {@code r-x}. */
    public String mapsString() {
        return maps;
    }
}
