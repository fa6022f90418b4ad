package dev.jdyld.link;

import dev.jdyld.link.arch.RangeExtensions;
import dev.jdyld.link.layout.BranchIslands;
import dev.jdyld.link.layout.GotTable;
import dev.jdyld.memory.PermissionGroup;

import java.util.Map;

/**
 * The set's stubs, written: the plan's {@link dev.jdyld.link.layout.StubTable} gave each global
 * that needs one its stub; each jumps through the global's GOT slot, or, for an IFUNC, through its
 * slot of the IFUNC table, which its resolver's answer fills when the set starts. And a large
 * set's range-extension thunks, once addresses are known: each jumps to its target's call address
 * (a global's stub when it has one, else the symbol) plus the branch's addend; with, per relocation
 * section, the lookup the apply loop uses for a branch that does not reach its target directly.
 */
final class Stubs {
    private Stubs() {}

    static void write(SetImage image) {
        SetPlan plan = image.plan;
        for (GlobalSymbol global : plan.symbols.globals) {
            int stub = plan.stubs.stub(global.id);
            if (stub < 0) {
                continue;
            }
            int ifuncSlot = plan.stubs.ifuncSlot(global.id);
            long slot = ifuncSlot >= 0 ? image.ifuncTable + ifuncSlot * GotTable.ENTRY_SIZE
                    : image.gotSlot(plan.got.slot(GotTable.Entry.ADDRESS, global.id));
            plan.arch.writeStub(image.segment(PermissionGroup.TEXT),
                    plan.linkerSections.stubs() + (long) stub * plan.arch.stubSize(), image.stubAddress(stub), slot);
        }
    }

    /** The range-extension thunks of a large set (see {@link BranchIslands}). */
    static void writeIslands(SetImage image) {
        SetPlan plan = image.plan;
        BranchIslands islands = plan.islands;
        if (islands == null) {
            return;
        }
        long text = image.base(PermissionGroup.TEXT);
        int size = plan.arch.rangeExtensionThunkSize();
        for (int p = 0; p < islands.islands().size(); p++) {
            for (Map.Entry<BranchIslands.Target, Integer> thunk : islands.islands().get(p).entrySet()) {
                long offset = islands.islandOffset(p) + (long) thunk.getValue() * size;
                plan.arch.writeRangeExtensionThunk(image.segment(PermissionGroup.TEXT), offset, text + offset,
                        callAddress(image, thunk.getKey()));
            }
        }
    }

    private static long callAddress(SetImage image, BranchIslands.Target target) {
        if (target.object() >= 0) {
            return image.symbolAddress(target.object(), target.symbol()) + target.addend();
        }
        SetPlan plan = image.plan;
        GlobalSymbol global = plan.symbols.globals.get(target.symbol());
        int stub = plan.stubs.stub(global.id);
        return (stub >= 0 ? image.stubAddress(stub) : global.address) + target.addend();
    }

    /** The thunks of object {@code o}'s section {@code section}'s part; null when the set has no islands. */
    static RangeExtensions thunks(SetImage image, int o, int section) {
        SetPlan plan = image.plan;
        BranchIslands islands = plan.islands;
        if (islands == null) {
            return null;
        }
        int part = islands.part(o, section);
        int[] globalOf = plan.symbols.globalOf[o];
        long text = image.base(PermissionGroup.TEXT);
        return (symbol, addend) -> {
            int g = globalOf[symbol];
            long offset = islands.thunkOffset(part, g >= 0 ? new BranchIslands.Target(-1, g, addend)
                    : new BranchIslands.Target(o, symbol, addend));
            return offset < 0 ? 0 : text + offset;
        };
    }
}
