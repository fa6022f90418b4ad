package dev.jdyld.link;

import dev.jdyld.elf.ElfObject;
import dev.jdyld.link.arch.Architecture;
import dev.jdyld.link.arch.Relocation;
import dev.jdyld.link.arch.ScanContext;
import dev.jdyld.link.arch.SymbolKind;
import dev.jdyld.link.arch.SymbolRef;
import dev.jdyld.link.arch.TlsModel;
import dev.jdyld.link.layout.BranchIslands;
import dev.jdyld.link.layout.GotTable;
import dev.jdyld.link.layout.SectionLayout;
import dev.jdyld.memory.AddressSpace;
import dev.jdyld.memory.MemoryMaps;

import java.util.ArrayList;
import java.util.List;

import static dev.jdyld.elf.Elf.*;

/**
 * The planning pass's one walk over every relocation of the set's loaded sections: validates
 * each entry (symbol index, field inside its section, target section loaded), applies the
 * machine-neutral rules (an IFUNC's address is its stub), and lets the architecture decide the
 * rest with the symbol in view, recording the needs in the plan's GOT and stub tables and
 * placement constraints.
 */
final class RelocationScan implements ScanContext {
    private final SetPlan plan;
    private final Architecture arch;
    private final Relocation relocation;
    private final Target target = new Target();
    private List<MemoryMaps.Mapping> executableRanges;

    /** The process the set will run in: whether a host address is code is read from its maps. */
    private final AddressSpace process;

    RelocationScan(SetPlan plan, AddressSpace process) {
        this.process = process;
        this.plan = plan;
        this.arch = plan.arch;
        this.relocation = new Relocation(arch);
    }

    void scanAll() {
        for (GlobalSymbol global : plan.symbols.globals) {
            // Every IFUNC the set defines gets its stub, referenced in the set or not: the stub is the
            // address lookups and later sets see, and without it they would get the resolver's.
            if (global.ifunc && global.kind == GlobalSymbol.Kind.DEFINED) {
                plan.stubs.requestIfunc(global.id);
            }
        }
        List<ElfObject> objects = plan.objects;
        SectionLayout sections = plan.sections;
        for (int o = 0; o < objects.size(); o++) {
            ElfObject object = objects.get(o);
            int[] globalOf = plan.symbols.globalOf[o];
            for (int rela : object.relaSections) {
                int section = object.sectionInfo[rela];
                if (!sections.isLoaded(o, section)) {
                    continue;
                }
                if (object.sectionType[section] == SHT_NOBITS) {
                    throw object.malformed(object.sectionName[rela], object.headerOffset(rela) + 44,
                            "relocations for NOBITS section " + object.sectionName[section]);
                }
                long sectionSize = object.sectionSize[section];
                long start = object.sectionOffset[rela];
                long end = start + object.sectionSize[rela];
                plan.relocationCount += (end - start) / RELA_SIZE;
                for (long entry = start; entry < end; entry += RELA_SIZE) {
                    long offset = object.u64(entry);
                    long info = object.u64(entry + 8);
                    int symbol = (int) (info >>> 32);
                    int type = (int) info;
                    if (symbol < 0 || symbol >= object.symbolCount) {
                        throw object.malformed(object.sectionName[rela], entry + 8, "relocation symbol index "
                                + Integer.toUnsignedString(symbol) + " outside the symbol table of " + object.symbolCount);
                    }
                    relocation.moveTo(object, section, offset, type, symbol, object.u64(entry + 16));
                    int width = arch.width(type);
                    if (width < 0) {
                        throw relocation.error("unsupported relocation");
                    }
                    if (offset < 0 || offset > sectionSize - width) {
                        throw object.malformed(object.sectionName[rela], entry, relocation.name() + " at offset 0x"
                                + Long.toHexString(offset) + " writes past the end of " + object.sectionName[section]
                                + " (" + sectionSize + " bytes)");
                    }
                    int g = globalOf[symbol];
                    GlobalSymbol global = g < 0 ? null : plan.symbols.globals.get(g);
                    if (global == null) {
                        checkLocalTarget(object, o, rela, symbol);
                    }
                    target.moveTo(o, symbol, global);
                    if (global != null && global.ifunc && global.kind == GlobalSymbol.Kind.DEFINED
                            && !arch.isThreadLocal(type)) {
                        plan.got.request(GotTable.Entry.ADDRESS, g);
                        plan.stubs.requestIfunc(g);
                        continue;
                    }
                    arch.scan(this, relocation, target);
                }
            }
        }
    }

