package dev.jdyld.link;

import dev.jdyld.memory.MemoryMaps;
import dev.jdyld.memory.PermissionGroup;
import dev.jdyld.memory.Placement;
import dev.jdyld.memory.SlabRequest;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.jdyld.link.Elf.*;

/**
 * The planning pass: one walk over every relocation of the set that validates it and records
 * what it needs (GOT slots, stubs, placement constraints), then the placement of every loaded
 * section, the GOT, the stubs and the common symbols at offsets inside their permission group.
 * Its result sizes the slab exactly; nothing is mapped before it is complete.
 */
final class LayoutPlan {
    static final int NOT_LOADED = -1;
    /** A {@code .tbss}-like section: part of the TLS block, not of the slab. */
    static final int TLS_ONLY = -2;
    private static final long GOT_ENTRY_SIZE = 8;

    final Architecture arch;
    final SymbolTable symbols;
    final List<ElfObject> objects;

    /** Per object, per section: the group ordinal, or {@link #NOT_LOADED}. */
    final int[][] sectionGroup;
    /** Per object, per section: offset inside its group. */
    final long[][] sectionOffset;
    /** Per object, per local symbol: GOT slot, TLS GD pair, TLS descriptor, or -1 (allocated when needed). */
    final int[][] localGotSlot;
    final int[][] localTlsGdSlot;
    final int[][] localTlsDescSlot;

    /** Per object, per section: offset in the set's TLS block, or -1 for sections that are not TLS. */
    final long[][] tlsOffset;
    boolean usesTls;
    long tlsTemplateOffset;  // in RELRO: the .tdata image blocks are copied from
    long tlsTemplateSize;
    long tlsBlockSize;
    long tlsAlign = 1;
    long tlsCodeOffset;      // in TEXT: __tls_get_addr, the descriptor resolver, the key destructor
    int tlsLdSlot = -1;      // the set's local-dynamic tls_index pair

    /** The set's {@code __dso_handle} (in RELRO) and C runtime glue (in TEXT), when needed; -1 otherwise. */
    long dsoHandleOffset = -1;
    long glueCodeOffset = -1;
    /** IFUNCs defined by the set, and their jump slots (in DATA). */
    int ifuncs;
    long ifuncTableOffset;

    final long[] groupSize = new long[PermissionGroup.values().length];
    final long[] groupAlign = new long[PermissionGroup.values().length];

    int gotEntries;
    int stubs;
    long gotOffset;   // in RELRO
    long stubOffset;  // in TEXT
    /** Per global id with kind COMMON: offset in DATA. */
    final long[] commonOffset;

    boolean needsLow2GiB;
    /** Where the first 32-bit absolute address and the first PC-relative host data reference are, for errors. */
    String lowReason;
    String nearReason;
    long nearLow = Long.MAX_VALUE;
    long nearHigh = Long.MIN_VALUE;
    long relocationCount;
    private List<MemoryMaps.Mapping> executableRanges;

    /** Whether calls into earlier sets are direct (the set must then be placed within reach of them). */
    final boolean directCallsToEarlierSets;
    boolean hasDirectCallsToEarlierSets;

    LayoutPlan(Architecture arch, SymbolTable symbols, boolean directCallsToEarlierSets) {
        this.arch = arch;
        this.directCallsToEarlierSets = directCallsToEarlierSets;
        this.symbols = symbols;
        this.objects = symbols.objects;
        int n = objects.size();
        sectionGroup = new int[n][];
        sectionOffset = new long[n][];
        localGotSlot = new int[n][];
        localTlsGdSlot = new int[n][];
        localTlsDescSlot = new int[n][];
        tlsOffset = new long[n][];
        commonOffset = new long[symbols.globals.size()];
        Arrays.fill(groupAlign, 1);
        for (int o = 0; o < n; o++) {
            ElfObject object = objects.get(o);
            sectionGroup[o] = new int[object.sectionCount];
            sectionOffset[o] = new long[object.sectionCount];
            tlsOffset[o] = new long[object.sectionCount];
            Arrays.fill(tlsOffset[o], -1);
            for (int s = 0; s < object.sectionCount; s++) {
                sectionGroup[o][s] = classify(object, s);
            }
        }
    }

    static LayoutPlan plan(Architecture arch, SymbolTable symbols, boolean directCallsToEarlierSets) {
        LayoutPlan plan = new LayoutPlan(arch, symbols, directCallsToEarlierSets);
        plan.scanRelocations();
        plan.placeSections();
        return plan;
    }

