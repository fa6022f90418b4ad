package dev.jdyld.runtime;

import java.util.function.Consumer;

/**
 * The stages of a load, in order, and a seam for failure injection: tests install a hook that
 * throws at a chosen stage and check that the load leaves nothing behind. Without a hook,
 * reaching a stage costs one volatile read.
 */
public enum LoadStage {
    /** Reading the inputs, pulling archive members, dropping duplicate COMDAT groups. */
    PARSE,
    /** Resolving symbols and sizing everything. */
    PLAN,
    /** Mapping the slab. */
    ALLOCATE,
    /** Copying section bytes. */
    COPY,
    /** Making the set's TLS key and emitting its TLS code. */
    TLS,
    /** Applying relocations (the TLS key exists by now). */
    RELOCATE,
    /** Plugins see the linked, still writable set. */
    PLUGINS,
    /** Pages get their final permissions. */
    FINALIZE,
    /** The set's unwind tables have just been registered with the unwinder. */
    UNWIND,
    /** Before each constructor (IFUNC resolvers and exit handlers are set up by the first). */
    CONSTRUCTOR,
    /** Everything ran; the set is about to become visible to lookups and other loads. */
    REGISTER;

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