    /** A local reference into a section that is not loaded is an error, but for .eh_frame into a dropped group. */
    private void checkLocalTarget(ElfObject object, int o, int rela, int symbol) {
        int section = object.symbolSection[symbol];
        if (section > 0 && section < SHN_LORESERVE && plan.sections.group(o, section) == SectionLayout.NOT_LOADED
                && !(plan.comdat.discarded[o][section] && SectionLayout.isEhFrame(object, object.sectionInfo[rela]))) {
            // (An .eh_frame FDE of a function in a dropped COMDAT group is left pointing nowhere, as
            // static linkers do; any other reference into a dropped group is an error.)
            throw relocation.error("the symbol is in section " + object.sectionName[section]
                    + ", which is not loaded");
        }
    }

    @Override
    public void got(SymbolRef symbol) {
        Target t = (Target) symbol;
        if (t.global != null) {
            plan.got.request(GotTable.Entry.ADDRESS, t.global.id);
        } else {
            plan.got.requestLocal(GotTable.Entry.ADDRESS, t.object, t.symbol);
        }
    }

    @Override
    public boolean mayBypassGot(SymbolRef symbol) {
        if (!plan.relaxGot) {
            return false;
        }
        Target t = (Target) symbol;
        int object = t.object;
        int index = t.symbol;
        if (t.global != null) {
            // A definition of the set's objects or a common symbol it allocates; not one the linker
            // makes (__tls_get_addr is called through sequences that must stay as they are).
            if (t.global.kind != GlobalSymbol.Kind.DEFINED && t.global.kind != GlobalSymbol.Kind.COMMON
                    || t.global.ifunc || t.global.tls) {
                return false;
            }
            if (t.global.kind == GlobalSymbol.Kind.COMMON) {
                return true;
            }
            object = t.global.object;
            index = t.global.symbol;
        }
        ElfObject defining = plan.objects.get(object);
        int section = defining.symbolSection[index];
        int type = defining.symbolType(index);
        return section > 0 && section < SHN_LORESERVE && plan.sections.isLoaded(object, section)
                && plan.tls.offset(object, section) < 0 && type != STT_GNU_IFUNC && type != STT_TLS;
    }

    @Override
    public void branch(SymbolRef symbol) {
        GlobalSymbol global = ((Target) symbol).global;
        if (global != null && global.kind == GlobalSymbol.Kind.EARLIER_SET && plan.directCallsToEarlierSets) {
            // Calls into an earlier set are direct: the set is placed within reach of it.
            plan.hasDirectCallsToEarlierSets = true;
            plan.placement.requireNear(global.address, null);
        } else if (global != null && !global.isInSet()) {
            got(symbol);
            plan.stubs.request(global.id);
        }
    }

    @Override
    public void canonicalStub(SymbolRef symbol) {
        got(symbol);
        plan.stubs.requestCanonical(((Target) symbol).global.id);
    }

    @Override
    public void requireLow2GiB(Relocation relocation) {
        plan.placement.requireLow2GiB(relocation.describe());
    }

    @Override
    public void rangeExtension(Relocation relocation, SymbolRef symbol) {
        BranchIslands islands = plan.islands;
        if (islands == null) {
            return;
        }
        Target t = (Target) symbol;
        int from = islands.part(t.object, relocation.targetSection());
        int to;
        BranchIslands.Target key;
        if (t.global == null) {
            to = islands.part(t.object, plan.objects.get(t.object).symbolSection[t.symbol]);
            key = new BranchIslands.Target(t.object, t.symbol, relocation.addend());
        } else {
            to = t.global.kind == GlobalSymbol.Kind.DEFINED
                    ? islands.part(t.global.object, plan.objects.get(t.global.object).symbolSection[t.global.symbol]) : -1;
            key = new BranchIslands.Target(-1, t.global.id, relocation.addend());
        }
        if (from >= 0 && to != from) {
            islands.request(from, key);
        }
    }

    @Override
    public void limitReach(Relocation relocation, SymbolRef symbol, long reach) {
        Target t = (Target) symbol;
        if (t.global == null && plan.objects.get(t.object).symbolSection[t.symbol] == relocation.targetSection()) {
            return; // a label in the same section: the compiler kept it in range
        }
        plan.placement.limitReach(reach, relocation.describe());
    }

    @Override
    public void requireNear(Relocation relocation, SymbolRef symbol) {
        GlobalSymbol global = ((Target) symbol).global;
        plan.placement.requireNear(symbol.address(), relocation.name() + " against host symbol '" + global.name
                + "' in " + relocation.object().name + " section " + relocation.object().sectionName[relocation.targetSection()]);
    }