    /** The permission group a section is loaded into, or {@link #NOT_LOADED}. */
    private static int classify(ElfObject object, int s) {
        long flags = object.sectionFlags[s];
        int type = object.sectionType[s];
        if (s == 0 || (flags & SHF_ALLOC) == 0 || type == SHT_GROUP || type == SHT_RELA || object.discarded[s]) {
            return NOT_LOADED;
        }
        if ((flags & SHF_TLS) != 0) {
            // .tdata is relocated in place as the template of every thread's block; .tbss only sizes the block.
            return type == SHT_NOBITS ? TLS_ONLY : PermissionGroup.RELRO.ordinal();
        }
        if ((flags & SHF_EXECINSTR) != 0) {
            if ((flags & SHF_WRITE) != 0) {
                throw new UnsupportedObjectException(object.name + ": section " + object.sectionName[s]
                        + " is both writable and executable; jdyld never maps memory W+X");
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

    /** Validates every relocation of every loaded section and counts GOT slots and stubs exactly. */
    private void scanRelocations() {
        for (int o = 0; o < objects.size(); o++) {
            ElfObject object = objects.get(o);
            int[] globalOf = symbols.globalOf[o];
            for (int rela : object.relaSections) {
                int target = object.sectionInfo[rela];
                if (sectionGroup[o][target] < 0) {
                    continue;
                }
                if (object.sectionType[target] == SHT_NOBITS) {
                    throw object.malformed(object.sectionName[rela], object.headerOffset(rela) + 44,
                            "relocations for NOBITS section " + object.sectionName[target]);
                }
                long targetSize = object.sectionSize[target];
                long start = object.sectionOffset[rela];
                long end = start + object.sectionSize[rela];
                relocationCount += (end - start) / RELA_SIZE;
                for (long entry = start; entry < end; entry += RELA_SIZE) {
                    long offset = object.u64(entry);
                    long info = object.u64(entry + 8);
                    int symbol = (int) (info >>> 32);
                    int type = (int) info;
                    if (symbol < 0 || symbol >= object.symbolCount) {
                        throw object.malformed(object.sectionName[rela], entry + 8, "relocation symbol index "
                                + Integer.toUnsignedString(symbol) + " outside the symbol table of " + object.symbolCount);
                    }
                    int needs = arch.classify(type);
                    if ((needs & Architecture.UNSUPPORTED) != 0) {
                        throw new RelocationException(object.name + ": section " + object.sectionName[target]
                                + " offset 0x" + Long.toHexString(offset) + ": unsupported relocation "
                                + arch.relocationName(type) + " against " + Architecture.describeSymbol(object, symbol));
                    }
                    int width = arch.width(type);
                    if (offset < 0 || offset > targetSize - width) {
                        throw object.malformed(object.sectionName[rela], entry, arch.relocationName(type)
                                + " at offset 0x" + Long.toHexString(offset) + " writes past the end of "
                                + object.sectionName[target] + " (" + targetSize + " bytes)");
                    }
                    int g = globalOf[symbol];
                    if (g < 0) {
                        checkLocalTarget(object, o, rela, entry, symbol);
                    }
                    GlobalSymbol global = g < 0 ? null : symbols.globals.get(g);
                    if (needs == 0 && (global == null || !global.ifunc)) {
                        continue;
                    }
                    if ((needs & Architecture.TLS) != 0) {
                        scanTls(object, o, target, offset, type, symbol, global, needs);
                        continue;
                    }
                    if (global != null && global.ifunc && global.kind == GlobalSymbol.Kind.DEFINED) {
                        // An IFUNC's address in the set is its stub (so every reference agrees, as
                        // function pointers must); the stub jumps through a writable slot (like a
                        // lazily bound .got.plt entry) that gets the resolver's answer when the set
                        // is initialised, before its constructors.
                        requestGot(o, symbol, global);
                        if (global.stub < 0) {
                            global.stub = stubs++;
                            global.ifuncSlot = ifuncs++;
                        }
                        global.canonicalStub = true;
                        continue;
                    }
                    if ((needs & Architecture.NEEDS_GOT) != 0) {
                        requestGot(o, symbol, global);
                    }
                    if ((needs & Architecture.CALL) != 0 && global != null
                            && global.kind == GlobalSymbol.Kind.EARLIER_SET && directCallsToEarlierSets) {
                        // Calls into an earlier set are direct: the set is placed within reach of it.
                        hasDirectCallsToEarlierSets = true;
                        nearLow = Math.min(nearLow, global.address);
                        nearHigh = Math.max(nearHigh, global.address);
                    } else if ((needs & Architecture.CALL) != 0 && global != null && !global.isInSet()) {
                        requestGot(o, symbol, global);
                        if (global.stub < 0) {
                            global.stub = stubs++;
                        }
                    }
                    if ((needs & Architecture.ABSOLUTE_32) != 0 && global != null
                            && global.kind == GlobalSymbol.Kind.HOST && isHostCode(global.address)) {
                        // A 32-bit absolute address of a host function (non-PIC `mov $puts, %edi`): the
                        // function's canonical address in this set becomes its stub, which lives low.
                        requestGot(o, symbol, global);
                        if (global.stub < 0) {
                            global.stub = stubs++;
                        }
                        global.canonicalStub = true;
                    }
                    if ((needs & Architecture.ABSOLUTE_32) != 0 && refersToAddress(object, symbol, global)) {
                        if (!needsLow2GiB) {
                            lowReason = arch.relocationName(type) + " against " + Architecture.describeSymbol(object, symbol)
                                    + " in " + object.name + " section " + object.sectionName[target];
                        }
                        needsLow2GiB = true;
                    }
                    if ((needs & Architecture.PC_RELATIVE_32) != 0 && global != null && !global.isInSet()
                            && global.address != 0) {
                        if (nearReason == null) {
                            nearReason = arch.relocationName(type) + " against host symbol '" + global.name + "' in "
                                    + object.name + " section " + object.sectionName[target];
                        }
                        nearLow = Math.min(nearLow, global.address);
                        nearHigh = Math.max(nearHigh, global.address);
                    }
                }
            }
        }
    }

    /**
     * Thread-local storage: general and local dynamic and TLS descriptors reach the set's own
     * variables through its per-thread blocks; initial exec reaches the host's (static TLS, at a
     * fixed offset from the thread pointer). The set's own variables cannot be reached by initial
     * or local exec: a running process has no static TLS room left for them.
     */
    private void scanTls(ElfObject object, int o, int target, long offset, int type, int symbol, GlobalSymbol global,
                         int needs) {
        usesTls = true;
        boolean hostTls = global != null && global.kind == GlobalSymbol.Kind.HOST;
        String where = object.name + ": section " + object.sectionName[target] + " offset 0x" + Long.toHexString(offset)
                + ": " + arch.relocationName(type) + " against " + Architecture.describeSymbol(object, symbol);
        if (symbol != 0 && !hostTls && !isSetTls(object, symbol, global)) {
            throw new RelocationException(where + ": the symbol is not a thread-local variable of the set");
        }
        if ((needs & Architecture.TLS_INITIAL_EXEC) != 0) {
            if (!hostTls) {
                throw new RelocationException(where + ": initial-exec access to thread-local storage the set defines"
                        + " needs static TLS, which a running process cannot grow; compile with -fPIC or"
                        + " -ftls-model=global-dynamic");
            }
            requestGot(o, symbol, global);
            return;
        }
        if ((needs & Architecture.TLS_LOCAL_EXEC) != 0) {
            throw new RelocationException(where + ": local-exec access to thread-local storage needs static TLS, which"
                    + " a running process cannot grow; compile with -fPIC or -ftls-model=global-dynamic");
        }
        if (hostTls) {
            throw new RelocationException(where + ": dynamic access to a host library's thread-local variable is not"
                    + " supported; use -ftls-model=initial-exec for host variables");
        }
        if ((needs & Architecture.TLS_GENERAL_DYNAMIC) != 0) {
            if (global != null) {
                if (global.tlsGdSlot < 0) {
                    global.tlsGdSlot = takeSlots(2);
                }
            } else {
                localTlsGdSlot[o] = requestLocal(localTlsGdSlot[o], o, symbol, 2);
            }
        }
        if ((needs & Architecture.TLS_DESCRIPTOR) != 0) {
            if (global != null) {
                if (global.tlsDescSlot < 0) {
                    global.tlsDescSlot = takeSlots(3);
                }
            } else {
                localTlsDescSlot[o] = requestLocal(localTlsDescSlot[o], o, symbol, 3);
            }
        }
        if ((needs & Architecture.TLS_LOCAL_DYNAMIC) != 0 && tlsLdSlot < 0) {
            tlsLdSlot = takeSlots(2);
        }
    }

    /** Whether a symbol names a thread-local variable (or TLS section) defined by the set. */
    private boolean isSetTls(ElfObject object, int symbol, GlobalSymbol global) {
        if (global != null) {
            if (global.kind != GlobalSymbol.Kind.DEFINED) {
                return false;
            }
            object = objects.get(global.object);
            symbol = global.symbol;
        }
        int section = object.symbolSection[symbol];
        return object.symbolType(symbol) == STT_TLS
                || (section > 0 && section < SHN_LORESERVE && (object.sectionFlags[section] & SHF_TLS) != 0);
    }

    private int takeSlots(int count) {
        int first = gotEntries;
        gotEntries += count;
        return first;
    }

    private int[] requestLocal(int[] slots, int o, int symbol, int count) {
        if (slots == null) {
            slots = new int[objects.get(o).symbolCount];
            Arrays.fill(slots, -1);
        }
        if (slots[symbol] < 0) {
            slots[symbol] = takeSlots(count);
        }
        return slots;
    }

    /** Whether a host address is inside an executable mapping: a function rather than data. */
    private boolean isHostCode(long address) {
        if (executableRanges == null) {
            executableRanges = new ArrayList<>();
            for (MemoryMaps.Mapping mapping : MemoryMaps.read()) {
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

    private void checkLocalTarget(ElfObject object, int o, int rela, long entry, int symbol) {
        int section = object.symbolSection[symbol];
        if (section > 0 && section < SHN_LORESERVE && sectionGroup[o][section] == NOT_LOADED
                && !(object.discarded[section] && isEhFrame(object, object.sectionInfo[rela]))) {
            // (An .eh_frame FDE of a function in a dropped COMDAT group is left pointing nowhere, as
            // static linkers do; any other reference into a dropped group is an error.)
            throw new RelocationException(object.name + ": section " + object.sectionName[object.sectionInfo[rela]]
                    + " offset 0x" + Long.toHexString(object.u64(entry)) + ": relocation against "
                    + Architecture.describeSymbol(object, symbol) + " in section " + object.sectionName[section]
                    + ", which is not loaded");
        }
    }

    /** Whether a symbol's value is an address in memory (not an absolute constant or null). */
    private boolean refersToAddress(ElfObject object, int symbol, GlobalSymbol global) {
        if (symbol == 0) {
            return false;
        }
        if (global == null) {
            return object.symbolSection[symbol] != SHN_ABS;
        }
        return switch (global.kind) {
            case UNDEFINED_WEAK -> false;
            case DEFINED -> objects.get(global.object).symbolSection[global.symbol] != SHN_ABS;
            default -> true;
        };
    }

    private void requestGot(int o, int symbol, GlobalSymbol global) {
        if (global != null) {
            if (global.gotSlot < 0) {
                global.gotSlot = gotEntries++;
            }
            return;
        }
        localGotSlot[o] = requestLocal(localGotSlot[o], o, symbol, 1);
    }

    /**
     * Assigns offsets: sections in input order within their group, NOBITS after PROGBITS; the
     * stubs end TEXT, the GOT starts RELRO, common symbols end DATA.
     */
    private void placeSections() {
        int text = PermissionGroup.TEXT.ordinal();
        int relro = PermissionGroup.RELRO.ordinal();
        int data = PermissionGroup.DATA.ordinal();
        if (symbols.byName.containsKey(SymbolTable.TLS_GET_ADDR)) {
            usesTls = true;
        }
        boolean needsGlue = SymbolTable.GLUE.stream().anyMatch(name -> isLinkerDefined(name));
        if (needsGlue || isLinkerDefined(SymbolTable.DSO_HANDLE) || hasInitializers()) {
            dsoHandleOffset = reserve(relro, 8, 8);
        }
        if (needsGlue) {
            glueCodeOffset = reserve(text, arch.glueCodeSize(), 16);
        }
        if (gotEntries > 0) {
            gotOffset = reserve(relro, (long) gotEntries * GOT_ENTRY_SIZE, GOT_ENTRY_SIZE);
        }
        placeThreadLocalStorage(relro);
        for (int pass = 0; pass < 2; pass++) {
            boolean nobits = pass == 1;
            for (int o = 0; o < objects.size(); o++) {
                ElfObject object = objects.get(o);
                for (int s = 1; s < object.sectionCount; s++) {
                    int group = sectionGroup[o][s];
                    if (group < 0 || tlsOffset[o][s] >= 0 || (object.sectionType[s] == SHT_NOBITS) != nobits) {
                        continue;
                    }
                    // An .eh_frame gets a zero terminator word after it, so it can be registered on its own.
                    long size = object.sectionSize[s] + (isEhFrame(object, s) ? 4 : 0);
                    sectionOffset[o][s] = reserve(group, size, object.sectionAlign[s]);
                }
            }
            if (pass == 0 && stubs > 0) {
                stubOffset = reserve(text, (long) stubs * arch.stubSize(), arch.stubSize());
            }
            if (pass == 0 && usesTls) {
                tlsCodeOffset = reserve(text, arch.tlsCodeSize(), 16);
            }
        }
        if (ifuncs > 0) {
            ifuncTableOffset = reserve(data, (long) ifuncs * GOT_ENTRY_SIZE, GOT_ENTRY_SIZE);
        }
        for (GlobalSymbol global : symbols.globals) {
            if (global.kind == GlobalSymbol.Kind.COMMON) {
                commonOffset[global.id] = reserve(data, Math.max(global.commonSize, 1), global.commonAlign);
            }
        }
    }

    /**
     * Lays out the TLS block: every {@code .tdata}-like section, then every {@code .tbss}-like one,
     * each at its alignment. The initialised part is also the template in RELRO, laid out at the
     * same offsets so that a new block is one copy of it.
     */
    private void placeThreadLocalStorage(int relro) {
        long size = 0;
        for (int pass = 0; pass < 2; pass++) {
            boolean nobits = pass == 1;
            for (int o = 0; o < objects.size(); o++) {
                ElfObject object = objects.get(o);
                for (int s = 1; s < object.sectionCount; s++) {
                    if ((object.sectionFlags[s] & SHF_TLS) == 0 || (object.sectionFlags[s] & SHF_ALLOC) == 0
                            || (object.sectionType[s] == SHT_NOBITS) != nobits) {
                        continue;
                    }
                    long align = object.sectionAlign[s];
                    tlsOffset[o][s] = (size + align - 1) & -align;
                    size = tlsOffset[o][s] + object.sectionSize[s];
                    tlsAlign = Math.max(tlsAlign, align);
                }
            }
            if (pass == 0) {
                tlsTemplateSize = size;
            }
        }
        tlsBlockSize = size;
        if (size > 0) {
            usesTls = true;
        }
        if (tlsTemplateSize > 0) {
            tlsTemplateOffset = reserve(relro, tlsTemplateSize, tlsAlign);
            for (int o = 0; o < objects.size(); o++) {
                ElfObject object = objects.get(o);
                for (int s = 1; s < object.sectionCount; s++) {
                    if (tlsOffset[o][s] >= 0 && object.sectionType[s] != SHT_NOBITS) {
                        sectionOffset[o][s] = tlsTemplateOffset + tlsOffset[o][s];
                    }
                }
            }
        }
    }

    static boolean isEhFrame(ElfObject object, int s) {
        return object.sectionName[s].equals(".eh_frame") && (object.sectionFlags[s] & SHF_ALLOC) != 0;
    }

    private boolean isLinkerDefined(String name) {
        GlobalSymbol global = symbols.byName.get(name);
        return global != null && global.kind == GlobalSymbol.Kind.LINKER_DEFINED;
    }

    private boolean hasInitializers() {
        for (int o = 0; o < objects.size(); o++) {
            ElfObject object = objects.get(o);
            for (int s = 1; s < object.sectionCount; s++) {
                if (sectionGroup[o][s] >= 0 && object.sectionSize[s] > 0 && Initializers.kindOf(object, s) != null) {
                    return true;
                }
            }
        }
        return false;
    }

    private long reserve(int group, long size, long align) {
        long offset = (groupSize[group] + align - 1) & -align;
        groupSize[group] = offset + size;
        groupAlign[group] = Math.max(groupAlign[group], align);
        return offset;
    }

    SlabRequest slabRequest() {
        if (needsLow2GiB && nearReason != null && nearHigh >= (1L << 31) + (1L << 31)) {
            throw new RelocationException("the set needs the low 2 GiB (" + lowReason + ") and must also reach "
                    + "host data near 0x" + Long.toHexString(nearHigh) + " (" + nearReason + "): no address satisfies "
                    + "both; compile with -fPIC or -fPIE");
        }
        Placement placement = new Placement(needsLow2GiB,
                nearHigh == Long.MIN_VALUE ? 0 : nearLow, nearHigh == Long.MIN_VALUE ? 0 : nearHigh);
        return new SlabRequest(groupSize, groupAlign, placement);
    }
}
