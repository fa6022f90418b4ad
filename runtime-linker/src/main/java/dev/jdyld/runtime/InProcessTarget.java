package dev.jdyld.runtime;

import dev.jdyld.executor.HostLookup;
import dev.jdyld.executor.RuntimeFunction;
import dev.jdyld.executor.TargetProcess;
import dev.jdyld.executor.ThreadLocalBlock;
import dev.jdyld.link.arch.Architecture;
import dev.jdyld.memory.MemoryManager;
import dev.jdyld.runtime.ffi.Libgcc;
import dev.jdyld.runtime.ffi.LoadedCode;
import dev.jdyld.runtime.lifetime.ThreadExitDestructors;
import dev.jdyld.runtime.support.ExecutableStacks;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.function.Supplier;

/**
 * The JVM's own process as the executor: sets are mapped here, host symbols are this process's,
 * and calls are FFM downcalls. The default, and the fastest; a crash of loaded code is a crash
 * of the JVM (reported by {@code FaultReports} first).
 */
public final class InProcessTarget implements TargetProcess {
    private final MemoryManager memory;
    private final HostSymbols host;
    private final Architecture arch;

    public InProcessTarget(MemoryManager memory, HostSymbols host, Architecture arch) {
        this.memory = memory;
        this.host = host;
        this.arch = arch;
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
        return switch (function) {
            case CXA_ATEXIT -> CRuntime.cxaAtexitAddress();
            case CXA_AT_QUICK_EXIT -> CRuntime.cxaAtQuickExitAddress();
            case REGISTER_ATFORK -> CRuntime.registerAtforkAddress();
            case CXA_THREAD_ATEXIT -> ThreadExitDestructors.registrationAddress(arch);
            case PTHREAD_CREATE -> ExecutableStacks.pthreadCreateAddress();
            case PTHREAD_GETSPECIFIC -> ThreadLocalStorage.PTHREAD_GETSPECIFIC;
            case TLS_SLOW_PATH -> ThreadLocalStorage.SLOW_PATH;
            case FREE -> ThreadLocalStorage.FREE_ADDRESS;
        };
    }

    @Override
    public ThreadLocalBlock createThreadLocalStorage(long destructor, long templateAddress, long templateSize,
                                                     long blockSize, long alignment) {
        return ThreadLocalStorage.create(destructor, templateAddress, templateSize, blockSize, alignment);
    }

    @Override
    public ThreadLocalBlock createStaticThreadLocalStorage(MemorySegment template, long blockSize, long alignment,
                                                           String setName) {
        return ThreadLocalStorage.createStatic(new ElfImages.Target(arch.machine(), arch.threadPointerOffsetRelocation()),
                template, blockSize, alignment, setName);
    }

    @Override
    public void needExecutableStack(String reason) {
        dev.jdyld.runtime.lifetime.ThreadCalls.current().needExecutableStack(reason);
    }

    @Override
    public long threadPointer() {
        return dev.jdyld.runtime.ffi.Native.pthreadSelf();
    }

    @Override
    public long callResolver(long resolver) {
        return CRuntime.callResolver(resolver);
    }

    @Override
    public void callVoid(long function) {
        CRuntime.call(function);
    }

    @Override
    public void registerExitHandler(long function, long dsoHandle) {
        CRuntime.atexit(function, dsoHandle);
    }

    @Override
    public void runExitHandlers(long dsoHandle) {
        CRuntime.finalize(dsoHandle);
    }

    @Override
    public long upcall(MethodHandle target, FunctionDescriptor descriptor, java.lang.foreign.Arena arena) {
        return LoadedCode.upcall(target, descriptor, arena).address();
    }

    @Override
    public void registerFrames(long ehFrame) {
        Libgcc.registerFrame(ehFrame);
    }

    @Override
    public void deregisterFrames(long ehFrame) {
        Libgcc.deregisterFrame(ehFrame);
    }

    @Override
    public int runMain(long main, List<String> argv, String name, Runnable enter, Supplier<Throwable> exit) {
        return CRuntime.runMain(main, argv, name, enter, exit);
    }

    @Override
    public MethodHandle functionHandle(long address, FunctionDescriptor descriptor) {
        return LoadedCode.downcall(address, descriptor);
    }

    /** The JVM's own process is not one to end. */
    @Override
    public boolean kill() {
        return false;
    }

    @Override
    public boolean inThisProcess() {
        return true;
    }

    /** The memory manager and host libraries belong to the linker, which closes them. */
    @Override
    public void close() {
    }
}