    /**
     * General and local dynamic and TLS descriptors reach the set's own variables through its
     * per-thread blocks; initial exec reaches the host's (static TLS, at a fixed offset from the
     * thread pointer). Initial or local exec of the set's own variables puts the set's whole block
     * in static TLS, where the dynamic models find it too: a variable has one copy per thread
     * whichever way its objects were compiled.
     */
    @Override
    public void threadLocal(Relocation relocation, SymbolRef symbol, TlsModel model) {
        plan.usesTls = true;
        Target t = (Target) symbol;
        boolean hostTls = t.global != null && t.global.kind == GlobalSymbol.Kind.HOST;
        if (t.symbol != 0 && !hostTls && !isSetThreadLocal(t)) {
            throw relocation.error("the symbol is not a thread-local variable of the set");
        }
        switch (model) {
            case INITIAL_EXEC -> {
                plan.staticTls |= !hostTls;
                got(symbol);
                return;
            }
            case LOCAL_EXEC -> {
                if (hostTls) {
                    throw relocation.error("local-exec access to a host library's thread-local variable: its offset"
                            + " from the thread pointer is not known to the compiler; use -ftls-model=initial-exec");
                }
                plan.staticTls = true;
                return;
            }
            default -> { }
        }
        if (hostTls) {
            throw relocation.error("dynamic access to a host library's thread-local variable is not supported;"
                    + " use -ftls-model=initial-exec for host variables");
        }
        switch (model) {
            case GENERAL_DYNAMIC -> request(GotTable.Entry.TLS_INDEX, t);
            case DESCRIPTOR -> request(GotTable.Entry.TLS_DESCRIPTOR, t);
            case LOCAL_DYNAMIC -> plan.got.requestModuleIndex();
            default -> { }
        }
    }

    private void request(GotTable.Entry entry, Target t) {
        if (t.global != null) {
            plan.got.request(entry, t.global.id);
        } else {
            plan.got.requestLocal(entry, t.object, t.symbol);
        }
    }

    /** Whether a symbol names a thread-local variable (or TLS section) defined by the set. */
    private boolean isSetThreadLocal(Target t) {
        ElfObject object = plan.objects.get(t.object);
        int symbol = t.symbol;
        if (t.global != null) {
            if (t.global.kind != GlobalSymbol.Kind.DEFINED) {
                return false;
            }
            object = plan.objects.get(t.global.object);
            symbol = t.global.symbol;
        }
        int section = object.symbolSection[symbol];
        return object.symbolType(symbol) == STT_TLS
                || (section > 0 && section < SHN_LORESERVE && (object.sectionFlags[section] & SHF_TLS) != 0);
    }

    /** Whether a host address is inside an executable mapping: a function rather than data. */
    private boolean isHostCode(long address) {
        if (executableRanges == null) {
            executableRanges = new ArrayList<>();
            for (MemoryMaps.Mapping mapping : process.mappings()) {
                if (mapping.permissions().charAt(2) == 'x') {
                    executableRanges.add(mapping);
                }
            }
        }
        for (MemoryMaps.Mapping mapping : executableRanges) {
            if (address >= mapping.start() && address < mapping.end()) {
                return true;
            }
        }
        return false;
    }

    /** The current relocation's symbol, as the architecture sees it; one instance, moved along. */
    private final class Target implements SymbolRef {
        int object;
        int symbol;
        GlobalSymbol global;

        void moveTo(int object, int symbol, GlobalSymbol global) {
            this.object = object;
            this.symbol = symbol;
            this.global = global;
        }

        @Override
        public SymbolKind kind() {
            if (global == null) {
                return SymbolKind.LOCAL;
            }
            return switch (global.kind) {
                case DEFINED, COMMON, LINKER_DEFINED -> SymbolKind.SET;
                case EARLIER_SET -> SymbolKind.EARLIER_SET;
                case HOST -> SymbolKind.HOST;
                case UNDEFINED_WEAK -> SymbolKind.UNDEFINED_WEAK;
                case UNDEFINED -> throw new IllegalStateException("unresolved symbol " + global.name + " in the scan");
            };
        }

        @Override
        public long address() {
            return global == null ? 0 : global.address;
        }

        @Override
        public boolean isHostFunction() {
            return global != null && global.kind == GlobalSymbol.Kind.HOST && isHostCode(global.address);
        }

        @Override
        public boolean refersToAddress() {
            if (symbol == 0) {
                return false;
            }
            if (global == null) {
                return plan.objects.get(object).symbolSection[symbol] != SHN_ABS;
            }
            return switch (global.kind) {
                case UNDEFINED_WEAK -> false;
                case DEFINED -> plan.objects.get(global.object).symbolSection[global.symbol] != SHN_ABS;
                default -> true;
            };
        }
    }
}
