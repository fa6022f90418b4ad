package dev.jdyld.runtime;

import dev.jdyld.runtime.ffi.LoadedCode;
import dev.jdyld.runtime.ffi.Native;
import dev.jdyld.core.LinkException;
import dev.jdyld.runtime.support.FaultReports;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.function.Supplier;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

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
        return LoadedCode.callResolver(resolver);
    }

    /** The stack a C program's main thread gets on Linux by default. */
    private static final long MAIN_STACK = 8L << 20;

    /**
     * Runs {@code int main(int argc, char **argv, char **envp)} as a C program's main thread:
     * on a thread of its own with the process's environment; when it returns, that thread's
     * {@code thread_local} destructors and {@code fflush(NULL)}, as {@code exit} would run them, so
     * that they run, and in the same order as natively, before the caller goes on. The thread then
     * ends and never runs loaded code again, which the destroyed thread-locals require.
     *
     * {@code enter} runs on that thread before {@code main} is called (it may refuse by throwing),
     * {@code exit} after the destructors; a failure {@code exit} returns is thrown when main returned.
     *
     * @return what {@code main} returned
     */
    @SuppressWarnings("restricted")
    public static int runMain(long main, List<String> argv, String name, Runnable enter, Supplier<Throwable> exit) {
        int[] status = new int[1];
        Throwable[] failure = new Throwable[1];
        Thread thread = Thread.ofPlatform().name(name).stackSize(MAIN_STACK).unstarted(() -> {
            try (Arena arguments = Arena.ofConfined()) {
                // Pointers written as longs: the ADDRESS accessors would set up method handles of their
                // own, milliseconds of a cold start.
                MemorySegment vector = arguments.allocate(JAVA_LONG, argv.size() + 1L);
                for (int i = 0; i < argv.size(); i++) {
                    vector.setAtIndex(JAVA_LONG, i, Native.nulTerminated(arguments, argv.get(i)).address());
                }
                vector.setAtIndex(JAVA_LONG, argv.size(), 0L);
                FaultReports.alternateStackForThisThread(); // a stack overflow in main is reported too
                enter.run();
                Throwable lazyFailure;
                try {
                    // main through the shared call stub: its int and pointers are integer-class, as is
                    // its int result, the low half of the long one; no stub of its own to generate.
                    long result = Native.call(name, MemorySegment.ofAddress(main), argv.size(), vector.address(),
                            Native.environ(), 0, 0, 0);
                    status[0] = (int) result;
                    Native.callThreadLocalDestructors();
                    Native.flushAllStreams();
                } finally {
                    lazyFailure = exit.get();
                }
                if (lazyFailure != null) {
                    throw lazyFailure;
                }
            } catch (Throwable t) {
                failure[0] = t;
            }
        });
        thread.start();
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true; // main cannot be stopped from outside; wait for it, then say so
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        switch (failure[0]) {
            case null -> { }
            case RuntimeException e -> throw e;
            case Error e -> throw e;
            default -> throw new AssertionError("main downcall failed", failure[0]);
        }
        return status[0];
    }

    /** Calls a {@code void (*)(void)} of loaded code. */
    public static void call(long function) {
        LoadedCode.callVoid(function);
    }
}
