package dev.jdyld.memory;

import java.util.TreeMap;

/**
 * The committed pages of one region that packed chunks share: for each, its free byte ranges.
 * A page is here from the moment its first slot is taken until its last is given back; its
 * owner commits it before adding it and decommits it after it leaves, so every page here is
 * committed, has its final protection, and holds at least one slot.
 */
final class SharedPages {
    private final long pageSize;
    /** By page address, lowest first, so that sets fill the lowest pages and the rest stay free. */
    private final TreeMap<Long, Region> pages = new TreeMap<>();

    SharedPages(long pageSize) {
        this.pageSize = pageSize;
    }

    /** A slot of {@code size} bytes at {@code alignment} on a page here, or -1 when none has room. */
    long allocate(long size, long alignment) {
        for (Region page : pages.values()) {
            long slot = page.allocate(size, alignment);
            if (slot >= 0) {
                return slot;
            }
        }
        return -1;
    }

    /** Adds a page just committed whose first {@code slotSize} bytes are taken. */
    void add(long page, long slotSize) {
        Region free = new Region(page, pageSize);
        free.allocate(slotSize, 1);
        pages.put(page, free);
    }

    /**
     * Gives back a slot taken here.
     *
     * @return whether that emptied its page, which has left and is the caller's to decommit
     */
    boolean release(long slot, long size) {
        long page = slot & -pageSize;
        Region free = pages.get(page);
        free.release(slot, size);
        if (free.allocatedBytes() > 0) {
            return false;
        }
        pages.remove(page);
        return true;
    }

    /** Pages here now, for accounting and tests. */
    int count() {
        return pages.size();
    }
}
