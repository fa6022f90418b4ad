package dev.jdyld.link;

import dev.jdyld.memory.MemoryException;
import dev.jdyld.memory.MemoryManager;
import dev.jdyld.memory.PermissionGroup;
import dev.jdyld.memory.Slab;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static dev.jdyld.link.Elf.*;

/**
 * Links one set, in this order (each step only reads what the previous ones produced):
 * <ol>
 *   <li>resolve symbols ({@link SymbolTable});</li>
 *   <li>scan relocations and plan the layout ({@link LayoutPlan}): exact GOT and stub counts,
 *       group sizes, placement constraints;</li>
 *   <li>map the slab; copy section bytes; compute addresses;</li>
 *   <li>fill the GOT, write stubs, apply relocations;</li>
 *   <li>give each permission group its final protection.</li>
 * </ol>
 * Any failure after the slab is mapped unmaps it before the exception leaves, so a failed load
 * leaves nothing behind.
 */
final class SetLinker {
    private static final long GOT_ENTRY_SIZE = 8;
    private static final String LINKER_OBJECT = "<jdyld>";

    private final Architecture arch;
    private final MemoryManager memory;
    private final HostSymbols host;
    private final SymbolTable.EarlierSets earlier;

    SetLinker(Architecture arch, MemoryManager memory, HostSymbols host, SymbolTable.EarlierSets earlier) {
        this.arch = arch;
        this.memory = memory;
        this.host = host;
        this.earlier = earlier;
    }

    /** The result of a successful link, before it is wrapped for users. */
    record Linked(Slab slab, Map<String, Long> exports, Map<String, Long> sizes, SetLayout layout) {}

    Linked link(List<ElfObject> objects) {
        for (ElfObject object : objects) {
            if (object.machine != arch.machine()) {
                throw new UnsupportedObjectException(object.name + ": object is for " + machineName(object.machine)
                        + " but the set is linked for " + machineName(arch.machine()));
            }
        }
        SymbolTable symbols = new SymbolTable(objects);
        symbols.resolve(earlier, host);
        LayoutPlan plan = LayoutPlan.plan(arch, symbols, true);
        Slab slab;
        try {
            slab = memory.allocate(plan.slabRequest());
        } catch (MemoryException placementFailed) {
            if (!plan.hasDirectCallsToEarlierSets) {
                throw cannotPlace(objects, placementFailed);
            }
            // No window reaches the earlier sets it calls: plan again with stubs for those calls.
            symbols = new SymbolTable(objects);
            symbols.resolve(earlier, host);
            plan = LayoutPlan.plan(arch, symbols, false);
            try {
                slab = memory.allocate(plan.slabRequest());
            } catch (MemoryException e) {
                throw cannotPlace(objects, e);
            }
        }
        try {
            return fill(objects, symbols, plan, slab);
        } catch (Throwable t) {
            slab.close();
            throw t;
        }
    }

    private static LinkException cannotPlace(List<ElfObject> objects, MemoryException e) {
        return new LinkException(objects.get(0).name + (objects.size() > 1 ? " and " + (objects.size() - 1) + " more" : "")
                + ": cannot place the set: " + e.getMessage(), e);
    }

    private Linked fill(List<ElfObject> objects, SymbolTable symbols, LayoutPlan plan, Slab slab) {
        int n = objects.size();
        MemorySegment[] groups = new MemorySegment[PermissionGroup.values().length];
        long[] groupBase = new long[groups.length];
        for (PermissionGroup group : PermissionGroup.values()) {
            groups[group.ordinal()] = slab.segment(group);
            groupBase[group.ordinal()] = slab.address(group);
        }

        // Section addresses, and section bytes copied into place (NOBITS stays as mapped: zero).
        long[][] sectionAddress = new long[n][];
        for (int o = 0; o < n; o++) {
            ElfObject object = objects.get(o);
            sectionAddress[o] = new long[object.sectionCount];
            for (int s = 1; s < object.sectionCount; s++) {
                int group = plan.sectionGroup[o][s];
                if (group == LayoutPlan.NOT_LOADED) {
                    continue;
                }
                long offset = plan.sectionOffset[o][s];
                sectionAddress[o][s] = groupBase[group] + offset;
                if (object.sectionType[s] != SHT_NOBITS && object.sectionSize[s] > 0) {
                    MemorySegment.copy(object.data, object.sectionOffset[s], groups[group], offset, object.sectionSize[s]);
                }
            }
        }

        long got = groupBase[PermissionGroup.RELRO.ordinal()] + plan.gotOffset;
        long stubBase = groupBase[PermissionGroup.TEXT.ordinal()] + plan.stubOffset;

        // Addresses of the set's own global definitions.
        for (GlobalSymbol global : symbols.globals) {
            switch (global.kind) {
                case DEFINED -> {
                    ElfObject object = objects.get(global.object);
                    global.address = symbolAddress(object, sectionAddress[global.object], global.symbol);
                }
                case COMMON -> global.address = groupBase[PermissionGroup.DATA.ordinal()] + plan.commonOffset[global.id];
                case LINKER_DEFINED -> global.address = got;
                default -> { }
            }
        }

        // GOT slots and stubs of globals.
        MemorySegment relro = groups[PermissionGroup.RELRO.ordinal()];
        MemorySegment text = groups[PermissionGroup.TEXT.ordinal()];
        for (GlobalSymbol global : symbols.globals) {
            if (global.gotSlot >= 0) {
                relro.set(ElfObject.U64, plan.gotOffset + global.gotSlot * GOT_ENTRY_SIZE, global.address);
            }
            if (global.stub >= 0) {
                long offset = plan.stubOffset + (long) global.stub * arch.stubSize();
                arch.writeStub(text, offset, stubBase + (long) global.stub * arch.stubSize(),
                        got + global.gotSlot * GOT_ENTRY_SIZE);
            }
        }

        // Per-object resolved symbol arrays, local GOT slots, then relocation.
        for (int o = 0; o < n; o++) {
            ElfObject object = objects.get(o);
            ResolvedSymbols resolved = resolve(object, o, symbols, plan, sectionAddress[o], got, stubBase);
            int[] localSlots = plan.localGotSlot[o];
            if (localSlots != null) {
                for (int s = 0; s < localSlots.length; s++) {
                    if (localSlots[s] >= 0) {
                        relro.set(ElfObject.U64, plan.gotOffset + localSlots[s] * GOT_ENTRY_SIZE, resolved.address[s]);
                    }
                }
            }
            for (int rela : object.relaSections) {
                int target = object.sectionInfo[rela];
                int group = plan.sectionGroup[o][target];
                if (group == LayoutPlan.NOT_LOADED) {
                    continue;
                }
                MemorySegment section = groups[group].asSlice(plan.sectionOffset[o][target], object.sectionSize[target]);
                arch.relocate(object, rela, section, sectionAddress[o][target], resolved, got);
            }
        }

        slab.finalizePermissions();

        Map<String, Long> exports = new HashMap<>();
        Map<String, Long> sizes = new HashMap<>();
        for (GlobalSymbol global : symbols.globals) {
            boolean exported = switch (global.kind) {
                case DEFINED -> objects.get(global.object).visibility(global.symbol) != STV_HIDDEN
                        && objects.get(global.object).visibility(global.symbol) != STV_INTERNAL;
                case COMMON -> true;
                default -> false;
            };
            if (exported) {
                exports.put(global.name, global.address);
                sizes.put(global.name, global.size);
            }
        }
        return new Linked(slab, exports, sizes, describe(objects, plan, slab, sectionAddress, got, stubBase));
    }

