package dev.jdyld.runtime.child;

import dev.jdyld.core.ExecutorException;
import dev.jdyld.core.LinkException;
import dev.jdyld.executor.HostLookup;
import dev.jdyld.executor.RuntimeFunction;
import dev.jdyld.executor.TargetProcess;
import dev.jdyld.executor.ThreadLocalBlock;
import dev.jdyld.memory.MemoryManager;
import dev.jdyld.runtime.ElfImages;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.function.LongFunction;
import java.util.function.Supplier;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A child process as the executor: {@code jdyld-executor} started for one linker. The linker
 * links here and writes the sets into memory files the child maps; host symbols, thread-local
 * storage, initializers and calls are requests to the child. A crash of loaded code ends the
 * child: the request in flight throws {@link dev.jdyld.core.ExecutorCrashedException}, and so does
 * every later one.
 */
public final class ChildTarget implements TargetProcess {
    private final ChildProcess child;
    private final MemoryManager memory;
    private final ChildHostSymbols host;
    private final long callTimeoutMillis;
    private final ElfImages.Target elfTarget;
    private final ChildUpcalls upcalls;

    private ChildTarget(ChildProcess child, MemoryManager.Options options, String multiarchTriple, long callTimeoutMillis,
                        ElfImages.Target elfTarget) {
        this.child = child;
        this.elfTarget = elfTarget;
        this.upcalls = new ChildUpcalls(child);
        child.upcalls(upcalls::answer);
        this.memory = new MemoryManager(options, new ChildAddressSpace(child));
        this.host = new ChildHostSymbols(child, multiarchTriple);
        this.callTimeoutMillis = callTimeoutMillis;
    }

    /**
     * Starts an executor and opens the host libraries in it.
     *
     * @param machine           the executor's machine ({@code amd64}, {@code aarch64}), run under qemu-user
     *                          when it is not this one's
     * @param callTimeoutMillis limit on each call into loaded code, 0 for none
     * @throws ExecutorException if the executor cannot be started
     * @throws LinkException     if a host library cannot be opened there
     */
    public static ChildTarget start(String machine, MemoryManager.Options options, String multiarchTriple,
                                    List<String> libraries, long callTimeoutMillis, ElfImages.Target elfTarget) {
        ChildProcess child = ChildProcess.start(ExecutorBinary.command(machine));
        ChildTarget target = new ChildTarget(child, options, multiarchTriple, callTimeoutMillis, elfTarget);
        try {
            for (String library : libraries) {
                target.host.addLibrary(library);
            }
        } catch (RuntimeException e) {
            target.close();
            throw e;
        }
        return target;
    }

    /** Names addresses of loaded code in crash reports. */
    public void symbolizer(LongFunction<String> symbolizer) {
        child.symbolizer(symbolizer);
    }

    /** The executor's process id. */
    public int pid() {
        return child.pid();
    }

    @Override
    public MemoryManager memory() {
        return memory;
    }

    @Override
    public HostLookup host() {
        return host;
    }

    @Override
    public long runtimeFunction(RuntimeFunction function) {
        // As in process: exit handlers go to the C library's own lists, with the set's handle, so
        // that exit runs them in order with everything else and FINALIZE (__cxa_finalize) runs the set's.
        switch (function) {
            case CXA_ATEXIT -> {
                return host.find("__cxa_atexit");
            }
            case CXA_AT_QUICK_EXIT -> {
                return host.find("__cxa_at_quick_exit");
            }
            case REGISTER_ATFORK -> {
                return host.find("__register_atfork");
            }
            default -> { }
        }
        String name = switch (function) {
            case CXA_THREAD_ATEXIT -> "__cxa_thread_atexit_impl";
            case PTHREAD_CREATE -> "jdyld_pthread_create_executable_stack";
            case PTHREAD_GETSPECIFIC -> "pthread_getspecific";
            case TLS_SLOW_PATH -> "jdyld_tls_slow_path";
            default -> "free";
        };
        long address = child.bootstrapSymbol(name);
        if (address == 0) {
            throw new ExecutorException("the executor (pid " + child.pid() + ") did not name " + name + " in its HELLO");
        }
        return address;
    }

