package dev.jdyld.link.layout;

import java.util.Arrays;

/**
 * The set's GOT as the planning pass builds it (JITLink's GOT table manager): entries are
 * requested by relocations, one per distinct symbol and kind, so the count is exact before
 * anything is mapped. Globals are keyed by their id in the set's symbol table; local symbols by
 * object and symbol index (arrays made only for objects that need them).
 */
public final class GotTable {
    public static final long ENTRY_SIZE = 8;

    /** What a GOT entry holds, and how many consecutive slots it takes. */
    public enum Entry {
        /** The symbol's address (or, for host TLS, its thread-pointer offset). */
        ADDRESS(1),
        /** A {@code tls_index} pair: module id and offset in the block. */
        TLS_INDEX(2),
        /** A TLS descriptor: resolver, module id, offset. */
        TLS_DESCRIPTOR(3);

        public final int slots;

        Entry(int slots) {
            this.slots = slots;
        }
    }

    private static final Entry[] ENTRIES = Entry.values();

    private final int[][] global;
    private final int[][][] local;
    private final int[] symbolCounts;
    private int moduleIndexSlot = -1;
    private int slots;

    /**
     * @param globals      number of global symbols of the set
     * @param symbolCounts symbol-table size of each object
     */
    public GotTable(int globals, int[] symbolCounts) {
        this.symbolCounts = symbolCounts;
        global = new int[ENTRIES.length][globals];
        local = new int[ENTRIES.length][symbolCounts.length][];
        for (int[] slotsOfKind : global) {
            Arrays.fill(slotsOfKind, -1);
        }
    }

    public void request(Entry entry, int globalId) {
        if (global[entry.ordinal()][globalId] < 0) {
            global[entry.ordinal()][globalId] = take(entry.slots);
        }
    }

    public void requestLocal(Entry entry, int object, int symbol) {
        int[][] ofKind = local[entry.ordinal()];
        if (ofKind[object] == null) {
            ofKind[object] = new int[symbolCounts[object]];
            Arrays.fill(ofKind[object], -1);
        }
        if (ofKind[object][symbol] < 0) {
            ofKind[object][symbol] = take(entry.slots);
        }
    }

    /** The set's local-dynamic {@code tls_index} pair (module id, offset 0). */
    public void requestModuleIndex() {
        if (moduleIndexSlot < 0) {
            moduleIndexSlot = take(2);
        }
    }

    /** First slot of a global's entry, or -1. */
    public int slot(Entry entry, int globalId) {
        return global[entry.ordinal()][globalId];
    }

    /** First slot of a local symbol's entry, or -1. */
    public int localSlot(Entry entry, int object, int symbol) {
        int[] ofObject = local[entry.ordinal()][object];
        return ofObject == null ? -1 : ofObject[symbol];
    }

    /** Whether any local symbol of the object has an entry of any kind. */
    public boolean hasLocals(int object) {
        for (int[][] ofKind : local) {
            if (ofKind[object] != null) {
                return true;
            }
        }
        return false;
    }

    public int moduleIndexSlot() {
        return moduleIndexSlot;
    }

    public int slots() {
        return slots;
    }

    private int take(int count) {
        int first = slots;
        slots += count;
        return first;
    }
}
