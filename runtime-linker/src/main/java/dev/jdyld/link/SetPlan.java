package dev.jdyld.link;

import dev.jdyld.core.Location;
import dev.jdyld.core.RelocationException;
import dev.jdyld.elf.ElfObject;
import dev.jdyld.link.arch.Architecture;
import dev.jdyld.link.layout.BranchIslands;
import dev.jdyld.link.layout.GotTable;
import dev.jdyld.link.layout.PlacementNeeds;
import dev.jdyld.link.layout.SectionLayout;
import dev.jdyld.link.layout.StubTable;
import dev.jdyld.link.layout.TlsLayout;
import dev.jdyld.memory.AddressSpace;
import dev.jdyld.memory.PermissionGroup;
import dev.jdyld.memory.SlabRequest;

import java.util.List;

/**
 * The planning pass: the relocation scan ({@link RelocationScan}) fills the GOT and stub tables
 * and the placement needs, then {@link #place()} puts every loaded section and every piece the
 * linker makes at an offset inside its permission group. The result sizes the slab exactly;
 * nothing is mapped before it is complete.
 */
final class SetPlan {
    /** Offsets inside their groups of what the linker makes; -1 for what the set does not need. */
    record LinkerSections(long dsoHandle, long glueCode, long got, long tlsTemplate, long stubs, long tlsCode,
                          long ifuncTable, long[] common) {}

    final Architecture arch;
    final List<ElfObject> objects;
    final SymbolTable symbols;
    final ComdatGroups comdat;
    final SectionLayout sections;
    final TlsLayout tls;
    final GotTable got;
    final StubTable stubs;
    final PlacementNeeds placement = new PlacementNeeds();
    /** Whether calls into earlier sets are direct (the set must then be placed within reach of them). */
    final boolean directCallsToEarlierSets;
    boolean hasDirectCallsToEarlierSets;
    boolean usesTls;
    /** Whether GOT loads of the set's own symbols may be rewritten to reach them directly (see {@code ScanContext.mayBypassGot}). */
    final boolean relaxGot;
    /**
     * Whether code reaches the set's thread-locals at fixed offsets from the thread pointer (local or
     * initial exec): the whole block then lives in static TLS, where every access model finds it.
     */
    boolean staticTls;
    long relocationCount;
    LinkerSections linkerSections;
    /** Range-extension thunks of a set whose code is larger than a branch reaches; null for the others. */
    final BranchIslands islands;

    private SetPlan(Architecture arch, SymbolTable symbols, boolean directCallsToEarlierSets, boolean relaxGot) {
        this.arch = arch;
        this.relaxGot = relaxGot;
        this.objects = symbols.objects;
        this.symbols = symbols;
        this.comdat = symbols.comdat;
        // Direct calls reach an earlier set only where a branch reaches as far as placement does.
        this.directCallsToEarlierSets = directCallsToEarlierSets && arch.branchReach() >= arch.reach();
        this.sections = new SectionLayout(objects, comdat.discarded);
        this.tls = new TlsLayout(objects);
        int[] symbolCounts = objects.stream().mapToInt(object -> object.symbolCount).toArray();
        this.got = new GotTable(symbols.globals.size(), symbolCounts);
        this.stubs = new StubTable(symbols.globals.size());
        this.islands = codeSize() > arch.branchReach() - ISLAND_MARGIN
                ? new BranchIslands(objects, sections, tls, PermissionGroup.TEXT.ordinal(), arch.branchReach() / 2,
                arch.rangeExtensionThunkSize()) : null;
    }

    /** Room a branch's reach keeps for the linker's own code after the sections (stubs, TLS code, glue). */
    private static final long ISLAND_MARGIN = 16L << 20;

    /** Bytes of the loaded code sections, with their alignment: what decides whether the set needs islands. */
    private long codeSize() {
        long size = 0;
        for (int o = 0; o < objects.size(); o++) {
            ElfObject object = objects.get(o);
            for (int s = 1; s < object.sectionCount; s++) {
                if (sections.group(o, s) == PermissionGroup.TEXT.ordinal()) {
                    size += object.sectionSize[s] + object.sectionAlign[s];
                }
            }
        }
        return size;
    }

