package dev.jdyld.link.layout;

import java.util.Arrays;

/**
 * The set's stubs as the planning pass requests them, one per distinct global: for calls out of
 * the set (the stub jumps through the symbol's GOT slot), as the canonical address of a host
 * function the set takes a 32-bit absolute address of, and for IFUNCs the set defines (the stub
 * jumps through a writable slot of the IFUNC table that the resolver's answer fills).
 */
public final class StubTable {
    private final int[] stub;
    private final boolean[] canonical;
    private final int[] ifuncSlot;
    private int stubs;
    private int ifuncs;

    public StubTable(int globals) {
        stub = new int[globals];
        canonical = new boolean[globals];
        ifuncSlot = new int[globals];
        Arrays.fill(stub, -1);
        Arrays.fill(ifuncSlot, -1);
    }

    /** A stub for calls to the global. */
    public void request(int globalId) {
        if (stub[globalId] < 0) {
            stub[globalId] = stubs++;
        }
    }

    /** A stub that is also the global's address in the set. */
    public void requestCanonical(int globalId) {
        request(globalId);
        canonical[globalId] = true;
    }

    /**
     * An IFUNC's address in the set is its stub (so every reference agrees, as function pointers
     * must); the stub jumps through a writable slot (like a lazily bound {@code .got.plt} entry)
     * that gets the resolver's answer when the set is initialised, before its constructors.
     */
    public void requestIfunc(int globalId) {
        if (stub[globalId] < 0) {
            stub[globalId] = stubs++;
            ifuncSlot[globalId] = ifuncs++;
        }
        canonical[globalId] = true;
    }

    /** The global's stub index, or -1. */
    public int stub(int globalId) {
        return stub[globalId];
    }

    public boolean isCanonical(int globalId) {
        return canonical[globalId];
    }

    /** The global's slot in the IFUNC table, or -1. */
    public int ifuncSlot(int globalId) {
        return ifuncSlot[globalId];
    }

    public int count() {
        return stubs;
    }

    public int ifuncCount() {
        return ifuncs;
    }
}
