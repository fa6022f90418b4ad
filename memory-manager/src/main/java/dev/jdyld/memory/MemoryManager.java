package dev.jdyld.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

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
 * <p>Closing a slab returns its pages to {@code PROT_NONE} and their memory to the kernel; the
 * ranges are reused by later sets.
 */
public final class MemoryManager implements AutoCloseable {
    static final long LOW_LIMIT = 1L << 31;
    private static final long WINDOW_ALIGNMENT = 2L << 20;
    private static final long HUGE_PAGE = 2L << 20;

    /**
     * How windows are mapped.
     *
     * @param dualMapping back windows with a memory file mapped twice: code and read-only data are
     *                    written through a separate read-write view and the executable view is
     *                    never writable, for systems that forbid making written pages executable
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
    private final long anchor;
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
        this(Libc.pageSize(), options);
    }

    /** With a page size other than the system's (a multiple of it), to test layout for 16 and 64 KiB pages. */
    MemoryManager(long pageSize, Options options) {
        if (pageSize % Libc.pageSize() != 0 || Long.bitCount(pageSize) != 1) {
            throw new IllegalArgumentException("page size " + pageSize + " is not a power-of-two multiple of "
                    + Libc.pageSize());
        }
        this.pageSize = pageSize;
        this.options = options;
        this.anchor = Libc.hostAnchor();
    }

