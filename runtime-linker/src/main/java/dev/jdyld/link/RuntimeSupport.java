package dev.jdyld.link;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * C runtime functions that the host process does not export but compiled code calls: glibc
 * keeps {@code atexit} in {@code libc_nonshared.a}, linked statically into each program, so
 * {@code dlsym} cannot find it. jdyld provides it, routed to the host's {@code __cxa_atexit}
 * as glibc's own static version does.
 */
final class RuntimeSupport {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup C = LINKER.defaultLookup();
    /* int __cxa_atexit(void (*func)(void *), void *arg, void *dso_handle); */
    private static final MethodHandle CXA_ATEXIT = LINKER.downcallHandle(C.findOrThrow("__cxa_atexit"),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    /* int atexit(void (*func)(void)); as an upcall stub that lives as long as the process */
    private static final MemorySegment ATEXIT = upcall("atexit", MethodType.methodType(int.class, MemorySegment.class),
            FunctionDescriptor.of(JAVA_INT, ADDRESS));

    private RuntimeSupport() {}

    /** Address of a runtime function jdyld provides, or 0. */
    static long find(String name) {
        return name.equals("atexit") ? ATEXIT.address() : 0;
    }

    @SuppressWarnings("unused") // called from native code through the upcall stub
    private static int atexit(MemorySegment function) {
        try {
            return (int) CXA_ATEXIT.invokeExact(function, MemorySegment.NULL, MemorySegment.NULL);
        } catch (Throwable t) {
            return -1;
        }
    }

    private static MemorySegment upcall(String name, MethodType type, FunctionDescriptor descriptor) {
        try {
            MethodHandle target = MethodHandles.lookup().findStatic(RuntimeSupport.class, name, type);
            return LINKER.upcallStub(target, descriptor, Arena.global());
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }
}
