package dev.jdyld.memory;

import dev.jdyld.memory.libc.Libc;

import java.lang.foreign.MemorySegment;

/**
 * One of a slab's three chunks, by final permission: code ({@link #TEXT}), read-only data and
 * RELRO ({@link #READ}), writable data ({@link #DATA}). A chunk is either whole pages of its own,
 * or, when it is smaller than a page and can be written without changing its page's protection,
 * packed: a slot of a page it shares with other slabs' chunks of the same permission.
 */
final class Chunk {
    static final int TEXT = 0;
    static final int READ = 1;
    static final int DATA = 2;
    static final int COUNT = 3;
    /** Packed slots are multiples of this, so that code and data of neighbours stay 16-byte aligned. */
    static final long SLOT = 16;
    private static final long HUGE_PAGE = 2L << 20;

    /**
     * A set's three chunks as its request calls for them: size, alignment and whether each is
     * packed, and the offset of RELRO in the read-only chunk and the length of each group.
     */
    record Plan(long[] size, long[] alignment, boolean[] packed, long relroOffset, long[] groupLength, long used) {}

    /**
     * Plans the chunks: one smaller than a page is packed where it can be written without changing
     * its page's protection (writable data always; code and read-only data with dual mapping, not
     * code aligned for huge pages), as a slot rounded to {@link #SLOT}; any other gets whole pages,
     * with RELRO on pages of its own as a linked program's {@code PT_GNU_RELRO}.
     */
    static Plan plan(SlabRequest request, long pageSize, MemoryManager.Options options) {
        long text = request.size(PermissionGroup.TEXT);
        long rodata = request.size(PermissionGroup.RODATA);
        long relro = request.size(PermissionGroup.RELRO);
        long data = request.size(PermissionGroup.DATA);
        long relroAlign = request.alignment(PermissionGroup.RELRO);
        long packedRelroOffset = rodata == 0 ? 0 : MemoryMaps.alignUp(rodata, relroAlign);
        long[] exact = {text, packedRelroOffset + relro, data};
        long[] exactAlign = {request.alignment(PermissionGroup.TEXT),
                Math.max(request.alignment(PermissionGroup.RODATA), relroAlign), request.alignment(PermissionGroup.DATA)};
        boolean[] packed = new boolean[COUNT];
        long[] size = new long[COUNT];
        long[] alignment = new long[COUNT];
        for (int c = 0; c < COUNT; c++) {
            packed[c] = exact[c] > 0 && exact[c] < pageSize && exactAlign[c] < pageSize
                    && (c == DATA || options.dualMapping()) && !(c == TEXT && options.hugePages());
            size[c] = MemoryMaps.alignUp(exact[c], SLOT);
            alignment[c] = Math.max(exactAlign[c], SLOT);
        }
        long[] groupLength = {text, rodata, relro, data};
        long relroOffset = packedRelroOffset;
        if (!packed[TEXT]) {
            long unit = options.hugePages() ? HUGE_PAGE : pageSize;
            groupLength[0] = size[0] = MemoryMaps.alignUp(text, unit);
            alignment[0] = Math.max(unit, alignment[0]);
        }
        if (!packed[READ]) {
            groupLength[1] = MemoryMaps.alignUp(rodata, pageSize);
            groupLength[2] = MemoryMaps.alignUp(relro, pageSize);
            long pageRelroAlign = Math.max(pageSize, relroAlign);
            relroOffset = MemoryMaps.alignUp(groupLength[1], pageRelroAlign);
            size[1] = relroOffset + groupLength[2];
            alignment[1] = Math.max(Math.max(pageSize, request.alignment(PermissionGroup.RODATA)), pageRelroAlign);
        }
        if (!packed[DATA]) {
            groupLength[3] = size[2] = MemoryMaps.alignUp(data, pageSize);
            alignment[2] = Math.max(pageSize, alignment[2]);
        }
        return new Plan(size, alignment, packed, relroOffset, groupLength, text + rodata + relro + data);
    }

    final int kind;
    /** Final address: where the code runs and the data is read; the region's start when empty. */
    final long address;
    /** Bytes: a multiple of the page size, or a packed chunk's slot; 0 for an empty chunk. */
    final long length;
    final boolean packed;
    /** A packed chunk that took a fresh page, which it commits and then shares. */
    final boolean freshPage;
    /** Where the linker writes the chunk: its final address, or the same bytes in a write view. */
    long writable;
    /** The write view mapped for the chunk in dual-mapping mode, unmapped at finalization; 0 if none. */
    long view;
    long viewLength;
    /**
     * A packed chunk's bytes in dual-mapping mode until finalization, which writes them to the memory
     * file with {@code pwrite}; null otherwise.
     */
    MemorySegment staging;

    Chunk(int kind, long address, long length, boolean packed, boolean freshPage) {
        this.kind = kind;
        this.address = address;
        this.length = length;
        this.packed = packed;
        this.freshPage = freshPage;
        this.writable = address;
    }

    /** The protection the chunk's pages have once the set is finalized. */
    int finalProtection() {
        return switch (kind) {
            case TEXT -> Libc.PROT_READ | Libc.PROT_EXEC;
            case READ -> Libc.PROT_READ;
            default -> Libc.PROT_READ | Libc.PROT_WRITE;
        };
    }

    /** The first page of a packed chunk's slot. */
    long page(long pageSize) {
        return address & -pageSize;
    }
}
