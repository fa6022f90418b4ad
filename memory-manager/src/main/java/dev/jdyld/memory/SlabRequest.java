package dev.jdyld.memory;

import java.util.Arrays;

/**
 * What a load set needs, computed by the linker's planning pass before anything is mapped:
 * bytes and alignment per {@link PermissionGroup}, and where the slab may be placed.
 *
 * @param sizes      bytes per group, indexed by {@link PermissionGroup#ordinal()}
 * @param alignments alignment per group (a power of two, at least 1)
 * @param placement  address constraints the set's relocations impose
 */
public record SlabRequest(long[] sizes, long[] alignments, Placement placement) {
    /**
     * Checks one non-negative size and one power-of-two alignment per group, and copies the arrays.
     */
    public SlabRequest {
        if (sizes.length != PermissionGroup.ALL.length || alignments.length != PermissionGroup.ALL.length) {
            throw new IllegalArgumentException("one size and alignment per permission group expected");
        }
        for (int i = 0; i < sizes.length; i++) {
            if (sizes[i] < 0) {
                throw new IllegalArgumentException("negative size for " + PermissionGroup.ALL[i]);
            }
            if (alignments[i] <= 0 || Long.bitCount(alignments[i]) != 1) {
                throw new IllegalArgumentException("alignment " + alignments[i] + " of "
                        + PermissionGroup.ALL[i] + " is not a power of two");
            }
        }
        sizes = sizes.clone();
        alignments = alignments.clone();
    }

    /**
     * The bytes requested for a group.
     *
     * @param group the permission group
     * @return its size in bytes
     */
    public long size(PermissionGroup group) {
        return sizes[group.ordinal()];
    }

    /**
     * The alignment requested for a group.
     *
     * @param group the permission group
     * @return its alignment, a power of two
     */
    public long alignment(PermissionGroup group) {
        return alignments[group.ordinal()];
    }

    @Override
    public String toString() {
        return "SlabRequest" + Arrays.toString(sizes) + " align " + Arrays.toString(alignments) + " " + placement;
    }
}