    /**
     * The kernel's page size, the unit of every permission group.
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
     * Maps memory for a set: all groups read-write, none executable, until {@link Slab#finalizePermissions()}.
     * The slab's segments belong to a shared arena of its own, closed with it.
     *
     * @param request sizes and alignments per permission group, and where the slab may go
     * @return the slab, every group writable until {@link Slab#finalizePermissions()}
     * @throws MemoryException       if the set does not fit within its reach, or no window that satisfies
     *                               the placement can be reserved or mapped
     * @throws IllegalStateException if the manager is closed
     */
    public Slab allocate(SlabRequest request) {
        return allocateIn(request, null);
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
     * @throws MemoryException       if the set does not fit within its reach, or no window that satisfies
     *                               the placement can be reserved or mapped
     * @throws IllegalStateException if the manager is closed
     */
    public Slab allocate(SlabRequest request, Arena arena) {
        return allocateIn(request, java.util.Objects.requireNonNull(arena, "arena"));
    }

    private synchronized Slab allocateIn(SlabRequest request, Arena arena) {
        if (closed) {
            throw new IllegalStateException("memory manager is closed");
        }
        long text = alignUp(request.size(PermissionGroup.TEXT), pageSize);
        long rodata = alignUp(request.size(PermissionGroup.RODATA), pageSize);
        long relro = alignUp(request.size(PermissionGroup.RELRO), pageSize);
        long data = alignUp(request.size(PermissionGroup.DATA), pageSize);
        long textAlign = Math.max(pageSize, request.alignment(PermissionGroup.TEXT));
        if (options.hugePages()) {
            textAlign = Math.max(textAlign, HUGE_PAGE);
            text = alignUp(text, HUGE_PAGE);
        }
        long relroAlign = Math.max(pageSize, request.alignment(PermissionGroup.RELRO));
        long readAlign = Math.max(Math.max(pageSize, request.alignment(PermissionGroup.RODATA)), relroAlign);
        long relroOffset = alignUp(rodata, relroAlign);
        long read = relroOffset + relro;
        long dataAlign = Math.max(pageSize, request.alignment(PermissionGroup.DATA));
        long used = 0;
        for (PermissionGroup group : PermissionGroup.ALL) {
            used += request.size(group);
        }
        Chunks need = new Chunks(text, textAlign, read, readAlign, data, dataAlign, relroOffset, rodata, relro, used);

        for (Window window : windows) {
            if (window.satisfies(request.placement())) {
                Slab slab = carve(window, need, arena);
                if (slab != null) {
                    return slab;
                }
            }
        }
        Window window = reserve(request.placement(), need);
        Slab slab = carve(window, need, arena);
        if (slab == null) {
            throw new MemoryException("internal error: a new window does not hold the set it was sized for");
        }
        return slab;
    }

    /** Page-rounded sizes and alignments of a set's three chunks, and where RELRO sits in the read chunk. */
    private record Chunks(long text, long textAlign, long read, long readAlign, long data, long dataAlign,
                          long relroOffset, long rodata, long relro, long used) {}

    private Slab carve(Window window, Chunks need, Arena arena) {
        long text = need.text() == 0 ? window.text.start : window.text.allocate(need.text(), need.textAlign());
        if (text < 0) {
            return null;
        }
        long read = need.read() == 0 ? window.read.start : window.read.allocate(need.read(), need.readAlign());
        if (read < 0) {
            releaseRange(window, text, need.text(), false);
            return null;
        }
        long data = need.data() == 0 ? window.data.start : window.data.allocate(need.data(), need.dataAlign());
        if (data < 0) {
            releaseRange(window, text, need.text(), false);
            releaseRange(window, read, need.read(), false);
            return null;
        }
        long[] chunkAddress = {text, read, data};
        long[] chunkLength = {need.text(), need.read(), need.data()};
        long[] writable = new long[3];
        try {
            for (int c = 0; c < 3; c++) {
                if (chunkLength[c] == 0) {
                    continue;
                }
                if (window.memfd >= 0 && c != 2) {
                    // The executable/read view stays PROT_NONE; the linker writes through an alias.
                    writable[c] = Libc.mmap(0, chunkLength[c], Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED,
                            window.memfd, chunkAddress[c] - window.base);
                } else {
                    Libc.mprotect(chunkAddress[c], chunkLength[c], Libc.PROT_READ | Libc.PROT_WRITE);
                    writable[c] = chunkAddress[c];
                }
            }
            if (options.hugePages() && need.text() > 0) {
                Libc.madvise(text, need.text(), Libc.MADV_HUGEPAGE);
            }
        } catch (MemoryException e) {
            for (int c = 0; c < 3; c++) {
                if (chunkLength[c] != 0) {
                    if (writable[c] != 0 && writable[c] != chunkAddress[c]) {
                        Libc.munmap(writable[c], chunkLength[c]);
                    }
                    releaseRange(window, chunkAddress[c], chunkLength[c], true);
                }
            }
            throw e;
        }
        window.slabs++;
        window.usedBytes += need.used();
        long[] groupAddress = {text, read, read + need.relroOffset(), data};
        long[] groupLength = {need.text(), need.rodata(), need.relro(), need.data()};
        return new Slab(this, window, chunkAddress, chunkLength, writable, groupAddress, groupLength, need.used(), arena);
    }

    /** Called by {@link Slab#close()}. */
    synchronized void release(Window window, long[] chunkAddress, long[] chunkLength, long[] writable, long used) {
        for (int c = 0; c < chunkAddress.length; c++) {
            if (chunkLength[c] == 0) {
                continue;
            }
            if (writable[c] != chunkAddress[c]) {
                Libc.munmap(writable[c], chunkLength[c]);
            }
            releaseRange(window, chunkAddress[c], chunkLength[c], true);
        }
        window.slabs--;
        window.usedBytes -= used;
        if (window.slabs == 0 && windows.indexOf(window) > 0) {
            unmap(window); // keep the first window for reuse, give back the others' address space
        }
    }

    private void unmap(Window window) {
        windows.remove(window);
        Libc.munmap(window.base, window.size);
        if (window.memfd >= 0) {
            Libc.close(window.memfd);
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

    private void releaseRange(Window window, long address, long length, boolean mapped) {
        if (length == 0) {
            return;
        }
        if (mapped) {
            if (window.memfd >= 0) {
                Libc.punchHole(window.memfd, address - window.base, length);
            } else {
                Libc.madvise(address, length, Libc.MADV_DONTNEED);
            }
            Libc.mprotect(address, length, Libc.PROT_NONE);
        }
        window.regionOf(address).release(address, length);
    }

    private Window reserve(Placement placement, Chunks need) {
        long textSize = Math.max(alignUp(need.text() + need.textAlign(), WINDOW_ALIGNMENT), options.windowSize() / 4);
        long readSize = Math.max(alignUp(need.read() + need.readAlign(), WINDOW_ALIGNMENT), options.windowSize() / 4);
        long dataSize = Math.max(alignUp(need.data() + need.dataAlign(), WINDOW_ALIGNMENT), options.windowSize() / 2);
        if (placement.below2GiB()) {
            // Low address space is scarce: size low windows to the set, with modest room to grow.
            textSize = alignUp(need.text() + need.textAlign(), WINDOW_ALIGNMENT) + (16L << 20);
            readSize = alignUp(need.read() + need.readAlign(), WINDOW_ALIGNMENT) + (16L << 20);
            dataSize = alignUp(need.data() + need.dataAlign(), WINDOW_ALIGNMENT) + (32L << 20);
        }
        long size = textSize + readSize + dataSize;
        if (size > placement.reach()) {
            // A short-reach architecture: a window just the size of the set.
            textSize = alignUp(need.text() + need.textAlign(), WINDOW_ALIGNMENT);
            readSize = alignUp(need.read() + need.readAlign(), WINDOW_ALIGNMENT);
            dataSize = alignUp(need.data() + need.dataAlign(), WINDOW_ALIGNMENT);
            size = textSize + readSize + dataSize;
        }
        if (size > placement.reach()) {
            throw new MemoryException("set needs " + (need.text() + need.read() + need.data())
                    + " bytes, more than fit within its reach of " + (placement.reach() >> 20) + " MiB");
        }
        long minBase = 0x10000;
        long maxBase = 0x7fff_0000_0000L - size;
        long target = anchor - size;
        if (placement.below2GiB()) {
            maxBase = LOW_LIMIT - size;
            target = maxBase;
        }
        if (placement.hasNearConstraint()) {
            minBase = Math.max(minBase, placement.nearHigh() - placement.reach());
            maxBase = Math.min(maxBase, placement.nearLow() + placement.reach() - size);
            target = (placement.nearLow() / 2 + placement.nearHigh() / 2) - size;
        }
        if (minBase > maxBase) {
            throw new MemoryException(placementError(placement, size));
        }
        int flags = Libc.MAP_NORESERVE | Libc.MAP_FIXED_NOREPLACE;
        int fd = -1;
        if (options.dualMapping()) {
            fd = Libc.memfdCreate("jdyld-window", size);
            flags |= Libc.MAP_SHARED;
        } else {
            flags |= Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS;
        }
        try {
            for (int attempt = 0; attempt < 8; attempt++) {
                long base = MemoryMaps.findFree(size, WINDOW_ALIGNMENT, minBase, maxBase, target);
                if (base < 0) {
                    break;
                }
                long result = Libc.tryMmap(base, size, Libc.PROT_NONE, flags, fd, 0);
                if (result == base) {
                    if (fd < 0) {
                        shareAnonymousMemoryObject(base);
                    }
                    Window window = new Window(base, textSize, readSize, dataSize, fd);
                    windows.add(window);
                    return window;
                }
                if (result > 0) {
                    Libc.munmap(result, size); // a kernel without MAP_FIXED_NOREPLACE put it elsewhere
                } else if (result != -Libc.EEXIST) {
                    throw new MemoryException("mmap", base, size, (int) -result, Libc.strerror((int) -result));
                }
                // Another thread mapped the range since /proc/self/maps was read: look again.
            }
        } catch (RuntimeException e) {
            if (fd >= 0) {
                Libc.close(fd);
            }
            throw e;
        }
        if (fd >= 0) {
            Libc.close(fd);
        }
        throw new MemoryException(placementError(placement, size));
    }

    private static String placementError(Placement placement, long size) {
        StringBuilder message = new StringBuilder("no free range of ").append(size >> 20).append(" MiB");
        if (placement.below2GiB()) {
            message.append(" below 2 GiB (the set uses 32-bit absolute addresses)");
        }
        if (placement.hasNearConstraint()) {
            message.append(placement.below2GiB() ? " and" : "").append(" within reach (").append(placement.reach() >> 20).append(" MiB) of host symbols at 0x")
                    .append(Long.toHexString(placement.nearLow())).append("..0x")
                    .append(Long.toHexString(placement.nearHigh()))
                    .append(" (the set reaches them with 32-bit PC-relative references)");
        }
        return message.toString();
    }

    /**
     * Gives the fresh window its anonymous memory object now, while it is one mapping, so that
     * every range later split off it shares that object; the kernel merges adjacent ranges of
     * equal protection only when they do, and that merging is what keeps a thousand sets to a
     * handful of mappings.
     */
    @SuppressWarnings("restricted")
    private void shareAnonymousMemoryObject(long base) {
        long page = Libc.pageSize();
        Libc.mprotect(base, page, Libc.PROT_READ | Libc.PROT_WRITE);
        MemorySegment.ofAddress(base).reinterpret(1).set(ValueLayout.JAVA_BYTE, 0, (byte) 0);
        Libc.madvise(base, page, Libc.MADV_DONTNEED);
        Libc.mprotect(base, page, Libc.PROT_NONE);
    }

    /**
     * Per-window accounting: what is reserved, committed, used and wasted.
     *
     * @return one entry per window, in address order
     */
    public synchronized List<WindowUsage> usage() {
        List<WindowUsage> result = new ArrayList<>();
        for (Window window : windows) {
            long committed = window.committedBytes();
            result.add(new WindowUsage(window.base, window.size, committed, window.usedBytes,
                    committed - window.usedBytes, window.slabs, window.memfd >= 0,
                    MemoryMaps.countMappings(window.base, window.end())));
        }
        return result;
    }

    static long alignUp(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }
}
