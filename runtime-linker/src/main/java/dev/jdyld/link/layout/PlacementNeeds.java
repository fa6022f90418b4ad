package dev.jdyld.link.layout;

import dev.jdyld.core.Location;
import dev.jdyld.core.RelocationException;
import dev.jdyld.memory.Placement;

/**
 * Where the set's relocations allow it to be placed, with the first relocation behind each
 * constraint for the error when no place satisfies them all.
 */
public final class PlacementNeeds {
    private boolean low2GiB;
    private String lowReason;
    private String nearReason;
    private long nearLow = Long.MAX_VALUE;
    private long nearHigh = Long.MIN_VALUE;
    private long reachLimit = Long.MAX_VALUE;
    private String reachReason;

    /** The whole set must lie within {@code reach} of itself; {@code reason} names the relocation. */
    public void limitReach(long reach, String reason) {
        if (reach < reachLimit) {
            reachLimit = reach;
            reachReason = reason;
        }
    }

    /** The relocation that limits the set's reach below the architecture's, or null. */
    public String reachReason() {
        return reachReason;
    }

    /** The set must lie below 2 GiB; {@code reason} names the relocation. */
    public void requireLow2GiB(String reason) {
        if (!low2GiB) {
            lowReason = reason;
        }
        low2GiB = true;
    }

    /** The set must reach {@code address}; {@code reason}, if not null, names a host data reference. */
    public void requireNear(long address, String reason) {
        if (nearReason == null) {
            nearReason = reason;
        }
        nearLow = Math.min(nearLow, address);
        nearHigh = Math.max(nearHigh, address);
    }

    /** The placement to ask the memory manager for; refuses needs that no address satisfies. */
    public Placement placement(long reach) {
        if (low2GiB && nearReason != null && nearHigh >= 1L << 32) {
            throw new RelocationException(Location.NONE, "the set needs the low 2 GiB (" + lowReason + ") and must"
                    + " also reach host data near 0x" + Long.toHexString(nearHigh) + " (" + nearReason + "): no"
                    + " address satisfies both (a native link copies such data into the program, which a loader that"
                    + " starts after the C library cannot do safely); recompile with -fPIE or -fPIC (gcc's default is -fPIE)");
        }
        boolean near = nearHigh != Long.MIN_VALUE;
        return new Placement(low2GiB, near ? nearLow : 0, near ? nearHigh : 0, Math.min(reach, reachLimit));
    }
}