    static SetPlan make(Architecture arch, SymbolTable symbols, boolean directCallsToEarlierSets, boolean relaxGot,
                        AddressSpace process) {
        SetPlan plan = new SetPlan(arch, symbols, directCallsToEarlierSets, relaxGot);
        new RelocationScan(plan, process).scanAll();
        plan.place();
        return plan;
    }

    /**
     * Assigns offsets: sections in input order within their group, NOBITS after contents; the
     * C runtime's handle, the GOT and the TLS template start RELRO; the stubs and TLS code end the
     * code; the IFUNC table and common symbols end DATA.
     */
    private void place() {
        if (symbols.byName.containsKey(SymbolTable.TLS_GET_ADDR) || tls.blockSize() > 0) {
            usesTls = true;
        }
        boolean needsGlue = SymbolTable.GLUE.stream().anyMatch(this::isLinkerDefined);
        long dsoHandle = -1;
        long glueCode = -1;
        long gotOffset = 0;
        long tlsTemplate = 0;
        long stubOffset = 0;
        long tlsCode = -1;
        long ifuncTable = -1;
        if (needsGlue || isLinkerDefined(SymbolTable.DSO_HANDLE) || sections.hasInitializers()) {
            dsoHandle = sections.reserve(PermissionGroup.RELRO, 8, 8);
        }
        if (needsGlue) {
            glueCode = sections.reserve(PermissionGroup.TEXT, arch.glueCodeSize(), 16);
        }
        if (got.slots() > 0) {
            gotOffset = sections.reserve(PermissionGroup.RELRO, got.slots() * GotTable.ENTRY_SIZE, GotTable.ENTRY_SIZE);
        }
        if (tls.templateSize() > 0) {
            tlsTemplate = sections.reserve(PermissionGroup.RELRO, tls.templateSize(), tls.alignment());
            sections.placeTemplate(tls, tlsTemplate);
        }
        long[] islandOffsets = islands == null ? null : new long[islands.islands().size()];
        sections.placeSections(tls, false, islands, islandOffsets);
        if (stubs.count() > 0) {
            stubOffset = sections.reserve(PermissionGroup.TEXT, (long) stubs.count() * arch.stubSize(), arch.stubSize());
        }
        if (usesTls) {
            tlsCode = sections.reserve(PermissionGroup.TEXT, arch.tlsCodeSize(), 16);
        }
        sections.placeSections(tls, true, islands, islandOffsets);
        if (islands != null) {
            islands.placed(islandOffsets);
        }
        if (stubs.ifuncCount() > 0) {
            ifuncTable = sections.reserve(PermissionGroup.DATA, stubs.ifuncCount() * GotTable.ENTRY_SIZE,
                    GotTable.ENTRY_SIZE);
        }
        long[] common = new long[symbols.globals.size()];
        for (GlobalSymbol global : symbols.globals) {
            if (global.kind == GlobalSymbol.Kind.COMMON) {
                common[global.id] = sections.reserve(PermissionGroup.DATA, Math.max(symbols.commonSize(global), 1),
                        symbols.commonAlign(global));
            }
        }
        if (usesTls && arch.threadLocalsInStaticTls()) {
            staticTls = true;
        }
        long code = sections.sizes()[PermissionGroup.TEXT.ordinal()];
        if (code > arch.branchReach() && islands == null) {
            throw new RelocationException(Location.NONE, "the set's code is " + (code >> 20) + " MiB, more than a"
                    + " direct branch reaches (" + (arch.branchReach() >> 20) + " MiB), and has no range-extension thunks");
        }
        linkerSections = new LinkerSections(dsoHandle, glueCode, gotOffset, tlsTemplate, stubOffset, tlsCode,
                ifuncTable, common);
    }

    private boolean isLinkerDefined(String name) {
        GlobalSymbol global = symbols.byName.get(name);
        return global != null && global.kind == GlobalSymbol.Kind.LINKER_DEFINED;
    }

    SlabRequest slabRequest() {
        return new SlabRequest(sections.sizes(), sections.alignments(), placement.placement(arch.reach()));
    }
}
