package dev.jdyld.link;

import java.util.function.Consumer;

/**
 * The stages of a load, in order, and a seam for failure injection: tests install a hook that
 * throws at a chosen stage and check that the load leaves nothing behind. Without a hook,
 * reaching a stage costs one volatile read.
 */
public enum LoadStage {
    PARSE, PLAN, ALLOCATE, COPY, TLS, RELOCATE, FINALIZE, PLUGINS, CONSTRUCTOR;

    private static volatile Consumer<LoadStage> hook;

    /** Installs (or, with null, removes) the hook called at every stage of every load. */
    public static void setHook(Consumer<LoadStage> newHook) {
        hook = newHook;
    }

    /** Called by the load when it reaches this stage. */
    public void reached() {
        Consumer<LoadStage> current = hook;
        if (current != null) {
            current.accept(this);
        }
    }
}
