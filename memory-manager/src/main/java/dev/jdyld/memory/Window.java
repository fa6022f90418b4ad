package dev.jdyld.memory;

import dev.jdyld.memory.libc.Libc;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A reserved range of address space, smaller than 2 GiB, that sets are carved from. It is
 * divided into three regions by final permission: code ({@code r-x}), read-only data and
 * RELRO ({@code r--}), writable data ({@code rw-}). Unused pages are {@code PROT_NONE} and cost
 * no memory. Any two addresses of a window are within ±2 GiB of each other. Each region keeps
 * the pages its packed chunks share.
 */
final class Window {
    private static final long ALIGNMENT = 2L << 20;

    final long base;
    final long size;
    final Region text;
    final Region read;
    final Region data;
    /** The regions by {@link Chunk} kind. */
    final Region[] regions;
    /** Pages shared by packed chunks, by {@link Chunk} kind. */
    final SharedPages[] shared = new SharedPages[Chunk.COUNT];
    /** Descriptor of the memory file behind the window in dual-mapping mode, else -1. */
    final int memfd;
    /**
     * In a remote address space, where this process maps the whole memory file (read-write, never
     * executable) to write the sets; else 0.
     */
    final long localView;
    long usedBytes;
    int slabs;

    Window(long base, long textSize, long readSize, long dataSize, int memfd, long localView, long pageSize) {
        this.base = base;
        this.size = textSize + readSize + dataSize;
        this.text = new Region(base, textSize);
        this.read = new Region(base + textSize, readSize);
        this.data = new Region(base + textSize + readSize, dataSize);
        this.regions = new Region[] {text, read, data};
        for (int c = 0; c < Chunk.COUNT; c++) {
            shared[c] = new SharedPages(pageSize);
        }
        this.memfd = memfd;
        this.localView = localView;
    }

    long end() {
        return base + size;
    }

    /** Whether every address of the window reaches every address in [low, high] within {@code reach}. */
    boolean reaches(long low, long high, long reach) {
        return high - base <= reach && end() - low <= reach;
    }

    boolean satisfies(Placement placement) {
        if (size > placement.reach() || (placement.below2GiB() && end() > MemoryManager.LOW_LIMIT)) {
            return false;
        }
        return !placement.hasNearConstraint() || reaches(placement.nearLow(), placement.nearHigh(), placement.reach());
    }

    /** Where this process writes the byte the sets see at {@code address}: itself, or its place in the local view. */
    long local(long address) {
        return localView == 0 ? address : localView + (address - base);
    }

    long committedBytes() {
        return text.allocatedBytes() + read.allocatedBytes() + data.allocatedBytes();
    }

    /**
     * Reserves a window ({@code PROT_NONE}, no memory committed) where {@code placement} allows,
     * big enough for chunks of the given sizes at the given alignments (code, read-only, writable):
     * the options' size, split 1:1:2, or for a set below 2 GiB, where address space is scarce, the
     * set's size with modest room to grow.
     *
     * @throws MemoryException if the set does not fit its reach or no such range is free
     */
    static Window reserve(Placement placement, long[] need, long[] alignment, MemoryManager.Options options,
                          AddressSpace space, long pageSize) {
        long[] sizes = new long[Chunk.COUNT];
        long[] minimum = new long[Chunk.COUNT];
        long[] room = {16L << 20, 16L << 20, 32L << 20};
        long[] share = {options.windowSize() / 4, options.windowSize() / 4, options.windowSize() / 2};
        long total = 0;
        long sum = 0;
        for (int c = 0; c < Chunk.COUNT; c++) {
            minimum[c] = MemoryMaps.alignUp(need[c] + alignment[c], ALIGNMENT);
            sizes[c] = placement.below2GiB() ? minimum[c] + room[c] : Math.max(minimum[c], share[c]);
            total += sizes[c];
            sum += need[c];
        }
        if (total > placement.reach()) {
            // A short-reach architecture: a window just the size of the set; when even 2 MiB chunks
            // would be too far apart (AArch64's tiny code model reaches ±1 MiB), page-sized ones.
            boolean pages = 3 * ALIGNMENT > placement.reach() && !options.hugePages();
            total = 0;
            for (int c = 0; c < Chunk.COUNT; c++) {
                sizes[c] = pages ? MemoryMaps.alignUp(need[c] + alignment[c], pageSize) : minimum[c];
                total += sizes[c];
            }
        }
        if (total > placement.reach()) {
            throw new MemoryException("set needs " + sum + " bytes, more than fit within its reach of "
                    + (placement.reach() >> 20) + " MiB");
        }
        long size = total;
        long minBase = 0x10000;
        long maxBase = 0x7fff_0000_0000L - size;
        long target = space.anchor() - size;
        if (placement.below2GiB()) {
            maxBase = MemoryManager.LOW_LIMIT - size;
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
        int fd = options.dualMapping() || space.isRemote() ? MemoryCalls.memfdCreate("jdyld-window", size) : -1;
        try {
            for (int attempt = 0; attempt < 8; attempt++) {
                long base = MemoryMaps.findFree(space.mappedRanges(), size, ALIGNMENT, minBase, maxBase, target);
                if (base < 0) {
                    break;
                }
                long result = space.reserve(base, size, fd);
                if (result == base) {
                    if (fd < 0) {
                        shareAnonymousMemoryObject(base);
                    }
                    long view = 0;
                    if (space.isRemote()) {
                        try {
                            view = MemoryCalls.mmap(0, size, Libc.PROT_READ | Libc.PROT_WRITE,
                                    Libc.MAP_SHARED | Libc.MAP_NORESERVE, fd, 0);
                        } catch (MemoryException e) {
                            space.unmap(base, size);
                            throw e;
                        }
                    }
                    return new Window(base, sizes[0], sizes[1], sizes[2], fd, view, pageSize);
                }
                if (result > 0) {
                    space.unmap(result, size); // a kernel without MAP_FIXED_NOREPLACE put it elsewhere
                } else if (result != -Libc.EEXIST) {
                    throw new MemoryException("mmap", base, size, (int) -result, Libc.strerror((int) -result));
                }
                // Another thread mapped the range since /proc/self/maps was read: look again.
            }
        } catch (RuntimeException e) {
            if (fd >= 0) {
                MemoryCalls.close(fd);
            }
            throw e;
        }
        if (fd >= 0) {
            MemoryCalls.close(fd);
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
    private static void shareAnonymousMemoryObject(long base) {
        long page = Libc.pageSize();
        MemoryCalls.mprotect(base, page, Libc.PROT_READ | Libc.PROT_WRITE);
        MemorySegment.ofAddress(base).reinterpret(1).set(ValueLayout.JAVA_BYTE, 0, (byte) 0);
        MemoryCalls.madvise(base, page, Libc.MADV_DONTNEED);
        MemoryCalls.mprotect(base, page, Libc.PROT_NONE);
    }
}
