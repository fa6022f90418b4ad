package dev.jdyld.runtime;

import dev.jdyld.jit.LinkPlugin;
import dev.jdyld.jit.LoadedSet;
import dev.jdyld.jit.SetLayout;

/**
 * Registers a set's {@code .eh_frame} sections with the host's unwinder ({@code libgcc_s.so.1},
 * the one libstdc++ throws with), so that exceptions thrown in loaded code are caught, through
 * host frames too, and backtraces unwind through loaded code; deregisters them before the set's
 * memory goes away. (Each section was laid out with a zero terminator word after it, so it can be
 * registered on its own.)
 */
public final class UnwindRegistration implements LinkPlugin {
    private static final String EH_FRAME = ".eh_frame";

    @Override
    public void afterFinalize(LoadedSet set) {
        for (SetLayout.Section section : set.layout().sections()) {
            if (section.name().equals(EH_FRAME)) {
                Native.registerFrame(section.address());
            }
        }
    }

    @Override
    public void beforeClose(LoadedSet set) {
        for (SetLayout.Section section : set.layout().sections()) {
            if (section.name().equals(EH_FRAME)) {
                Native.deregisterFrame(section.address());
            }
        }
    }
}
