package dev.jdyld.jit;

/**
 * Code that takes part in every load and close of a linker's sets, as ORC's
 * {@code ObjectLinkingLayer::Plugin}: registering unwind tables is one (built in, when the linker
 * runs initializers), a debugger or profiler interface is another. Plugins are called in the
 * order they were added, and in reverse order on close.
 *
 * <p>A plugin that throws fails the load: the set is not registered, plugins that already saw
 * {@link #afterFinalize} get {@link #beforeClose}, and the set's memory is unmapped.
 */
public interface LinkPlugin {
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
