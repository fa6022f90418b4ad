package dev.jdyld.memory;

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
}
