package dev.jdyld.memory;

import dev.jdyld.memory.libc.Libc;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Hands out {@link Slab}s for load sets from large reserved windows of address space.
 *
 * <p>A window is reserved {@code PROT_NONE} (no memory committed) and divided into a code
 * region, a read-only region and a writable region. A set takes page ranges from the three
 * regions of one window, so its code, GOT and data are within ±2 GiB of each other by
 * construction, and consecutive sets extend the same kernel mappings instead of adding three
 * new ones each. Windows are placed, with {@code MAP_FIXED_NOREPLACE} at a free range read from
 * {@code /proc/self/maps}, where the set's relocations need them: below 2 GiB for 32-bit
 * absolute addresses, within ±2 GiB of the host symbols reached with 32-bit PC-relative
 * references, and otherwise next to the C library, which keeps sets near each other and near
 * what they call.
 *
 * <p>A chunk smaller than a page is packed: it takes a slot of a page that other sets' chunks of
 * the same final permission share, so a set of a few functions costs bytes, not a page per
 * permission. A shared page gets its final protection when its first slot is taken and keeps it
 * until its last slot is given back, when it returns to {@code PROT_NONE} and its memory to the
 * kernel: no page's protection changes while a set on it lives. So a chunk is packed only where
 * it can be written without making its page writable: writable data always, code and read-only
 * data with {@linkplain Options#dualMapping dual mapping}, where the linker writes through a view
 * of its own while the executable view of the page, which other sets run from, stays {@code r-x}.
 * Without dual mapping, code and read-only data keep whole pages, made writable (never
 * executable) while the set is linked and given their final protection after; packing them
 * would mean making a page that other sets' code runs from writable.
 *
 * <p>Closing a slab returns its own pages to {@code PROT_NONE} and their memory to the kernel; the
 * ranges are reused by later sets. System calls are made outside the manager's lock: only
 * choosing and giving back ranges take it.
 *
 * <p>The sets may live in another process ({@link AddressSpace}): every window is then a memory file
 * it maps at the chosen addresses, with final permissions, and this one maps once, writable.
 */
public final class MemoryManager implements AutoCloseable {
    static final long LOW_LIMIT = 1L << 31;

    /**
     * How windows are mapped.
     *
     * @param dualMapping back windows with a memory file mapped twice: code and read-only data are
     *                    written through a separate read-write view and the executable view is
     *                    never writable, for systems that forbid making written pages executable;
     *                    it also lets small sets' code and read-only data share pages
     * @param hugePages   align each set's code to 2 MiB and advise transparent huge pages for it
     * @param windowSize  bytes reserved per window (split 1:1:2 between code, read-only, writable)
     */
    public record Options(boolean dualMapping, boolean hugePages, long windowSize) {
        /** Anonymous memory without dual mapping, no huge pages, 512 MiB per window. */
        public static final Options DEFAULT = new Options(false, false, 512L << 20);

        /**
         * Checks the window size: from 8 MiB to {@link Placement#MAX_REACH}.
         *
         * @throws IllegalArgumentException if the window size is outside that range
         */
        public Options {
            if (windowSize < (8L << 20) || windowSize > Placement.MAX_REACH) {
                throw new IllegalArgumentException("window size " + windowSize + " outside 8 MiB..~2 GiB");
            }
        }

        /**
         * These options with dual mapping on or off.
         *
         * @param dual whether to back windows with a memory file mapped twice
         * @return the changed options
         */
        public Options withDualMapping(boolean dual) {
            return new Options(dual, hugePages, windowSize);
        }

        /**
         * These options with huge pages on or off.
         *
         * @param huge whether to align code to 2 MiB and advise transparent huge pages
         * @return the changed options
         */
        public Options withHugePages(boolean huge) {
            return new Options(dualMapping, huge, windowSize);
        }
    }

    private final long pageSize;
    private final Options options;
    private final AddressSpace space;
    /** Guarded by this manager's lock, as are the windows' regions, shared pages and counts. */
    private final List<Window> windows = new ArrayList<>();
    private boolean closed;

    /**
     * A memory manager with {@link Options#DEFAULT}.
     */
    public MemoryManager() {
        this(Options.DEFAULT);
    }

    /**
     * A memory manager with the given options.
     *
     * @param options how to map windows
     */
    public MemoryManager(Options options) {
        this(Libc.pageSize(), options, AddressSpace.self());
    }

    /**
     * A memory manager that places sets in {@code space}; a remote space implies dual mapping.
     *
     * @param options how to map windows
     * @param space   the process the sets live in
     */
    public MemoryManager(Options options, AddressSpace space) {
        this(Libc.pageSize(), space.isRemote() ? options.withDualMapping(true) : options, space);
    }

    /** With a page size other than the system's (a multiple of it), to test layout for 16 and 64 KiB pages. */
    MemoryManager(long pageSize, Options options, AddressSpace space) {
        if (pageSize % Libc.pageSize() != 0 || Long.bitCount(pageSize) != 1) {
            throw new IllegalArgumentException("page size " + pageSize + " is not a power-of-two multiple of " + Libc.pageSize());
        }
        this.pageSize = pageSize;
        this.options = options;
        this.space = space;
    }

    /**
     * The kernel's page size, the unit of every permission group that is not packed.
     *
     * @return bytes per page
     */
    public long pageSize() {
        return pageSize;
    }

    /**
     * The options this manager maps with.
     *
     * @return the options
     */
    public Options options() {
        return options;
    }

    /**
     * Maps memory for a set: every group writable, none executable, until
     * {@link Slab#finalizePermissions()} (a packed group is written through a view whose
     * protection never changes, see the class comment). The slab's segments belong to a shared
     * arena of its own, closed with it.
     *
     * @param request sizes and alignments per permission group, and where the slab may go
     * @return the slab, every group writable until {@link Slab#finalizePermissions()}
     * @throws MemoryException       if the set does not fit within its reach, or no window that satisfies
     *                               the placement can be reserved or mapped
     * @throws IllegalStateException if the manager is closed
     */
    public Slab allocate(SlabRequest request) {
        return allocate(request, null, true);
    }

    /**
     * As {@link #allocate(SlabRequest)}, with the slab's segments in the caller's arena instead of
     * a shared arena of the slab's own. Closing a shared arena makes every JVM thread stop at a
     * handshake, tens of microseconds, which dominates loading and closing a small set; a loader
     * that writes the slab from one thread passes a confined arena and closes it when done.
     *
     * @param request sizes and alignments per permission group, and where the slab may go
     * @param arena   the arena the segments of {@link Slab#segment} belong to; the slab never closes it
     * @return the slab, every group writable until {@link Slab#finalizePermissions()}
     * @throws MemoryException       as {@link #allocate(SlabRequest)}; {@link IllegalStateException} if closed
     */
    public Slab allocate(SlabRequest request, Arena arena) {
        return allocate(request, Objects.requireNonNull(arena, "arena"), false);
    }

    private Slab allocate(SlabRequest request, Arena arena, boolean ownArena) {
        Chunk.Plan need = Chunk.plan(request, pageSize, options);
        Window window = null;
        Chunk[] chunks = null;
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("memory manager is closed");
            }
            for (Window candidate : windows) {
                if (candidate.satisfies(request.placement())) {
                    chunks = take(candidate, need);
                    if (chunks != null) {
                        window = candidate;
                        break;
                    }
                }
            }
            if (window == null) {
                window = Window.reserve(request.placement(), need.size(), need.alignment(), options, space, pageSize);
                windows.add(window);
                chunks = take(window, need);
                if (chunks == null) {
                    throw new MemoryException("internal error: a new window does not hold the set it was sized for");
                }
            }
            window.slabs++;
            window.usedBytes += need.used();
        }
        map(window, chunks, need.used());
        synchronized (this) {
            for (Chunk chunk : chunks) {
                if (chunk.freshPage) {
                    window.shared[chunk.kind].add(chunk.address, chunk.length); // committed: others may share it now
                }
            }
        }
        long[] groupAddress = {chunks[0].address, chunks[1].address, chunks[1].address + need.relroOffset(),
                chunks[2].address};
        return new Slab(this, window, chunks, groupAddress, need.groupLength(), need.used(),
                ownArena ? Arena.ofShared() : arena, ownArena);
    }

    /** Takes the chunks' ranges from the window's regions and shared pages; null if one does not fit. Under the lock. */
    private Chunk[] take(Window window, Chunk.Plan need) {
        Chunk[] chunks = new Chunk[Chunk.COUNT];
        for (int c = 0; c < Chunk.COUNT; c++) {
            long size = need.size()[c];
            long address = size == 0 ? window.regions[c].start : -1;
            boolean fresh = false;
            if (size > 0 && need.packed()[c]) {
                address = window.shared[c].allocate(size, need.alignment()[c]);
                if (address < 0) {
                    address = window.regions[c].allocate(pageSize, pageSize);
                    fresh = true;
                }
            } else if (size > 0) {
                address = window.regions[c].allocate(size, need.alignment()[c]);
            }
            if (address < 0) {
                for (int taken = 0; taken < c; taken++) {
                    untake(window, chunks[taken]);
                }
                return null;
            }
            chunks[c] = new Chunk(c, address, size, size > 0 && need.packed()[c], fresh);
        }
        return chunks;
    }

    /**
     * Returns a chunk's range or slot, just taken in the same hold of the lock, to where it was
     * taken from: a shared page it was on still has its other slots.
     */
    private void untake(Window window, Chunk chunk) {
        if (chunk.length == 0) {
            return;
        }
        if (chunk.freshPage) {
            window.regions[chunk.kind].release(chunk.address, pageSize);
        } else if (chunk.packed) {
            window.shared[chunk.kind].release(chunk.address, chunk.length);
        } else {
            window.regions[chunk.kind].release(chunk.address, chunk.length);
        }
    }

    /**
     * Outside the lock, on ranges only this slab holds: commits fresh pages with their final
     * protection and own ranges read-write, and maps the write views of dual mapping. If a call
     * fails, undoes what was done and gives the ranges back before the exception leaves.
     */
    private void map(Window window, Chunk[] chunks, long used) {
        try {
            for (Chunk chunk : chunks) {
                if (chunk.length == 0) {
                    continue;
                }
                boolean viaView = window.memfd >= 0 && chunk.kind != Chunk.DATA;
                chunk.writable = window.local(chunk.address);
                if (chunk.packed) {
                    if (chunk.freshPage) {
                        space.protect(chunk.address, pageSize, chunk.finalProtection());
                    }
                    // With dual mapping the slab writes the chunk into a buffer of its own, and
                    // finalization writes that to the memory file: no view to map and unmap.
                } else if (window.localView != 0 && chunk.kind == Chunk.DATA) {
                    // Another process's memory, written through this one's view of the window; there,
                    // code and read-only pages stay PROT_NONE until finalization, data is read-write now.
                    space.protect(chunk.address, chunk.length, Libc.PROT_READ | Libc.PROT_WRITE);
                } else if (window.localView != 0) {
                    continue;
                } else if (viaView) {
                    // The executable/read view stays PROT_NONE; the linker writes through an alias.
                    chunk.view = MemoryCalls.mmap(0, chunk.length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED,
                            window.memfd, chunk.address - window.base);
                    chunk.viewLength = chunk.length;
                    chunk.writable = chunk.view;
                } else {
                    MemoryCalls.mprotect(chunk.address, chunk.length, Libc.PROT_READ | Libc.PROT_WRITE);
                }
                if (options.hugePages() && chunk.kind == Chunk.TEXT && !chunk.packed && !space.isRemote()) {
                    MemoryCalls.madvise(chunk.address, chunk.length, Libc.MADV_HUGEPAGE);
                }
            }
        } catch (MemoryException e) {
            for (Chunk chunk : chunks) {
                if (chunk.view != 0) {
                    MemoryCalls.munmap(chunk.view, chunk.viewLength);
                    chunk.view = 0;
                }
            }
            giveBack(window, chunks, used, false);
            throw e;
        }
    }

    /** Called by {@link Slab#close()}: the write views are unmapped already. */
    void release(Window window, Chunk[] chunks, long used) {
        giveBack(window, chunks, used, true);
    }

    /**
     * Gives back a slab's ranges: its own pages (and, before {@code published}, the fresh pages it
     * took) decommitted, its slots freed, and the shared pages that emptied decommitted; the
     * system calls outside the lock, on pages no one else can take meanwhile.
     */
    private void giveBack(Window window, Chunk[] chunks, long used, boolean published) {
        for (Chunk chunk : chunks) {
            if (chunk.length > 0 && !(chunk.packed && (published || !chunk.freshPage))) {
                decommit(window, chunk.address, chunk.packed ? pageSize : chunk.length);
            }
        }
        long[] emptied = new long[Chunk.COUNT];
        boolean anyEmptied = false;
        synchronized (this) {
            for (Chunk chunk : chunks) {
                if (chunk.length == 0) {
                    continue;
                }
                if (!chunk.packed) {
                    window.regions[chunk.kind].release(chunk.address, chunk.length);
                } else if (!published && chunk.freshPage) {
                    window.regions[chunk.kind].release(chunk.address, pageSize);
                } else if (window.shared[chunk.kind].release(chunk.address, chunk.length)) {
                    emptied[chunk.kind] = chunk.page(pageSize); // left the shared pages: no one can take a slot of it
                    anyEmptied = true;
                }
            }
            if (!anyEmptied) {
                forget(window, used);
                return;
            }
        }
        for (long page : emptied) {
            if (page != 0) {
                decommit(window, page, pageSize);
            }
        }
        synchronized (this) {
            for (int c = 0; c < Chunk.COUNT; c++) {
                if (emptied[c] != 0) {
                    window.regions[c].release(emptied[c], pageSize);
                }
            }
            forget(window, used);
        }
    }

    /** The slab is gone from the window; an empty window other than the first gives back its address space. */
    private void forget(Window window, long used) {
        window.slabs--;
        window.usedBytes -= used;
        if (window.slabs == 0 && windows.indexOf(window) > 0) {
            unmap(window); // keep the first window for reuse, give back the others' address space
        }
    }

    /** Gives a range's memory back to the kernel and makes it inaccessible. */
    private void decommit(Window window, long address, long length) {
        if (window.memfd >= 0) {
            MemoryCalls.punchHole(window.memfd, address - window.base, length);
        } else {
            MemoryCalls.madvise(address, length, Libc.MADV_DONTNEED);
        }
        space.protect(address, length, Libc.PROT_NONE);
    }

    private void unmap(Window window) {
        windows.remove(window);
        space.unmap(window.base, window.size);
        if (window.localView != 0) {
            MemoryCalls.munmap(window.localView, window.size);
        }
        if (window.memfd >= 0) {
            MemoryCalls.close(window.memfd);
        }
    }

    /**
     * Gives back every window's address space. Refused (with {@link IllegalStateException}) while
     * any slab is open: code and data of live sets are in it, so close their sets first (closing
     * the linker that owns this manager does). Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        int open = 0;
        for (Window window : windows) {
            open += window.slabs;
        }
        if (open > 0) {
            throw new IllegalStateException(open + " slab" + (open == 1 ? " is" : "s are")
                    + " still open in this memory manager: close the sets living in it first");
        }
        closed = true;
        for (Window window : List.copyOf(windows)) {
            unmap(window);
        }
    }

    /**
     * Per-window accounting: what is reserved, committed, used and wasted. A page that packed
     * chunks share counts once, as committed, and their bytes as used.
     *
     * @return one entry per window, in address order
     */
    public synchronized List<WindowUsage> usage() {
        List<WindowUsage> result = new ArrayList<>();
        for (Window window : windows) {
            long committed = window.committedBytes();
            result.add(new WindowUsage(window.base, window.size, committed, window.usedBytes,
                    committed - window.usedBytes, window.slabs, window.memfd >= 0,
                    space.countMappings(window.base, window.end())));
        }
        return result;
    }

    /**
     * The process the sets live in.
     *
     * @return this process, or an executor's
     */
    public AddressSpace addressSpace() {
        return space;
    }
}
