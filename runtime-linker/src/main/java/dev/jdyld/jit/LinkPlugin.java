package dev.jdyld.jit;

import dev.jdyld.core.SetLayout;

/**
 * Code that takes part in every load and close of a linker's sets, as ORC's
 * {@code ObjectLinkingLayer::Plugin}: registering unwind tables is one (built in, when the linker
 * runs initializers), a debugger or profiler interface is another. Plugins are called in the
 * order they were added, and in reverse order on close.
 *
 * <p>A plugin that throws fails the load: the set is not registered, plugins that already saw
 * {@link #afterFinalize} get {@link #beforeClose}, and the set's memory is unmapped. Plugins run
 * with no lock of the linker held. The set a plugin is told about while it starts cannot be closed
 * from the plugin ({@link LoadedSet#close()} is refused: it is still starting), nor can the linker
 * ({@link JitLinker#close()} would wait for the load that runs the plugin, and is refused instead).
 */
public interface LinkPlugin {
    /**
     * A plugin that appends {@code START SIZE NAME} lines for every loaded function and stub to
     * {@code /tmp/perf-<pid>.map}, so {@code perf report} names samples in loaded code.
     *
     * @return the plugin, for {@link JitLinkerBuilder#plugin}
     */
    static LinkPlugin perfMap() {
        return new PerfMap(java.nio.file.Path.of("/tmp"));
    }

    /**
     * A plugin that writes {@code jit-<pid>.dump} in {@code directory} (the jitdump format of
     * {@code perf inject --jit}) with every loaded function's name, address and code. Record with
     * {@code perf record -k 1}; the file is complete once the linker is closed.
     *
     * @param directory where the file goes
     * @return the plugin, for {@link JitLinkerBuilder#plugin}
     */
    static LinkPlugin jitdump(java.nio.file.Path directory) {
        return new JitDump(directory);
    }

    /**
     * A plugin that announces every set to a debugger through GDB's JIT interface (an in-memory
     * ELF image of its symbols at their load addresses), and withdraws it before the set closes,
     * so gdb's {@code break}, {@code bt} and {@code disassemble} know loaded functions by name.
     *
     * @return the plugin, for {@link JitLinkerBuilder#plugin}
     */
    static LinkPlugin gdbJitInterface() {
        return new GdbJitInterface();
    }

    /**
     * The set is linked: addresses are final and its contents relocated; its memory is still
     * writable and not yet executable.
     *
     * @param layout where the set's groups, sections and symbols are
     */
    default void afterLayout(SetLayout layout) {}

    /**
     * The set's memory has its final permissions; its constructors have not run yet.
     *
     * @param set the set, with its final permissions
     */
    default void afterFinalize(LoadedSet set) {}

    /**
     * The set is being closed (or its load failed after {@link #afterFinalize}): its memory is still mapped.
     *
     * @param set the set, still mapped
     */
    default void beforeClose(LoadedSet set) {}
}
