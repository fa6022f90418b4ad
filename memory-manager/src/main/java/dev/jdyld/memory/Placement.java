package dev.jdyld.memory;

/**
 * Where a slab may live. Every address inside one slab is within {@code reach} of every other by
 * construction (its window is no larger); a placement adds constraints relative to the rest of
 * the address space.
 *
 * @param below2GiB the set uses 32-bit absolute addresses ({@code R_X86_64_32/32S}), so the
 *                  whole slab must lie below 2 GiB
 * @param nearLow   lowest host address the slab must reach with a signed 32-bit displacement,
 *                  or 0 when there is none
 * @param nearHigh  highest such host address, or 0
 * @param reach     the largest distance the set's code reaches with its PC-relative references
 *                  and branches (the architecture's, e.g. 2 GiB on x86-64), at most {@link #MAX_REACH}
 */
public record Placement(boolean below2GiB, long nearLow, long nearHigh, long reach) {
    /** The largest reach a placement may ask for, and the largest window the manager makes: 2 GiB less room for addends. */
    public static final long MAX_REACH = (1L << 31) - (64L << 20);
    /**
     * No constraint beyond the slab's own reach: for a set with no 32-bit absolute addresses and no
     * 32-bit PC-relative references to host symbols.
     */
    public static final Placement ANYWHERE = new Placement(false, 0, 0);

    /**
     * Checks that {@code reach} is positive and at most {@link #MAX_REACH}.
     *
     * @throws IllegalArgumentException if it is not
     */
    public Placement {
        if (reach <= 0 || reach > MAX_REACH) {
            throw new IllegalArgumentException("reach " + reach + " outside 1.." + MAX_REACH);
        }
    }

    /**
     * A placement with the largest reach.
     *
     * @param below2GiB whether the slab must lie below 2 GiB
     * @param nearLow   lowest address the slab must reach, or 0
     * @param nearHigh  highest address the slab must reach, or 0
     */
    public Placement(boolean below2GiB, long nearLow, long nearHigh) {
        this(below2GiB, nearLow, nearHigh, MAX_REACH);
    }

    /**
     * Whether the slab must be within {@code reach} of the host range {@code [nearLow, nearHigh]}.
     * A near constraint sets both bounds; {@code nearHigh == 0} means there is none.
     *
     * @return true if {@code nearHigh} is set
     */
    public boolean hasNearConstraint() {
        return nearHigh != 0;
    }
}
