package dev.jdyld.memory;

import java.util.Map;
import java.util.TreeMap;

/**
 * A range of address space handed out first-fit: a window's range of pages of one final
 * permission, handed out in page multiples, or one shared page, handed out in slots. Free ranges
 * are kept coalesced, so a released range is reused by the next set that fits and neighbouring
 * sets' pages stay adjacent (and so share one kernel mapping once they have the same protection).
 */
final class Region {
    final long start;
    final long length;
    private final TreeMap<Long, Long> free = new TreeMap<>();
    private long allocated;

    Region(long start, long length) {
        this.start = start;
        this.length = length;
        if (length > 0) {
            free.put(start, length);
        }
    }

    /** Allocates {@code size} bytes at {@code alignment}; returns the address or -1. */
    long allocate(long size, long alignment) {
        for (Map.Entry<Long, Long> range : free.entrySet()) {
            long rangeStart = range.getKey();
            long rangeEnd = rangeStart + range.getValue();
            long address = (rangeStart + alignment - 1) & -alignment;
            if (address + size <= rangeEnd) {
                free.remove(rangeStart);
                if (address > rangeStart) {
                    free.put(rangeStart, address - rangeStart);
                }
                if (address + size < rangeEnd) {
                    free.put(address + size, rangeEnd - address - size);
                }
                allocated += size;
                return address;
            }
        }
        return -1;
    }

    /** Returns a range given out by {@link #allocate}, merging it with free neighbours. */
    void release(long address, long size) {
        long newStart = address;
        long newLength = size;
        Map.Entry<Long, Long> below = free.floorEntry(address);
        if (below != null && below.getKey() + below.getValue() == address) {
            newStart = below.getKey();
            newLength += below.getValue();
            free.remove(below.getKey());
        }
        Long aboveLength = free.get(address + size);
        if (aboveLength != null) {
            free.remove(address + size);
            newLength += aboveLength;
        }
        free.put(newStart, newLength);
        allocated -= size;
    }

    long allocatedBytes() {
        return allocated;
    }

    boolean contains(long address) {
        return address >= start && address < start + length;
    }
}
