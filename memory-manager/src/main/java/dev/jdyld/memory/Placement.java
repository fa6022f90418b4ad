package dev.jdyld.memory;

/**
 * Where a slab may live. Every address inside one slab is within ±2 GiB of every other by
 * construction; a placement adds constraints relative to the rest of the address space.
 *
 * @param below2GiB the set uses 32-bit absolute addresses ({@code R_X86_64_32/32S}), so the
 *                  whole slab must lie below 2 GiB
 * @param nearLow   lowest host address the slab must reach with a signed 32-bit displacement,
 *                  or 0 when there is none
 * @param nearHigh  highest such host address, or 0
 */
public record Placement(boolean below2GiB, long nearLow, long nearHigh) {
    public static final Placement ANYWHERE = new Placement(false, 0, 0);

    public boolean hasNearConstraint() {
        return nearHigh != 0;
    }
}