    private static long symbolAddress(ElfObject object, long[] sectionAddress, int symbol) {
        int section = object.symbolSection[symbol];
        if (section == SHN_ABS) {
            return object.symbolValue[symbol];
        }
        if (section == SHN_UNDEF || section >= SHN_LORESERVE) {
            return 0;
        }
        return sectionAddress[section] + object.symbolValue[symbol];
    }

    private ResolvedSymbols resolve(ElfObject object, int o, SymbolTable symbols, LayoutPlan plan,
                                    long[] sectionAddress, long got, long stubBase) {
        int count = object.symbolCount;
        ResolvedSymbols r = new ResolvedSymbols(count);
        int[] globalOf = symbols.globalOf[o];
        int[] localSlots = plan.localGotSlot[o];
        for (int s = 1; s < count; s++) {
            int g = globalOf[s];
            if (g >= 0) {
                GlobalSymbol global = symbols.globals.get(g);
                long stub = global.stub >= 0 ? stubBase + (long) global.stub * arch.stubSize() : 0;
                r.address[s] = global.canonicalStub ? stub : global.address;
                r.size[s] = global.size;
                r.gotSlot[s] = global.gotSlot >= 0 ? got + global.gotSlot * GOT_ENTRY_SIZE : 0;
                r.callTarget[s] = global.stub >= 0 ? stub : global.address;
            } else {
                long address = symbolAddress(object, sectionAddress, s);
                r.address[s] = address;
                r.size[s] = object.symbolSize[s];
                r.gotSlot[s] = localSlots != null && localSlots[s] >= 0 ? got + localSlots[s] * GOT_ENTRY_SIZE : 0;
                r.callTarget[s] = address;
            }
        }
        return r;
    }

    private SetLayout describe(List<ElfObject> objects, LayoutPlan plan, Slab slab, long[][] sectionAddress,
                               long got, long stubBase) {
        List<SetLayout.Group> groups = new ArrayList<>();
        for (PermissionGroup group : PermissionGroup.values()) {
            if (slab.length(group) > 0) {
                groups.add(new SetLayout.Group(group.name(), slab.address(group), slab.length(group),
                        group.finalProtection().mapsString()));
            }
        }
        List<SetLayout.Section> sections = new ArrayList<>();
        for (int o = 0; o < objects.size(); o++) {
            ElfObject object = objects.get(o);
            for (int s = 1; s < object.sectionCount; s++) {
                int group = plan.sectionGroup[o][s];
                if (group != LayoutPlan.NOT_LOADED) {
                    sections.add(new SetLayout.Section(object.name, object.sectionName[s],
                            PermissionGroup.values()[group].name(), sectionAddress[o][s], object.sectionSize[s],
                            object.sectionAlign[s]));
                }
            }
        }
        if (plan.gotEntries > 0) {
            sections.add(new SetLayout.Section(LINKER_OBJECT, ".got", PermissionGroup.RELRO.name(), got,
                    plan.gotEntries * GOT_ENTRY_SIZE, GOT_ENTRY_SIZE));
        }
        if (plan.stubs > 0) {
            sections.add(new SetLayout.Section(LINKER_OBJECT, ".stubs", PermissionGroup.TEXT.name(), stubBase,
                    (long) plan.stubs * arch.stubSize(), arch.stubSize()));
        }
        for (GlobalSymbol global : plan.symbols.globals) {
            if (global.kind == GlobalSymbol.Kind.COMMON) {
                sections.add(new SetLayout.Section(LINKER_OBJECT, "COMMON " + global.name, PermissionGroup.DATA.name(),
                        global.address, global.commonSize, global.commonAlign));
            }
        }
        sections.sort(Comparator.comparingLong(SetLayout.Section::address));
        return new SetLayout(groups, sections, plan.gotEntries, plan.stubs, plan.relocationCount);
    }
}
