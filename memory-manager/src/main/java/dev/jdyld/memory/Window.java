package dev.jdyld.memory;

/**
 * A reserved range of address space, smaller than 2 GiB, that sets are carved from. It is
 * divided into three regions by final permission: code ({@code r-x}), read-only data and
 * RELRO ({@code r--}), writable data ({@code rw-}). Unused pages are {@code PROT_NONE} and cost
 * no memory. Any two addresses of a window are within ±2 GiB of each other.
 */
final class Window {
    final long base;
    final long size;
    final Region text;
    final Region read;
    final Region data;
    /** Descriptor of the memory file behind the window in dual-mapping mode, else -1. */
    final int memfd;
    long usedBytes;
    int slabs;

    Window(long base, long textSize, long readSize, long dataSize, int memfd) {
        this.base = base;
        this.size = textSize + readSize + dataSize;
        this.text = new Region(base, textSize);
        this.read = new Region(base + textSize, readSize);
        this.data = new Region(base + textSize + readSize, dataSize);
        this.memfd = memfd;
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

    long committedBytes() {
        return text.allocatedBytes() + read.allocatedBytes() + data.allocatedBytes();
    }

    Region regionOf(long address) {
        return text.contains(address) ? text : read.contains(address) ? read : data;
    }
}