    @Override
    public ThreadLocalBlock createThreadLocalStorage(long destructor, long templateAddress, long templateSize,
                                                     long blockSize, long alignment) {
        byte[] reply = child.request(Protocol.TLS_CREATE, new Protocol.Writer().u64(destructor).u64(templateAddress)
                .u64(templateSize).u64(blockSize).u64(alignment).bytes(), 0);
        int key = new Protocol.Reader(reply, "TLS_CREATE reply").u32();
        return new Block(key, 0, false, blockSize, Math.max(alignment, 16), Protocol.TLS_DELETE,
                new Protocol.Writer().u32(key).bytes());
    }

    /**
     * The block goes into the executor's static TLS as in process: a small shared object the JVM
     * builds, whose PT_TLS segment is the block, loaded there with {@code dlopen}.
     */
    @Override
    public ThreadLocalBlock createStaticThreadLocalStorage(MemorySegment template, long blockSize, long alignment,
                                                           String setName) {
        if (alignment > MAX_STATIC_TLS_ALIGNMENT) {
            throw new LinkException(setName + ": thread-local storage aligned to " + alignment + " bytes cannot be in"
                    + " static TLS (at most " + MAX_STATIC_TLS_ALIGNMENT + "); compile with -fPIC");
        }
        byte[] image = ElfImages.staticTlsModule(elfTarget, template.toArray(JAVA_BYTE), blockSize, Math.max(alignment, 1));
        Protocol.Writer request = new Protocol.Writer().string(ElfImages.TLS_OFFSET_SYMBOL).u64(image.length);
        byte[] head = request.bytes();
        byte[] payload = java.util.Arrays.copyOf(head, head.length + image.length);
        System.arraycopy(image, 0, payload, head.length, image.length);
        Protocol.Reader reply;
        try {
            reply = new Protocol.Reader(child.request(Protocol.STATIC_TLS_LOAD, payload, 0), "STATIC_TLS_LOAD reply");
        } catch (ExecutorException e) {
            if (!child.isAlive()) {
                throw e;
            }
            throw new LinkException(setName + ": the set's thread-locals are accessed as static TLS (local-exec or"
                    + " initial-exec code) and need " + blockSize + " bytes of the executor's, which refused: "
                    + e.getMessage() + "; raise GLIBC_TUNABLES=glibc.rtld.optional_static_tls, or compile with -fPIC", e);
        }
        long handle = reply.u64();
        long offset = reply.u64();
        int fd = reply.u32();
        return new Block(0, offset, true, blockSize, alignment, Protocol.STATIC_TLS_CLOSE,
                new Protocol.Writer().u64(handle).u32(fd).bytes());
    }

    private static final long MAX_STATIC_TLS_ALIGNMENT = 64;

    /**
     * A set's TLS in the executor: a key of per-thread blocks, or a block in static TLS. Closing
     * sends the request that gives it back, unless the executor is gone with it.
     */
    private final class Block implements ThreadLocalBlock {
        private final long moduleId;
        private final long threadPointerOffset;
        private final boolean isStatic;
        private final long blockSize;
        private final long alignment;
        private final int closeOpcode;
        private final byte[] closePayload;
        private boolean closed;

        Block(long moduleId, long threadPointerOffset, boolean isStatic, long blockSize, long alignment, int closeOpcode,
              byte[] closePayload) {
            this.moduleId = moduleId;
            this.threadPointerOffset = threadPointerOffset;
            this.isStatic = isStatic;
            this.blockSize = blockSize;
            this.alignment = alignment;
            this.closeOpcode = closeOpcode;
            this.closePayload = closePayload;
        }

        @Override
        public long moduleId() {
            return moduleId;
        }

        @Override
        public long threadPointerOffset() {
            return threadPointerOffset;
        }

        @Override
        public boolean isStatic() {
            return isStatic;
        }

        @Override
        public long blockSize() {
            return blockSize;
        }

        @Override
        public long alignment() {
            return alignment;
        }

        @Override
        public synchronized void close() {
            if (!closed && child.isAlive()) {
                child.request(closeOpcode, closePayload, 0);
            }
            closed = true;
        }
    }

    private boolean executableStack;

    /** The executor's main thread, which runs every call, gets an executable stack, once. */
    @Override
    public synchronized void needExecutableStack(String reason) {
        if (!executableStack) {
            child.request(Protocol.EXECUTABLE_STACK, new byte[0], 0);
            executableStack = true;
        }
    }

    private long threadPointer;

