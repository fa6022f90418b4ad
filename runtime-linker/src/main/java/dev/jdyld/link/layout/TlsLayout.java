package dev.jdyld.link.layout;

import dev.jdyld.elf.ElfObject;

import java.util.Arrays;
import java.util.List;

import static dev.jdyld.elf.Elf.SHF_ALLOC;
import static dev.jdyld.elf.Elf.SHF_TLS;
import static dev.jdyld.elf.Elf.SHT_NOBITS;

/**
 * The set's thread-local block: every {@code .tdata}-like section, then every {@code .tbss}-like
 * one, each at its alignment. The initialised part is also the template (in RELRO), laid out at
 * the same offsets, so that a thread's new block is one copy of it.
 */
public final class TlsLayout {
    private final long[][] offset;
    private final long templateSize;
    private final long blockSize;
    private final long alignment;

    public TlsLayout(List<ElfObject> objects) {
        offset = new long[objects.size()][];
        long size = 0;
        long align = 1;
        long initialised = 0;
        for (int o = 0; o < objects.size(); o++) {
            offset[o] = new long[objects.get(o).sectionCount];
            Arrays.fill(offset[o], -1);
        }
        for (int pass = 0; pass < 2; pass++) {
            boolean nobits = pass == 1;
            for (int o = 0; o < objects.size(); o++) {
                ElfObject object = objects.get(o);
                for (int s = 1; s < object.sectionCount; s++) {
                    if ((object.sectionFlags[s] & SHF_TLS) == 0 || (object.sectionFlags[s] & SHF_ALLOC) == 0
                            || (object.sectionType[s] == SHT_NOBITS) != nobits) {
                        continue;
                    }
                    long sectionAlign = object.sectionAlign[s];
                    offset[o][s] = (size + sectionAlign - 1) & -sectionAlign;
                    size = offset[o][s] + object.sectionSize[s];
                    align = Math.max(align, sectionAlign);
                }
            }
            if (pass == 0) {
                initialised = size;
            }
        }
        templateSize = initialised;
        blockSize = size;
        alignment = align;
    }

    /** Offset of a section in the block, or -1 for a section that is not thread-local. */
    public long offset(int object, int section) {
        return offset[object][section];
    }

    /** Bytes of the template: the initialised part of the block. */
    public long templateSize() {
        return templateSize;
    }

    public long blockSize() {
        return blockSize;
    }

    public long alignment() {
        return alignment;
    }
}
