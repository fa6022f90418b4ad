package dev.jdyld.jit;

import dev.jdyld.runtime.LoadStage;
import dev.jdyld.executor.TargetProcess;
import dev.jdyld.core.SetLayout;

/**
 * Registers a set's {@code .eh_frame} sections with the host's unwinder ({@code libgcc_s.so.1},
 * the one libstdc++ throws with), so that exceptions thrown in loaded code are caught, through
 * host frames too, and backtraces unwind through loaded code; deregisters them before the set's
 * memory goes away. (Each section was laid out with a zero terminator word after it, so it can be
 * registered on its own.)
 */
final class UnwindRegistration implements LinkPlugin {
    private static final String EH_FRAME = ".eh_frame";
    /** Where the code runs: its unwinder gets the sections. */
    private final TargetProcess target;

    UnwindRegistration(TargetProcess target) {
        this.target = target;
    }
    /** Sections registered now, in all sets: tests check that a failed load leaves none behind. */
    private static final java.util.concurrent.atomic.AtomicInteger REGISTERED = new java.util.concurrent.atomic.AtomicInteger();

    @Override
    public void afterFinalize(LoadedSet set) {
        java.util.List<Long> registered = new java.util.ArrayList<>();
        try {
            for (SetLayout.Section section : set.layout().sections()) {
                if (section.name().equals(EH_FRAME)) {
                    target.registerFrames(section.address());
                    registered.add(section.address());
                    REGISTERED.incrementAndGet();
                }
            }
            LoadStage.UNWIND.reached();
        } catch (RuntimeException | Error e) {
            // A plugin whose afterFinalize throws gets no beforeClose: undo exactly what was
            // registered (deregistering a section the unwinder does not know aborts the process).
            for (long ehFrame : registered) {
                target.deregisterFrames(ehFrame);
                REGISTERED.decrementAndGet();
            }
            throw e;
        }
    }

    @Override
    public void beforeClose(LoadedSet set) {
        for (SetLayout.Section section : set.layout().sections()) {
            if (section.name().equals(EH_FRAME)) {
                target.deregisterFrames(section.address());
                REGISTERED.decrementAndGet();
            }
        }
    }

    /** How many {@code .eh_frame} sections are registered now, across all sets. */
    public static int registeredSections() {
        return REGISTERED.get();
    }
}