    /** The executor's main thread's: every call runs there. Asked once. */
    @Override
    public synchronized long threadPointer() {
        if (threadPointer == 0) {
            // The thread pointer itself: pthread_self() is it on x86-64 only (AArch64's points past the TCB).
            threadPointer = call(child.bootstrapSymbol("jdyld_thread_pointer"), Protocol.RETURN_INTEGER, new long[6],
                    new long[8])[0];
        }
        return threadPointer;
    }

    @Override
    public long callResolver(long resolver) {
        // Through the executor's own caller: an AArch64 resolver takes the hardware capabilities.
        return call(child.bootstrapSymbol("jdyld_resolve_ifunc"), Protocol.RETURN_INTEGER, new long[] {resolver, 0, 0, 0, 0, 0},
                new long[8])[0];
    }

    @Override
    public void callVoid(long function) {
        call(function, Protocol.RETURN_INTEGER, new long[6], new long[8]);
    }

    /** One call in the child: rax and xmm0 as it left them. */
    long[] call(long function, int returnKind, long[] integers, long[] floats) {
        Protocol.Writer request = new Protocol.Writer().u64(function).u32(returnKind).u32(0);
        for (long value : integers) {
            request.u64(value);
        }
        for (long value : floats) {
            request.u64(value);
        }
        Protocol.Reader reply = new Protocol.Reader(child.request(Protocol.CALL, request.bytes(), callTimeoutMillis),
                "CALL reply");
        long[] registers = {reply.u64(), reply.u64()};
        upcalls.rethrowPending();
        return registers;
    }

    @Override
    public void registerExitHandler(long function, long dsoHandle) {
        long[] arguments = {function, 0, dsoHandle, 0, 0, 0};
        if ((int) call(runtimeFunction(RuntimeFunction.CXA_ATEXIT), Protocol.RETURN_INTEGER, arguments, new long[8])[0] != 0) {
            throw new LinkException("the executor's __cxa_atexit failed to register a destructor");
        }
    }

    @Override
    public void runExitHandlers(long dsoHandle) {
        if (child.isAlive()) {
            child.request(Protocol.FINALIZE, new Protocol.Writer().u64(dsoHandle).bytes(), callTimeoutMillis);
        }
    }

    /** A thunk in the executor that calls {@code target} here over the socket; lives as long as the executor. */
    @Override
    public long upcall(MethodHandle target, FunctionDescriptor descriptor, java.lang.foreign.Arena arena) {
        return upcalls.define(target, descriptor);
    }

    @Override
    public void registerFrames(long ehFrame) {
        child.request(Protocol.REGISTER_FRAMES, new Protocol.Writer().u64(ehFrame).bytes(), 0);
    }

    @Override
    public void deregisterFrames(long ehFrame) {
        if (child.isAlive()) {
            child.request(Protocol.DEREGISTER_FRAMES, new Protocol.Writer().u64(ehFrame).bytes(), 0);
        }
    }

    /**
     * Runs main on the executor's main thread, its stdin, stdout and stderr being the JVM's own. A
     * program that calls {@code exit} ends the executor: its status is main's result then.
     */
    @Override
    public int runMain(long main, List<String> argv, String name, Runnable enter, Supplier<Throwable> exit) {
        Protocol.Writer request = new Protocol.Writer().u64(main).u32(argv.size());
        for (String argument : argv) {
            request.string(argument);
        }
        enter.run();
        Throwable lazyFailure;
        int status;
        try {
            status = new Protocol.Reader(child.request(Protocol.RUN_MAIN, request.bytes(), callTimeoutMillis),
                    "RUN_MAIN reply").u32();
            upcalls.rethrowPending();
        } catch (ExecutorException e) {
            if (child.exitStatus() < 0) {
                throw e;
            }
            status = child.exitStatus(); // the program called exit(): its status, as natively
        } finally {
            lazyFailure = exit.get();
        }
        if (lazyFailure instanceof RuntimeException e) {
            throw e;
        }
        return status;
    }

    @Override
    public MethodHandle functionHandle(long address, FunctionDescriptor descriptor) {
        return ChildCalls.handle(this, address, descriptor);
    }

    @Override
    public boolean kill() {
        child.kill();
        return true;
    }

    @Override
    public boolean inThisProcess() {
        return false;
    }

    /** Asks the executor to exit (the sets' exit handlers run there) and reaps it. */
    @Override
    public void close() {
        child.close();
    }
}
