package dev.jdyld.link.layout;

import dev.jdyld.elf.ElfObject;
import dev.jdyld.core.Location;
import dev.jdyld.core.UnsupportedObjectException;
import dev.jdyld.memory.PermissionGroup;
import dev.jdyld.runtime.Initializers;

import java.util.Arrays;
import java.util.List;

import static dev.jdyld.elf.Elf.*;

/**
 * Which permission group each section of the set is loaded into, and at what offset inside it;
 * the size and alignment each group needs. Sections of dropped COMDAT groups are not loaded.
 * Sections of custom names ("orphans") go to the group their flags call for.
 */
public final class SectionLayout {
    public static final int NOT_LOADED = -1;
    /** A {@code .tbss}-like section: part of the TLS block, not of the slab. */
    public static final int TLS_ONLY = -2;
    private static final int GROUPS = PermissionGroup.values().length;

    private final List<ElfObject> objects;
    private final int[][] group;
    private final long[][] offset;
    private final long[] groupSize = new long[GROUPS];
    private final long[] groupAlign = new long[GROUPS];

    /** Classifies every section; {@code discarded[o][s]} marks sections of dropped COMDAT groups. */
    public SectionLayout(List<ElfObject> objects, boolean[][] discarded) {
        this.objects = objects;
        int n = objects.size();
        group = new int[n][];
        offset = new long[n][];
        Arrays.fill(groupAlign, 1);
        for (int o = 0; o < n; o++) {
            ElfObject object = objects.get(o);
            group[o] = new int[object.sectionCount];
            offset[o] = new long[object.sectionCount];
            for (int s = 0; s < object.sectionCount; s++) {
                group[o][s] = discarded[o][s] ? NOT_LOADED : classify(object, s);
            }
        }
    }

    /** The permission group a section is loaded into, or {@link #NOT_LOADED}. */
    private static int classify(ElfObject object, int s) {
        long flags = object.sectionFlags[s];
        int type = object.sectionType[s];
        // SHT_NULL marks an inactive header whatever its other fields say (gABI): never loaded, never read.
        if (s == 0 || (flags & SHF_ALLOC) == 0 || type == SHT_NULL || type == SHT_GROUP || type == SHT_RELA) {
            return NOT_LOADED;
        }
        if ((flags & SHF_TLS) != 0) {
            // .tdata is relocated in place as the template of every thread's block; .tbss only sizes the block.
            return type == SHT_NOBITS ? TLS_ONLY : PermissionGroup.RELRO.ordinal();
        }
        if ((flags & SHF_EXECINSTR) != 0) {
            if ((flags & SHF_WRITE) != 0) {
                throw new UnsupportedObjectException(Location.file(object.name).section(object.sectionName[s]),
                        "section is both writable and executable; jdyld never maps memory W+X");
            }
            return PermissionGroup.TEXT.ordinal();
        }
        if (Initializers.kindOf(object, s) != null) {
            return PermissionGroup.RELRO.ordinal();
        }
        if ((flags & SHF_WRITE) != 0) {
            String name = object.sectionName[s];
            return name.equals(".data.rel.ro") || name.startsWith(".data.rel.ro.")
                    ? PermissionGroup.RELRO.ordinal() : PermissionGroup.DATA.ordinal();
        }
        return PermissionGroup.RODATA.ordinal();
    }

    /** The group ordinal of a section, {@link #NOT_LOADED} or {@link #TLS_ONLY}. */
    public int group(int object, int section) {
        return group[object][section];
    }

    public boolean isLoaded(int object, int section) {
        return group[object][section] >= 0;
    }

    /** Offset of a loaded section inside its group. */
    public long offset(int object, int section) {
        return offset[object][section];
    }

    /** Places linker-made contents at the end of a group; returns their offset. */
    public long reserve(PermissionGroup permissionGroup, long size, long align) {
        int g = permissionGroup.ordinal();
        long at = (groupSize[g] + align - 1) & -align;
        groupSize[g] = at + size;
        groupAlign[g] = Math.max(groupAlign[g], align);
        return at;
    }

    /**
     * Places the {@code .tdata}-like sections inside the TLS template at {@code templateOffset}
     * (in RELRO), at their offsets in the block.
     */
    public void placeTemplate(TlsLayout tls, long templateOffset) {
        for (int o = 0; o < objects.size(); o++) {
            ElfObject object = objects.get(o);
            for (int s = 1; s < object.sectionCount; s++) {
                if (tls.offset(o, s) >= 0 && object.sectionType[s] != SHT_NOBITS) {
                    offset[o][s] = templateOffset + tls.offset(o, s);
                }
            }
        }
    }

    /**
     * Places every loaded section that is not thread-local, of one kind (contents, or NOBITS), in
     * input order within its group.
     */
    public void placeSections(TlsLayout tls, boolean nobits) {
        placeSections(tls, nobits, null, null);
    }

    /**
     * As {@link #placeSections(TlsLayout, boolean)}, with each part's island of range-extension
     * thunks right after the part's last code section; {@code islandOffsets} gets where, by part.
     */
    public void placeSections(TlsLayout tls, boolean nobits, BranchIslands islands, long[] islandOffsets) {
        for (int o = 0; o < objects.size(); o++) {
            ElfObject object = objects.get(o);
            for (int s = 1; s < object.sectionCount; s++) {
                int g = group[o][s];
                if (g < 0 || tls.offset(o, s) >= 0 || (object.sectionType[s] == SHT_NOBITS) != nobits) {
                    continue;
                }
                // An .eh_frame gets a zero terminator word after it, so it can be registered on its own.
                long size = object.sectionSize[s] + (isEhFrame(object, s) ? 4 : 0);
                offset[o][s] = reserve(PermissionGroup.values()[g], size, object.sectionAlign[s]);
                int island = islands == null ? -1 : islands.islandAfter(o, s);
                if (island >= 0) {
                    islandOffsets[island] = reserve(PermissionGroup.TEXT, islands.islandSize(island), 16);
                }
            }
        }
    }

    /** Whether a loaded, non-empty constructor or destructor array exists. */
    public boolean hasInitializers() {
        for (int o = 0; o < objects.size(); o++) {
            ElfObject object = objects.get(o);
            for (int s = 1; s < object.sectionCount; s++) {
                if (group[o][s] >= 0 && object.sectionSize[s] > 0 && Initializers.kindOf(object, s) != null) {
                    return true;
                }
            }
        }
        return false;
    }

    public static boolean isEhFrame(ElfObject object, int s) {
        return object.sectionName[s].equals(".eh_frame") && (object.sectionFlags[s] & SHF_ALLOC) != 0;
    }

    /** Bytes per group, by {@link PermissionGroup#ordinal()}. */
    public long[] sizes() {
        return groupSize.clone();
    }

    public long[] alignments() {
        return groupAlign.clone();
    }

    /** The group ordinals per object and section, as {@link Initializers#collect} takes them. */
    public int[][] groups() {
        return group;
    }
}
