package dev.jdyld.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The memory of one load set: one range per {@link PermissionGroup}, all within ±2 GiB of each
 * other. While the set is being linked every group is read-write (never executable);
 * {@link #finalizePermissions()} switches each group to its final protection with one
 * {@code mprotect}, after which the segments handed out are read-only views, so a stray write
 * from Java fails with an exception instead of a fault.
 *
 * <p>Segments belong to the slab's arena: after {@link #close()} they can no longer be used.
 */
public final class Slab implements AutoCloseable {
    private final MemoryManager owner;
    private final long mappingAddress;
    private final long mappingLength;
    private final long[] groupAddress = new long[PermissionGroup.ALL.length];
    private final long[] groupLength = new long[PermissionGroup.ALL.length];
    private final MemorySegment[] groupSegment = new MemorySegment[PermissionGroup.ALL.length];
    private final Arena arena = Arena.ofShared();
    private boolean finalized;
    private boolean closed;

    @SuppressWarnings("restricted")
    Slab(MemoryManager owner, long mappingAddress, long mappingLength, long[] addresses, long[] lengths) {
        this.owner = owner;
        this.mappingAddress = mappingAddress;
        this.mappingLength = mappingLength;
        for (int g = 0; g < groupAddress.length; g++) {
            groupAddress[g] = addresses[g];
            groupLength[g] = lengths[g];
            groupSegment[g] = lengths[g] == 0
                    ? MemorySegment.NULL.reinterpret(0, arena, null)
                    : MemorySegment.ofAddress(addresses[g]).reinterpret(lengths[g], arena, null);
        }
    }

    /** Start address of a group's pages (meaningful only when its length is non-zero). */
    public long address(PermissionGroup group) {
        return groupAddress[group.ordinal()];
    }

    /** Length of a group's pages: its requested size rounded up to the page size. */
    public long length(PermissionGroup group) {
        return groupLength[group.ordinal()];
    }

    /** The group's pages as a segment of exactly {@link #length(PermissionGroup)} bytes. */
    public MemorySegment segment(PermissionGroup group) {
        checkOpen();
        return groupSegment[group.ordinal()];
    }

    /** Lowest and highest+1 address of all groups: the span every 32-bit displacement must cover. */
    public long spanStart() {
        return mappingAddress;
    }

    public long spanEnd() {
        return mappingAddress + mappingLength;
    }

    public boolean isFinalized() {
        return finalized;
    }

    /** Gives every group its final protection; idempotent. */
    public void finalizePermissions() {
        checkOpen();
        if (finalized) {
            return;
        }
        for (PermissionGroup group : PermissionGroup.ALL) {
            int g = group.ordinal();
            if (groupLength[g] != 0 && group.finalProtection() != Protection.READ_WRITE) {
                Libc.mprotect(groupAddress[g], groupLength[g], group.finalProtection().bits);
                groupSegment[g] = groupSegment[g].asReadOnly();
            }
        }
        finalized = true;
    }

    /** Unmaps the slab; its segments become unusable. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        arena.close();
        owner.release(mappingAddress, mappingLength);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("slab at 0x" + Long.toHexString(mappingAddress) + " is closed");
        }
    }
}
