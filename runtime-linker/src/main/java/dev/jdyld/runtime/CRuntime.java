package dev.jdyld.runtime;

import dev.jdyld.jit.LinkException;

/**
 * The C library's registration functions that give a loaded set a life like a shared object's:
 * exit handlers bound to the set's {@code __dso_handle}, run by {@code __cxa_finalize} when the set
 * is closed, and calls of constructors, destructors and IFUNC resolvers.
 */
public final class CRuntime {
    private CRuntime() {}

    /** Addresses the emitted glue code tail-calls ({@code atexit} and friends with the set's handle). */
    public static long cxaAtexitAddress() {
        return Native.libcAddress("__cxa_atexit");
    }

    public static long cxaAtQuickExitAddress() {
        return Native.libcAddress("__cxa_at_quick_exit");
    }

    public static long registerAtforkAddress() {
        return Native.libcAddress("__register_atfork");
    }

    /** Registers {@code function} to run at exit, or when the set of {@code dsoHandle} is finalized. */
    public static void atexit(long function, long dsoHandle) {
        if (Native.cxaAtexit(function, 0L, dsoHandle) != 0) {
            throw new LinkException("__cxa_atexit failed to register a destructor");
        }
    }

    /** Runs and removes every exit handler registered with {@code dsoHandle}, newest first. */
    public static void finalize(long dsoHandle) {
        Native.cxaFinalize(dsoHandle);
    }

    /** Calls an IFUNC resolver of loaded code ({@code void *(*)(void)}) and returns its answer. */
    public static long callResolver(long resolver) {
        return Native.callResolver(resolver);
    }

    /** Calls a {@code void (*)(void)} of loaded code. */
    public static void call(long function) {
        Native.callVoid(function);
    }
}
