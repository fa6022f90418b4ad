package dev.jdyld.link;

import dev.jdyld.link.layout.GotTable;
import dev.jdyld.memory.PermissionGroup;

/**
 * The set's stubs, written: the plan's {@link dev.jdyld.link.layout.StubTable} gave each global
 * that needs one its stub; each jumps through the global's GOT slot, or, for an IFUNC, through its
 * slot of the IFUNC table, which its resolver's answer fills when the set starts.
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
}
