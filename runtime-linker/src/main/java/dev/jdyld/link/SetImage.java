package dev.jdyld.link;

import dev.jdyld.elf.ElfObject;
import dev.jdyld.link.layout.GotTable;
import dev.jdyld.memory.PermissionGroup;
import dev.jdyld.memory.Slab;

import java.lang.foreign.MemorySegment;

import static dev.jdyld.elf.Elf.SHN_ABS;
import static dev.jdyld.elf.Elf.SHN_LORESERVE;
import static dev.jdyld.elf.Elf.SHN_UNDEF;
import static dev.jdyld.elf.Elf.U64;

/**
 * The plan made concrete in a mapped slab: the address of every group, loaded section and
 * linker-made piece, and segments to write them through, each exactly the size of its group or
 * section.
 */
final class SetImage {
    final SetPlan plan;
    final Slab slab;
    private final MemorySegment[] groups = new MemorySegment[PermissionGroup.values().length];
    private final long[] groupBase = new long[PermissionGroup.values().length];
    /** Per object, per section: the loaded address, or 0. */
    final long[][] sectionAddress;
    final long got;
    final long stubBase;
    /** Addresses of the linker-made pieces, or 0 where the set has none. */
    final long tlsCode;
    final long dsoHandle;
    final long glueCode;
    final long ifuncTable;

    SetImage(SetPlan plan, Slab slab) {
        this.plan = plan;
        this.slab = slab;
        for (PermissionGroup group : PermissionGroup.values()) {
            groups[group.ordinal()] = slab.segment(group);
            groupBase[group.ordinal()] = slab.address(group);
        }
        sectionAddress = new long[plan.objects.size()][];
        for (int o = 0; o < plan.objects.size(); o++) {
            ElfObject object = plan.objects.get(o);
            sectionAddress[o] = new long[object.sectionCount];
            for (int s = 1; s < object.sectionCount; s++) {
                if (plan.sections.isLoaded(o, s)) {
                    sectionAddress[o][s] = groupBase[plan.sections.group(o, s)] + plan.sections.offset(o, s);
                }
            }
        }
        SetPlan.LinkerSections pieces = plan.linkerSections;
        got = base(PermissionGroup.RELRO) + pieces.got();
        stubBase = base(PermissionGroup.TEXT) + pieces.stubs();
        tlsCode = at(PermissionGroup.TEXT, pieces.tlsCode());
        dsoHandle = at(PermissionGroup.RELRO, pieces.dsoHandle());
        glueCode = at(PermissionGroup.TEXT, pieces.glueCode());
        ifuncTable = at(PermissionGroup.DATA, pieces.ifuncTable());
    }

    long base(PermissionGroup group) {
        return groupBase[group.ordinal()];
    }

    private long at(PermissionGroup group, long offset) {
        return offset < 0 ? 0 : base(group) + offset;
    }

    MemorySegment segment(PermissionGroup group) {
        return groups[group.ordinal()];
    }

    /** The loaded bytes of a section, exactly its size. */
    MemorySegment section(int object, int section) {
        return groups[plan.sections.group(object, section)].asSlice(plan.sections.offset(object, section),
                plan.objects.get(object).sectionSize[section]);
    }

    long stubAddress(int stub) {
        return stubBase + (long) stub * plan.arch.stubSize();
    }

    /** Address of a GOT slot, or 0 for -1 (no slot). */
    long gotSlot(int slot) {
        return slot < 0 ? 0 : got + slot * GotTable.ENTRY_SIZE;
    }

    /** Writes consecutive GOT slots starting at {@code slot}. */
    void putGot(int slot, long... values) {
        MemorySegment relro = segment(PermissionGroup.RELRO);
        for (int i = 0; i < values.length; i++) {
            relro.set(U64, plan.linkerSections.got() + (slot + i) * GotTable.ENTRY_SIZE, values[i]);
        }
    }

    /** A defined symbol's address; for a thread-local variable, its offset in the set's TLS block. */
    long symbolAddress(int o, int symbol) {
        ElfObject object = plan.objects.get(o);
        int section = object.symbolSection[symbol];
        if (section == SHN_ABS) {
            return object.symbolValue[symbol];
        }
        if (section == SHN_UNDEF || section >= SHN_LORESERVE) {
            return 0;
        }
        long tlsOffset = plan.tls.offset(o, section);
        if (tlsOffset >= 0) {
            return tlsOffset + object.symbolValue[symbol];
        }
        return sectionAddress[o][section] + object.symbolValue[symbol];
    }
}
