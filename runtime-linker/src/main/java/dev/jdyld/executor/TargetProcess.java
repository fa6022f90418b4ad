package dev.jdyld.executor;

import dev.jdyld.memory.MemoryManager;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.function.Supplier;

/**
 * The executor SPI: what the engine needs from the process the code will run in. The engine
 * decides every address and writes every byte through {@link #memory()}'s slabs; the target
 * maps, finds host symbols, keeps thread-local storage, runs the sets' initializers and calls.
 * Two implementations: this JVM's own process ({@code runtime.InProcessTarget}), and a child
 * process reached over a socket ({@code runtime.child.ChildTarget}), where a crash of loaded code
 * ends the child, never the JVM.
 */
public interface TargetProcess extends AutoCloseable {
    /** Where sets are placed: this process's address space, or a view of the child's. */
    MemoryManager memory();

    /** The host's symbols there: its global scope and the host libraries opened there. */
    HostLookup host();

    /** The address there of a function the emitted code or the sets call; 0 when the target has none. */
    long runtimeFunction(RuntimeFunction function);

    /**
     * Makes a set's thread-local storage: a key whose per-thread blocks are initialised from the
     * template at {@code templateAddress}, freed by the emitted {@code destructor} at thread exit.
     */
    ThreadLocalBlock createThreadLocalStorage(long destructor, long templateAddress, long templateSize, long blockSize,
                                              long alignment);

    /**
     * Places a set's block in every thread's static TLS (for initial-exec and local-exec accesses),
     * initialised from the relocated {@code template}.
     */
    ThreadLocalBlock createStaticThreadLocalStorage(MemorySegment template, long blockSize, long alignment, String setName);

    /**
     * The thread that runs a set's constructors and calls there needs an executable stack
     * ({@code reason}: the set's executable {@code .note.GNU-stack}); threads the set starts get one
     * through {@link RuntimeFunction#PTHREAD_CREATE}.
     */
    void needExecutableStack(String reason);

    /**
     * The thread pointer of a thread there (glibc's {@code pthread_self()}, which is {@code %fs:0}):
     * the host's own thread-locals in static TLS are at one offset from it on every thread.
     */
    long threadPointer();

    /** Calls an IFUNC resolver ({@code void *(*)(void)}) there and returns its answer. */
    long callResolver(long resolver);

    /** Calls a {@code void (*)(void)} there: a constructor. */
    void callVoid(long function);

    /** Registers {@code function} to run when the set of {@code dsoHandle} is finalized, or at exit. */
    void registerExitHandler(long function, long dsoHandle);

    /** Runs, newest first, the exit handlers registered for {@code dsoHandle} (atexit, C++ statics, fini). */
    void runExitHandlers(long dsoHandle);

    /**
     * An address there that loaded code calls as a C function of {@code descriptor}'s signature and
     * that runs {@code target} in this JVM (a Java definition, a lazy symbol's resolver), valid while
     * {@code arena} is open.
     */
    long upcall(MethodHandle target, FunctionDescriptor descriptor, java.lang.foreign.Arena arena);

    /** Registers a set's {@code .eh_frame} with the unwinder there (C++ exceptions, backtraces). */
    void registerFrames(long ehFrame);

    /** Deregisters what {@link #registerFrames} registered. */
    void deregisterFrames(long ehFrame);

    /**
     * Runs {@code int main(int, char **, char **)} as a C program's main thread would, with
     * {@code enter} before and {@code exit} after on the thread that calls it; its status.
     */
    int runMain(long main, List<String> argv, String name, Runnable enter, Supplier<Throwable> exit);

    /** A handle that calls the function at {@code address} there with {@code descriptor}'s arguments and result. */
    MethodHandle functionHandle(long address, FunctionDescriptor descriptor);

    /**
     * Ends the process the code runs in at once, if it is not this one: a call running there ends
     * with it. Returns whether there was such a process to end.
     */
    boolean kill();

    /** Whether the code runs in this JVM's process (its addresses can be dereferenced here). */
    boolean inThisProcess();

    /** Gives the target back: the child exits; this process's target has nothing to give. */
    @Override
    void close();
}
