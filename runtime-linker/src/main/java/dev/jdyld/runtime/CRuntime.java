package dev.jdyld.link;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The C library's registration functions that give a loaded set a life like a shared object's:
 * exit handlers bound to the set's {@code __dso_handle}, run by {@code __cxa_finalize} when the set
 * is closed, and calls of constructors and destructors.
 */
final class CRuntime {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup C = LINKER.defaultLookup();

    static final long CXA_ATEXIT = C.findOrThrow("__cxa_atexit").address();
    static final long CXA_AT_QUICK_EXIT = C.findOrThrow("__cxa_at_quick_exit").address();
    static final long REGISTER_ATFORK = C.findOrThrow("__register_atfork").address();

    /* int __cxa_atexit(void (*func)(void *), void *arg, void *dso_handle); */
    private static final MethodHandle CXA_ATEXIT_CALL = LINKER.downcallHandle(C.findOrThrow("__cxa_atexit"),
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    /* void __cxa_finalize(void *dso_handle); */
    private static final MethodHandle CXA_FINALIZE = LINKER.downcallHandle(C.findOrThrow("__cxa_finalize"),
            FunctionDescriptor.ofVoid(JAVA_LONG));
    /* void (*)(void): a constructor or destructor */
    private static final FunctionDescriptor VOID_FUNCTION = FunctionDescriptor.ofVoid();
    /* void *(*)(void): an IFUNC resolver */
    private static final FunctionDescriptor RESOLVER = FunctionDescriptor.of(JAVA_LONG);

    private CRuntime() {}

    /** Registers {@code function} to run at exit, or when the set of {@code dsoHandle} is finalized. */
    static void atexit(long function, long dsoHandle) {
        try {
            int rc = (int) CXA_ATEXIT_CALL.invokeExact(function, 0L, dsoHandle);
            if (rc != 0) {
                throw new LinkException("__cxa_atexit failed to register a destructor");
            }
        } catch (LinkException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("__cxa_atexit downcall failed", t);
        }
    }

    /** Runs and removes every exit handler registered with {@code dsoHandle}, newest first. */
    static void finalize(long dsoHandle) {
        try {
            CXA_FINALIZE.invokeExact(dsoHandle);
        } catch (Throwable t) {
            throw new AssertionError("__cxa_finalize downcall failed", t);
        }
    }

    /** Calls an IFUNC resolver of loaded code ({@code void *(*)(void)}) and returns its answer. */
    @SuppressWarnings("restricted")
    static long callResolver(long resolver) {
        try {
            return (long) LINKER.downcallHandle(MemorySegment.ofAddress(resolver), RESOLVER).invokeExact();
        } catch (Throwable t) {
            throw new AssertionError("call of IFUNC resolver at 0x" + Long.toHexString(resolver) + " failed", t);
        }
    }

    /** Calls a {@code void (*)(void)} of loaded code. */
    @SuppressWarnings("restricted")
    static void call(long function) {
        try {
            LINKER.downcallHandle(MemorySegment.ofAddress(function), VOID_FUNCTION).invokeExact();
        } catch (Throwable t) {
            throw new AssertionError("call of constructor or destructor at 0x" + Long.toHexString(function)
                    + " failed", t);
        }
    }
}
