package dev.jdyld.memory;

import dev.jdyld.memory.libc.Libc;

/**
 * The four kinds of pages a loaded set needs, in the order they are laid out. Every group is
 * writable (never executable) while the linker fills and relocates it; {@link Slab#finalizePermissions()}
 * then gives each group its final protection with one {@code mprotect}.
 */
public enum PermissionGroup {
    /** Code and stubs. */
    TEXT(Protection.READ_EXECUTE),
    /** Read-only data: {@code .rodata}, {@code .eh_frame}, string literals. */
    RODATA(Protection.READ),
    /** Written by relocation, then read-only: the GOT, {@code .data.rel.ro}, init/fini arrays. */
    RELRO(Protection.READ),
    /** Writable data and {@code .bss}. */
    DATA(Protection.READ_WRITE);

    private final Protection finalProtection;

    PermissionGroup(Protection finalProtection) {
        this.finalProtection = finalProtection;
    }

    /**
     * The protection the group's pages get at finalization.
     *
     * @return its final protection
     */
    public Protection finalProtection() {
        return finalProtection;
    }

    static final PermissionGroup[] ALL = values();

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
}
