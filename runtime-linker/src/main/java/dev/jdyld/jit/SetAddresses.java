package dev.jdyld.jit;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.Location;
import dev.jdyld.core.SetLayout;
import dev.jdyld.memory.PermissionGroup;
import dev.jdyld.memory.Slab;

/** A set's addresses: what code an address is in, and where the JVM reads the bytes at it. */
final class SetAddresses {
    private SetAddresses() {}

    /** {@code f+0x4 in set prog.o} when the address is in the set's code (nearest function before it), else null. */
    static String describe(Slab slab, SetLayout layout, String name, long address) {
        long text = slab.address(PermissionGroup.TEXT);
        if (address < text || address >= text + slab.length(PermissionGroup.TEXT)) {
            return null;
        }
        SetLayout.Symbol nearest = null;
        for (SetLayout.Symbol symbol : layout.symbols()) {
            if (symbol.kind() != SetLayout.Symbol.Kind.OBJECT && symbol.address() <= address
                    && (nearest == null || symbol.address() > nearest.address())) {
                nearest = symbol;
            }
        }
        String where = nearest == null ? "0x" + Long.toHexString(address)
                : nearest.name() + "+0x" + Long.toHexString(address - nearest.address());
        return where + " in set " + name;
    }

    /** {@code address}, when {@code [address, address + length)} is all in one of the set's groups. */
    static long check(Slab slab, String name, long address, long length) {
        inJvmView(slab, name, address, length);
        return address;
    }

    /**
     * Where the JVM reads the bytes the code sees at {@code address}: the address itself in process,
     * its place in the JVM's view of a child-process executor's memory.
     */
    static long inJvmView(Slab slab, String name, long address, long length) {
        for (PermissionGroup group : PermissionGroup.values()) {
            long start = slab.address(group);
            if (length >= 0 && address >= start && address + length <= start + slab.length(group)) {
                return slab.viewAddress(group) + (address - start);
            }
        }
        throw new LinkException(Location.file(name), "0x" + Long.toHexString(address) + "+" + length
                + " is not in the set's memory");
    }
}
