package dev.jdyld.memory;

import dev.jdyld.memory.libc.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The memory of one load set: one range per {@link PermissionGroup}, all in one window and so
 * within ±2 GiB of each other. A group is whole pages of the set's own, or, for a small set,
 * bytes of a page it shares with other sets' groups of the same final permission (see
 * {@link MemoryManager}). While the set is linked every group is writable and none is executable;
 * {@link #finalizePermissions()} gives each its final protection (one {@code mprotect} for the
 * code, one for read-only data and RELRO together; none for a shared page, which has it from the
 * start), after which the segments handed out are read-only views, so a stray write from Java
 * fails with an exception instead of a fault.
 *
 * <p>In dual-mapping mode the segments of code and read-only data are, until finalization, a
 * separate read-write view of the same memory, or, for a group packed into a shared page, a buffer
 * of the slab's arena that finalization writes into the memory file ({@code pwrite}); the addresses
 * returned by {@link #address(PermissionGroup)} are always the final (executable or read-only) ones.
 *
 * <p>Segments belong to the slab's arena, or to the arena given to
 * {@link MemoryManager#allocate(SlabRequest, Arena)}: after {@link #close()} (or that arena's) they
 * can no longer be used.
 */
public final class Slab implements AutoCloseable {
    private static final int[] CHUNK_OF_GROUP = {0, 1, 1, 2};

    private final MemoryManager owner;
    private final Window window;
    private final Chunk[] chunks;
    private final long[] groupAddress;
    private final long[] groupLength;
    private final MemorySegment[] groupSegment = new MemorySegment[PermissionGroup.ALL.length];
    private final long usedBytes;
    private final Arena arena;
    /** Whether the arena is the slab's own, closed with it; otherwise its owner closes it. */
    private final boolean ownsArena;
    private boolean finalized;
    private boolean closed;

    Slab(MemoryManager owner, Window window, Chunk[] chunks, long[] groupAddress, long[] groupLength, long usedBytes,
         Arena arena, boolean ownsArena) {
        this.owner = owner;
        this.ownsArena = ownsArena;
        this.arena = arena;
        this.window = window;
        this.chunks = chunks;
        this.groupAddress = groupAddress;
        this.groupLength = groupLength;
        this.usedBytes = usedBytes;
        for (Chunk chunk : chunks) {
            if (chunk.packed && window.memfd >= 0 && window.localView == 0 && chunk.kind != Chunk.DATA) {
                // Dual mapping: the slot is written here and then into the memory file at once, so
                // no writable view of a page other sets execute from is ever mapped.
                chunk.staging = arena.allocate(chunk.length, Chunk.SLOT); // zeroed, as the slot must read
                chunk.writable = chunk.staging.address();
            } else if (chunk.packed && !chunk.freshPage) {
                // A slot other sets used before: bytes the set does not write (BSS) must read as zero.
                segmentAt(chunk.writable, chunk.length).fill((byte) 0);
            }
        }
        for (int g = 0; g < groupSegment.length; g++) {
            Chunk chunk = chunks[CHUNK_OF_GROUP[g]];
            groupSegment[g] = segmentAt(chunk.writable + (groupAddress[g] - chunk.address), groupLength[g]);
        }
    }

    @SuppressWarnings("restricted")
    private MemorySegment segmentAt(long address, long length) {
        return length == 0
                ? MemorySegment.NULL.reinterpret(0, arena, null)
                : MemorySegment.ofAddress(address).reinterpret(length, arena, null);
    }

    /**
     * Start address of a group, where the code will run and data be read.
     *
     * @param group the permission group
     * @return its first address
     */
    public long address(PermissionGroup group) {
        return groupAddress[group.ordinal()];
    }

    /**
     * Where this process reads a group's bytes: its {@linkplain #address address}, or, when the set
     * lives in another process, the same bytes in this process's view of that memory.
     *
     * @param group the permission group
     * @return the address of its first byte here
     */
    public long viewAddress(PermissionGroup group) {
        return window.local(groupAddress[group.ordinal()]);
    }

    /**
     * Length of a group: its requested size rounded up to the page size, or, for a group packed
     * into a shared page, exactly its requested size.
     *
     * @param group the permission group
     * @return its length in bytes
     */
    public long length(PermissionGroup group) {
        return groupLength[group.ordinal()];
    }

    /**
     * The group as a segment of exactly {@link #length(PermissionGroup)} bytes: writable
     * before {@link #finalizePermissions()}, read-only (except {@code DATA}) after.
     *
     * @param group the permission group
     * @return a segment of exactly its bytes
     * @throws IllegalStateException if the slab is closed
     */
    public MemorySegment segment(PermissionGroup group) {
        checkOpen();
        return groupSegment[group.ordinal()];
    }

    /**
     * Base address of the window the slab was carved from.
     *
     * @return the window's first address
     */
    public long windowBase() {
        return window.base;
    }

    /**
     * Whether code and read-only data are written through a second, writable view of a memory file.
     *
     * @return true in dual-mapping mode
     */
    public boolean isDualMapped() {
        return window.memfd >= 0;
    }

    /**
     * Whether {@link #finalizePermissions()} has run.
     *
     * @return true once the groups have their final protection
     */
    public boolean isFinalized() {
        return finalized;
    }

    /**
     * Gives every group its final protection; idempotent. Never makes a page writable and executable.
     *
     * @throws MemoryException       if {@code mprotect} or {@code munmap} fails
     * @throws IllegalStateException if the slab is closed
     */
    public void finalizePermissions() {
        checkOpen();
        if (finalized) {
            return;
        }
        protectChunk(chunks[Chunk.TEXT]);
        protectChunk(chunks[Chunk.READ]);
        for (PermissionGroup group : new PermissionGroup[] {PermissionGroup.TEXT, PermissionGroup.RODATA,
                PermissionGroup.RELRO}) {
            int g = group.ordinal();
            groupSegment[g] = segmentAt(window.local(groupAddress[g]), groupLength[g]).asReadOnly();
        }
        finalized = true;
    }

    private void protectChunk(Chunk chunk) {
        if (chunk.length == 0) {
            return;
        }
        if (chunk.staging != null) {
            if (!chunk.staging.scope().isAlive()) {
                throw new IllegalStateException("the arena the slab was written through is closed");
            }
            MemoryCalls.pwriteFully(window.memfd, chunk.staging.address(), chunk.length, chunk.address - window.base);
            chunk.staging = null;
            chunk.writable = window.local(chunk.address);
        }
        if (chunk.view != 0) {
            // Dual mapping: drop the write view first, so that pages of the set's own have no
            // writable view once executable; a shared page's other views belong to loads in progress.
            MemoryCalls.munmap(chunk.view, chunk.viewLength);
            chunk.view = 0;
            chunk.writable = window.local(chunk.address);
        }
        if (!chunk.packed) {
            owner.addressSpace().protect(chunk.address, chunk.length, chunk.finalProtection()); // a packed chunk's page has it already
        }
    }

    /** Returns the slab's pages to its window and their memory to the kernel. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (ownsArena) {
            arena.close();
        }
        for (Chunk chunk : chunks) {
            if (chunk.view != 0) {
                MemoryCalls.munmap(chunk.view, chunk.viewLength); // closed before it was finalized
                chunk.view = 0;
            }
        }
        owner.release(window, chunks, usedBytes);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("slab at 0x" + Long.toHexString(groupAddress[0]) + " is closed");
        }
    }
}
