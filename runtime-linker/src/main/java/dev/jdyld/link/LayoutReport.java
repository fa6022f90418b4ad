package dev.jdyld.link;

import dev.jdyld.elf.ElfObject;
import dev.jdyld.core.AddressOrderedSymbols;
import dev.jdyld.core.SetLayout;
import dev.jdyld.link.layout.BranchIslands;
import dev.jdyld.link.layout.GotTable;
import dev.jdyld.memory.PermissionGroup;
import dev.jdyld.memory.Slab;
import dev.jdyld.executor.ThreadLocalBlock;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import static dev.jdyld.elf.Elf.STT_FUNC;
import static dev.jdyld.elf.Elf.STT_GNU_IFUNC;
import static dev.jdyld.elf.Elf.STT_OBJECT;

/** The {@link SetLayout} of a linked set: groups, sections (the linker's own too), counts and pulled members. */
final class LayoutReport {
    private static final String LINKER_OBJECT = "<jdyld>";

    private LayoutReport() {}

    static SetLayout describe(SetImage image, List<InputSelection.Pulled> pulled, ThreadLocalBlock tls,
                              String executableStack) {
        SetPlan plan = image.plan;
        Slab slab = image.slab;
        List<SetLayout.Group> groups = new ArrayList<>();
        for (PermissionGroup group : PermissionGroup.values()) {
            if (slab.length(group) > 0) {
                groups.add(new SetLayout.Group(group.name(), slab.address(group), slab.length(group),
                        group.finalProtection().mapsString()));
            }
        }
        List<SetLayout.Section> sections = new ArrayList<>();
        for (int o = 0; o < plan.objects.size(); o++) {
            ElfObject object = plan.objects.get(o);
            for (int s = 1; s < object.sectionCount; s++) {
                if (plan.sections.isLoaded(o, s)) {
                    sections.add(new SetLayout.Section(object.name, object.sectionName[s],
                            PermissionGroup.values()[plan.sections.group(o, s)].name(), image.sectionAddress[o][s],
                            object.sectionSize[s], object.sectionAlign[s], s));
                }
            }
        }
        int gotEntries = plan.got.slots();
        int stubs = plan.stubs.count();
        if (gotEntries > 0) {
            sections.add(new SetLayout.Section(LINKER_OBJECT, ".got", PermissionGroup.RELRO.name(), image.got,
                    gotEntries * GotTable.ENTRY_SIZE, GotTable.ENTRY_SIZE, -1));
        }
        if (stubs > 0) {
            sections.add(new SetLayout.Section(LINKER_OBJECT, ".stubs", PermissionGroup.TEXT.name(), image.stubBase,
                    (long) stubs * plan.arch.stubSize(), plan.arch.stubSize(), -1));
        }
        BranchIslands islands = plan.islands;
        for (int p = 0; islands != null && p < islands.islands().size(); p++) {
            if (islands.islandSize(p) > 0) {
                sections.add(new SetLayout.Section(LINKER_OBJECT, ".thunks." + p, PermissionGroup.TEXT.name(),
                        image.base(PermissionGroup.TEXT) + islands.islandOffset(p), islands.islandSize(p),
                        16, -1));
            }
        }
        for (GlobalSymbol global : plan.symbols.globals) {
            if (global.kind == GlobalSymbol.Kind.COMMON) {
                sections.add(new SetLayout.Section(LINKER_OBJECT, "COMMON " + global.name, PermissionGroup.DATA.name(),
                        global.address, plan.symbols.commonSize(global), plan.symbols.commonAlign(global), -1));
            }
        }
        sections.sort(Comparator.comparingLong(SetLayout.Section::address));
        List<SetLayout.Member> members = pulled.stream()
                .map(p -> new SetLayout.Member(p.archive(), p.member(), p.symbol())).toList();
        SetLayout.ThreadLocalBlock block = tls == null ? null : new SetLayout.ThreadLocalBlock(tls.isStatic(),
                tls.blockSize(), plan.tls.templateSize(), plan.tls.alignment(), tls.threadPointerOffset());
        return new SetLayout(groups, sections, gotEntries, stubs, plan.relocationCount, members, symbols(image), block,
                executableStack);
    }

    /** Named ranges: every loaded function and data symbol, then stubs and GOT slots by target name. */
    private static AddressOrderedSymbols symbols(SetImage image) {
        SetPlan plan = image.plan;
        int expected = 2 * plan.symbols.globals.size();
        for (ElfObject object : plan.objects) {
            expected += object.symbolCount;
        }
        AddressOrderedSymbols.Builder symbols = new AddressOrderedSymbols.Builder(expected);
        for (int o = 0; o < plan.objects.size(); o++) {
            ElfObject object = plan.objects.get(o);
            for (int s = 1; s < object.symbolCount; s++) {
                int type = object.symbolType(s);
                int section = object.symbolSection[s];
                boolean function = type == STT_FUNC || type == STT_GNU_IFUNC;
                if ((function || type == STT_OBJECT) && section > 0 && section < object.sectionCount
                        && plan.sections.isLoaded(o, section) && !plan.comdat.inDroppedGroup(object, o, s)) {
                    symbols.add(object.symbolName(s), function ? SetLayout.Symbol.Kind.FUNCTION
                            : SetLayout.Symbol.Kind.OBJECT, image.symbolAddress(o, s), object.symbolSize[s]);
                }
            }
        }
        for (GlobalSymbol global : plan.symbols.globals) {
            if (global.kind == GlobalSymbol.Kind.COMMON) {
                symbols.add(global.name, SetLayout.Symbol.Kind.OBJECT, global.address, plan.symbols.commonSize(global));
            }
            int stub = plan.stubs.stub(global.id);
            if (stub >= 0) {
                symbols.add(global.name, SetLayout.Symbol.Kind.STUB, image.stubAddress(stub),
                        plan.arch.stubSize());
            }
            int slot = plan.got.slot(GotTable.Entry.ADDRESS, global.id);
            if (slot >= 0) {
                symbols.add(global.name, SetLayout.Symbol.Kind.GOT, image.gotSlot(slot),
                        GotTable.ENTRY_SIZE);
            }
        }
        // A range-extension thunk is a stub named after its target ("name+0x10" for an addend).
        BranchIslands islands = plan.islands;
        for (int p = 0; islands != null && p < islands.islands().size(); p++) {
            for (java.util.Map.Entry<BranchIslands.Target, Integer> thunk : islands.islands().get(p).entrySet()) {
                BranchIslands.Target target = thunk.getKey();
                String name = target.object() < 0 ? plan.symbols.globals.get(target.symbol()).name
                        : plan.objects.get(target.object()).describeSymbol(target.symbol());
                symbols.add(name + (target.addend() == 0 ? "" : target.addend() > 0
                        ? "+0x" + Long.toHexString(target.addend()) : "-0x" + Long.toHexString(-target.addend())),
                        SetLayout.Symbol.Kind.STUB, image.base(PermissionGroup.TEXT) + islands.thunkOffset(p, target),
                        plan.arch.rangeExtensionThunkSize());
            }
        }
        return symbols.build();
    }
}
