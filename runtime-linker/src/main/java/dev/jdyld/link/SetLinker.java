package dev.jdyld.link;

import dev.jdyld.memory.MemoryException;
import dev.jdyld.memory.MemoryManager;
import dev.jdyld.memory.PermissionGroup;
import dev.jdyld.memory.Slab;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

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
    /** Static TLS (the executable's, and libraries' loaded at start or with DF_STATIC_TLS) lies within this of the thread pointer. */
    private static final long STATIC_TLS_LIMIT = 1L << 24;
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
    record Linked(Slab slab, ThreadLocalStorage tls, Map<String, Long> exports, Map<String, Long> sizes,
                  SetLayout layout, long dsoHandle, List<Long> ehFrames, Initializers.Calls initializers,
                  Set<String> groups) {}

    Linked link(List<ElfObject> objects, List<InputSelection.Pulled> pulled) {
        for (ElfObject object : objects) {
            if (object.machine != arch.machine()) {
                throw new UnsupportedObjectException(object.name + ": object is for " + machineName(object.machine)
                        + " but the set is linked for " + machineName(arch.machine()));
            }
        }
        Set<String> keptGroups = dropDuplicateGroups(objects);
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
        ThreadLocalStorage[] tls = new ThreadLocalStorage[1];
        try {
            return fill(objects, symbols, plan, slab, tls, pulled, keptGroups);
        } catch (Throwable t) {
            if (tls[0] != null) {
                tls[0].close();
            }
            slab.close();
            throw t;
        }
    }

    /**
     * COMDAT groups: the first group of each signature in the set is kept, unless a set loaded
     * earlier kept one; every other copy is dropped whole (its sections, their relocations, and its
     * definitions, which then resolve to the kept copy). Returns the signatures this set keeps.
     */
    private Set<String> dropDuplicateGroups(List<ElfObject> objects) {
        Set<String> kept = new HashSet<>();
        for (ElfObject object : objects) {
            for (ElfObject.Group group : object.comdatGroups()) {
                if (earlier.keepsGroup(group.signature()) || !kept.add(group.signature())) {
                    for (int member : group.members()) {
                        object.discarded[member] = true;
                    }
                }
            }
        }
        return kept;
    }

    private static LinkException cannotPlace(List<ElfObject> objects, MemoryException e) {
        return new LinkException(objects.get(0).name + (objects.size() > 1 ? " and " + (objects.size() - 1) + " more" : "")
                + ": cannot place the set: " + e.getMessage(), e);
    }

    private Linked fill(List<ElfObject> objects, SymbolTable symbols, LayoutPlan plan, Slab slab,
                        ThreadLocalStorage[] tlsOut, List<InputSelection.Pulled> pulled, Set<String> keptGroups) {
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
                if (group < 0) {
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
        MemorySegment relro = groups[PermissionGroup.RELRO.ordinal()];
        MemorySegment text = groups[PermissionGroup.TEXT.ordinal()];

        // Thread-local storage: the set's key, its runtime code, its template.
        ThreadLocalStorage tls = null;
        long tlsCode = groupBase[PermissionGroup.TEXT.ordinal()] + plan.tlsCodeOffset;
        if (plan.usesTls) {
            arch.writeTlsCode(text, plan.tlsCodeOffset, ThreadLocalStorage.PTHREAD_GETSPECIFIC, ThreadLocalStorage.SLOW_PATH,
                    ThreadLocalStorage.FREE_ADDRESS);
            tls = ThreadLocalStorage.create(tlsCode + arch.tlsDestructorEntry(),
                    groupBase[PermissionGroup.RELRO.ordinal()] + plan.tlsTemplateOffset, plan.tlsTemplateSize,
                    plan.tlsBlockSize, plan.tlsAlign);
            tlsOut[0] = tls;
        }
        long tlsModule = tls == null ? 0 : tls.moduleId();
        long dsoHandle = plan.dsoHandleOffset < 0 ? 0 : groupBase[PermissionGroup.RELRO.ordinal()] + plan.dsoHandleOffset;
        long glueCode = groupBase[PermissionGroup.TEXT.ordinal()] + plan.glueCodeOffset;
        long ifuncTable = groupBase[PermissionGroup.DATA.ordinal()] + plan.ifuncTableOffset;
        if (plan.glueCodeOffset >= 0) {
            arch.writeGlueCode(text, plan.glueCodeOffset, glueCode, dsoHandle);
        }
        long tlsResolver = tlsCode + arch.tlsDescriptorResolverEntry();
        long threadPointer = 0;

        // Addresses of the set's own global definitions.
        for (GlobalSymbol global : symbols.globals) {
            switch (global.kind) {
                case DEFINED -> {
                    ElfObject object = objects.get(global.object);
                    global.address = symbolAddress(object, sectionAddress[global.object], plan.tlsOffset[global.object],
                            global.symbol);
                }
                case COMMON -> global.address = groupBase[PermissionGroup.DATA.ordinal()] + plan.commonOffset[global.id];
                case LINKER_DEFINED -> global.address = switch (global.name) {
                    case SymbolTable.TLS_GET_ADDR -> tlsCode + arch.tlsGetAddrEntry();
                    case SymbolTable.DSO_HANDLE -> dsoHandle;
                    case SymbolTable.GLOBAL_OFFSET_TABLE -> got;
                    default -> glueCode + arch.glueEntry(global.name);
                };
                default -> { }
            }
        }

        // GOT slots, TLS pairs and descriptors, and stubs of globals.
        for (GlobalSymbol global : symbols.globals) {
            if (global.gotSlot >= 0) {
                long value = global.address;
                if (global.tls && global.kind == GlobalSymbol.Kind.HOST) {
                    // Initial exec of a host variable: static TLS sits at one offset from every thread's pointer.
                    if (threadPointer == 0) {
                        threadPointer = ThreadLocalStorage.threadPointer();
                    }
                    value = global.address - threadPointer;
                    if (value >= 0 || value < -STATIC_TLS_LIMIT) {
                        throw new RelocationException("host thread-local variable '" + global.name + "' is at 0x"
                                + Long.toHexString(global.address) + ", not in static TLS below the thread pointer 0x"
                                + Long.toHexString(threadPointer) + ": initial-exec access would be wrong on other"
                                + " threads; build the host library with -ftls-model=initial-exec");
                    }
                }
                if (global.ifunc && global.kind == GlobalSymbol.Kind.DEFINED) {
                    value = stubAddress(stubBase, global);
                }
                putGot(relro, plan, global.gotSlot, value);
            }
            if (global.tlsGdSlot >= 0) {
                putGot(relro, plan, global.tlsGdSlot, tlsModule, global.address);
            }
            if (global.tlsDescSlot >= 0) {
                putGot(relro, plan, global.tlsDescSlot, tlsResolver, tlsModule, global.address);
            }
            if (global.stub >= 0) {
                long offset = plan.stubOffset + (long) global.stub * arch.stubSize();
                long slot = global.ifuncSlot >= 0 ? ifuncTable + global.ifuncSlot * GOT_ENTRY_SIZE
                        : got + global.gotSlot * GOT_ENTRY_SIZE;
                arch.writeStub(text, offset, stubAddress(stubBase, global), slot);
            }
        }

        // Per-object resolved symbol arrays, local GOT slots, then relocation.
        for (int o = 0; o < n; o++) {
            ElfObject object = objects.get(o);
            ResolvedSymbols resolved = resolve(object, o, symbols, plan, sectionAddress[o], got, stubBase);
            int[] localSlots = plan.localGotSlot[o];
            int[] localGd = plan.localTlsGdSlot[o];
            int[] localDesc = plan.localTlsDescSlot[o];
            for (int s = 0; s < object.symbolCount; s++) {
                if (localSlots != null && localSlots[s] >= 0) {
                    putGot(relro, plan, localSlots[s], resolved.address[s]);
                }
                if (localGd != null && localGd[s] >= 0) {
                    putGot(relro, plan, localGd[s], tlsModule, resolved.address[s]);
                }
                if (localDesc != null && localDesc[s] >= 0) {
                    putGot(relro, plan, localDesc[s], tlsResolver, tlsModule, resolved.address[s]);
                }
            }
            resolved.tlsModule = tlsModule;
            resolved.tlsLdSlot = plan.tlsLdSlot >= 0 ? got + plan.tlsLdSlot * GOT_ENTRY_SIZE : 0;
            for (int rela : object.relaSections) {
                int target = object.sectionInfo[rela];
                int group = plan.sectionGroup[o][target];
                if (group < 0) {
                    continue;
                }
                MemorySegment section = groups[group].asSlice(plan.sectionOffset[o][target], object.sectionSize[target]);
                arch.relocate(object, rela, section, sectionAddress[o][target], resolved, got);
            }
        }

        if (plan.tlsLdSlot >= 0) {
            putGot(relro, plan, plan.tlsLdSlot, tlsModule, 0);
        }
        slab.finalizePermissions();
        List<Initializers.Ifunc> ifuncs = new ArrayList<>();
        for (GlobalSymbol global : symbols.globals) {
            if (global.ifuncSlot >= 0) {
                ifuncs.add(new Initializers.Ifunc(global.address, plan.ifuncTableOffset + global.ifuncSlot * GOT_ENTRY_SIZE));
            }
        }
        Initializers.Calls initializers = Initializers.collect(objects, plan.sectionGroup,
                (o, s) -> slab.segment(PermissionGroup.values()[plan.sectionGroup[o][s]])
                        .asSlice(plan.sectionOffset[o][s], objects.get(o).sectionSize[s]));

        Map<String, Long> exports = new HashMap<>();
        Map<String, Long> sizes = new HashMap<>();
        collectExports(objects, symbols, stubBase, exports, sizes);
        return new Linked(slab, tls, exports, sizes, describe(objects, plan, slab, sectionAddress, got, stubBase, pulled),
                dsoHandle, ehFrames(objects, plan, sectionAddress),
                new Initializers.Calls(ifuncs, initializers.init(), initializers.fini()), keptGroups);
    }

    private long stubAddress(long stubBase, GlobalSymbol global) {
        return stubBase + (long) global.stub * arch.stubSize();
    }

    /** Each loaded object's {@code .eh_frame}, to register with the unwinder. */
    private static List<Long> ehFrames(List<ElfObject> objects, LayoutPlan plan, long[][] sectionAddress) {
        List<Long> ehFrames = new ArrayList<>();
        for (int o = 0; o < objects.size(); o++) {
            ElfObject object = objects.get(o);
            for (int s = 1; s < object.sectionCount; s++) {
                if (plan.sectionGroup[o][s] >= 0 && object.sectionSize[s] > 0 && LayoutPlan.isEhFrame(object, s)) {
                    ehFrames.add(sectionAddress[o][s]);
                }
            }
        }
        return ehFrames;
    }

    /** Global, non-hidden definitions of the set: what lookups and later sets see (an IFUNC as its stub). */
    private void collectExports(List<ElfObject> objects, SymbolTable symbols, long stubBase, Map<String, Long> exports,
                                Map<String, Long> sizes) {
        for (GlobalSymbol global : symbols.globals) {
            boolean exported = switch (global.kind) {
                case DEFINED -> objects.get(global.object).visibility(global.symbol) != STV_HIDDEN
                        && objects.get(global.object).visibility(global.symbol) != STV_INTERNAL;
                case COMMON -> true;
                default -> false;
            };
            if (exported) {
                exports.put(global.name, global.canonicalStub && global.stub >= 0
                        ? stubAddress(stubBase, global) : global.address);
                sizes.put(global.name, global.size);
            }
        }
    }

    /** A defined symbol's address; for a thread-local variable, its offset in the set's TLS block. */
    private static long symbolAddress(ElfObject object, long[] sectionAddress, long[] tlsOffset, int symbol) {
        int section = object.symbolSection[symbol];
        if (section == SHN_ABS) {
            return object.symbolValue[symbol];
        }
        if (section == SHN_UNDEF || section >= SHN_LORESERVE) {
            return 0;
        }
        if (tlsOffset[section] >= 0) {
            return tlsOffset[section] + object.symbolValue[symbol];
        }
        return sectionAddress[section] + object.symbolValue[symbol];
    }

    /** Writes consecutive GOT slots starting at {@code slot}. */
    private static void putGot(MemorySegment relro, LayoutPlan plan, int slot, long... values) {
        for (int i = 0; i < values.length; i++) {
            relro.set(ElfObject.U64, plan.gotOffset + (slot + i) * GOT_ENTRY_SIZE, values[i]);
        }
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
                long stub = global.stub >= 0 ? stubAddress(stubBase, global) : 0;
                r.address[s] = global.canonicalStub ? stub : global.address;
                r.size[s] = global.size;
                r.gotSlot[s] = global.gotSlot >= 0 ? got + global.gotSlot * GOT_ENTRY_SIZE : 0;
                r.tlsGdSlot[s] = global.tlsGdSlot >= 0 ? got + global.tlsGdSlot * GOT_ENTRY_SIZE : 0;
                r.tlsDescSlot[s] = global.tlsDescSlot >= 0 ? got + global.tlsDescSlot * GOT_ENTRY_SIZE : 0;
                r.callTarget[s] = global.stub >= 0 ? stub : global.address;
            } else {
                long address = symbolAddress(object, sectionAddress, plan.tlsOffset[o], s);
                r.address[s] = address;
                r.size[s] = object.symbolSize[s];
                r.gotSlot[s] = localSlots != null && localSlots[s] >= 0 ? got + localSlots[s] * GOT_ENTRY_SIZE : 0;
                int[] gd = plan.localTlsGdSlot[o];
                int[] desc = plan.localTlsDescSlot[o];
                r.tlsGdSlot[s] = gd != null && gd[s] >= 0 ? got + gd[s] * GOT_ENTRY_SIZE : 0;
                r.tlsDescSlot[s] = desc != null && desc[s] >= 0 ? got + desc[s] * GOT_ENTRY_SIZE : 0;
                r.callTarget[s] = address;
            }
        }
        return r;
    }

    private SetLayout describe(List<ElfObject> objects, LayoutPlan plan, Slab slab, long[][] sectionAddress,
                               long got, long stubBase, List<InputSelection.Pulled> pulled) {
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
                if (group >= 0) {
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
        List<SetLayout.Member> members = pulled.stream()
                .map(p -> new SetLayout.Member(p.archive(), p.member(), p.symbol())).toList();
        return new SetLayout(groups, sections, plan.gotEntries, plan.stubs, plan.relocationCount, members);
    }
}
