package dev.jdyld.link.layout;

import dev.jdyld.elf.ElfObject;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static dev.jdyld.elf.Elf.SHT_NOBITS;

/**
 * Range-extension thunks inside a set whose code is larger than a direct branch reaches (more than
 * 128 MiB on AArch64), as lld and mold make them. The code sections are cut, in the order they are
 * placed, into parts of at most half the branch's reach; after each part comes an island with one
 * thunk per distinct target that the part's branches call in another part (or that lies outside
 * the set). A branch then reaches its own part's island, at most half a reach plus the island away,
 * and the thunk reaches anywhere: through the target's GOT slot for a symbol outside the set, with
 * an absolute address for one inside it.
 *
 * <p>Sized by the scan, before layout, like the set's stubs; used by the apply loop only for a
 * branch whose direct displacement does not fit, so a set that needs no island pays nothing.
 */
public final class BranchIslands {
    /**
     * A thunk's target: a symbol ({@code object}'s {@code symbol}, or a global by its id with
     * {@code object == -1}) plus the branch's addend.
     */
    public record Target(int object, int symbol, long addend) {}

    private final int[][] part;
    private final List<Map<Target, Integer>> thunks = new ArrayList<>();
    /** The last section of each part, as {object, section}: its island follows it. */
    private final List<int[]> partEnds = new ArrayList<>();
    private long[] islandOffsets;
    private final int thunkSize;

    /**
     * Cuts the loaded code sections ({@code layout}'s TEXT group, contents before NOBITS as
     * {@link SectionLayout#placeSections} places them) into parts of at most {@code partSize} bytes.
     */
    public BranchIslands(List<ElfObject> objects, SectionLayout layout, TlsLayout tls, int textGroup, long partSize,
                         int thunkSize) {
        this.thunkSize = thunkSize;
        part = new int[objects.size()][];
        for (int o = 0; o < objects.size(); o++) {
            part[o] = new int[objects.get(o).sectionCount];
            java.util.Arrays.fill(part[o], -1);
        }
        long used = 0;
        int current = 0;
        int[] last = null;
        for (boolean nobits : new boolean[] {false, true}) {
            for (int o = 0; o < objects.size(); o++) {
                ElfObject object = objects.get(o);
                for (int s = 1; s < object.sectionCount; s++) {
                    if (layout.group(o, s) != textGroup || tls.offset(o, s) >= 0
                            || (object.sectionType[s] == SHT_NOBITS) != nobits) {
                        continue;
                    }
                    long size = object.sectionSize[s] + object.sectionAlign[s];
                    if (last != null && used + size > partSize) {
                        partEnds.add(last);
                        current++;
                        used = 0;
                    }
                    part[o][s] = current;
                    used += size;
                    last = new int[] {o, s};
                }
            }
        }
        if (last != null) {
            partEnds.add(last);
        }
        for (int p = 0; p < partEnds.size(); p++) {
            thunks.add(new HashMap<>());
        }
    }

    /** The part a code section is in, or -1 for a section that is not code (or linker-made code, after every part). */
    public int part(int object, int section) {
        return object < 0 || section <= 0 || section >= part[object].length ? -1 : part[object][section];
    }

    /** A thunk in {@code fromPart}'s island for branches to {@code target}. */
    public void request(int fromPart, Target target) {
        Map<Target, Integer> island = thunks.get(fromPart);
        island.putIfAbsent(target, island.size());
    }

    /** Whether the section ends a part, so that its island is placed right after it. */
    public int islandAfter(int object, int section) {
        int p = part(object, section);
        if (p < 0) {
            return -1;
        }
        int[] end = partEnds.get(p);
        return end[0] == object && end[1] == section ? p : -1;
    }

    /** Bytes of a part's island. */
    public long islandSize(int p) {
        return (long) thunks.get(p).size() * thunkSize;
    }

    /** Records where the islands were placed (offsets in the code group, by part). */
    public void placed(long[] offsets) {
        islandOffsets = offsets;
    }

    /** Offset in the code group of the thunk for {@code target} in {@code fromPart}'s island, or -1. */
    public long thunkOffset(int fromPart, Target target) {
        Integer index = fromPart < 0 ? null : thunks.get(fromPart).get(target);
        return index == null ? -1 : islandOffsets[fromPart] + (long) index * thunkSize;
    }

    /** Every island's thunks, by part: target and index. */
    public List<Map<Target, Integer>> islands() {
        return thunks;
    }

    public long islandOffset(int p) {
        return islandOffsets[p];
    }

    /** How many thunks there are in all. */
    public int count() {
        return thunks.stream().mapToInt(Map::size).sum();
    }
}
