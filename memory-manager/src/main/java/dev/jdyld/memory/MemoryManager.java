package dev.jdyld.memory;

/**
 * Hands out {@link Slab}s for load sets. A slab's groups are laid out in
 * {@link PermissionGroup} order in one mapping, each starting on a page boundary (or on its
 * alignment when that is larger), so code, GOT and data of one set are always within reach of
 * 32-bit displacements.
 */
public final class MemoryManager {
    private final long pageSize;

    public MemoryManager() {
        this(Libc.pageSize());
    }

    MemoryManager(long pageSize) {
        this.pageSize = pageSize;
    }

    public long pageSize() {
        return pageSize;
    }

    /** Maps memory for a set: all groups read-write until {@link Slab#finalizePermissions()}. */
    public Slab allocate(SlabRequest request) {
        long[] offsets = new long[PermissionGroup.ALL.length];
        long[] lengths = new long[PermissionGroup.ALL.length];
        long maxAlign = pageSize;
        long end = 0;
        for (PermissionGroup group : PermissionGroup.ALL) {
            int g = group.ordinal();
            long align = Math.max(pageSize, request.alignment(group));
            maxAlign = Math.max(maxAlign, align);
            long length = alignUp(request.size(group), pageSize);
            if (length == 0) {
                offsets[g] = end;
                continue;
            }
            offsets[g] = alignUp(end, align);
            lengths[g] = length;
            end = offsets[g] + length;
        }
        if (end == 0) {
            end = pageSize; // an empty set still gets a unique address range
        }
        long base = mapAligned(end, maxAlign, request.placement());
        long[] addresses = new long[offsets.length];
        for (int g = 0; g < offsets.length; g++) {
            addresses[g] = base + offsets[g];
        }
        return new Slab(this, base, end, addresses, lengths);
    }

    private long mapAligned(long length, long alignment, Placement placement) {
        int flags = Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE;
        if (placement.below2GiB()) {
            flags |= Libc.MAP_32BIT;
        }
        int prot = Libc.PROT_READ | Libc.PROT_WRITE;
        if (alignment == pageSize) {
            return Libc.mmap(0, length, prot, flags, -1, 0);
        }
        // Over-map by the alignment, then return the unaligned head and the tail to the kernel.
        long raw = Libc.mmap(0, length + alignment, prot, flags, -1, 0);
        long base = alignUp(raw, alignment);
        if (base > raw) {
            Libc.munmap(raw, base - raw);
        }
        long tail = raw + length + alignment - (base + length);
        if (tail > 0) {
            Libc.munmap(base + length, tail);
        }
        return base;
    }

    void release(long address, long length) {
        Libc.munmap(address, length);
    }

    static long alignUp(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }
}
