package dev.jdyld.runtime.ffi;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Calls into loaded code and out of it: constructors, resolvers and functions of the sets, through
 * {@link Native}'s one call stub or handles of their own, and upcall stubs for Java code they call.
 */
public final class LoadedCode {
    /** Handles of calls into loaded code, by address; no library is looked up here. */
    private static final Linker LINKER = Linker.nativeLinker();

    private LoadedCode() {}

    /** Calls a {@code void (*)(void)} at {@code address}: a constructor or destructor of loaded code. */
    @SuppressWarnings("restricted")
    public static void callVoid(long address) {
        Native.call("function at 0x" + Long.toHexString(address), MemorySegment.ofAddress(address));
    }

    /** Calls a {@code void (*)(void *)} at {@code address} with {@code argument}: a destructor of loaded code. */
    @SuppressWarnings("restricted")
    public static void callVoid(long address, long argument) {
        Native.call("function at 0x" + Long.toHexString(address), MemorySegment.ofAddress(address), argument);
    }

    /** Calls the C function at {@code address} (of jdyld's support library) with up to five integer arguments. */
    @SuppressWarnings("restricted")
    public static long callAt(String name, long address, long a, long b, long c, long d, long e) {
        return Native.call(name, MemorySegment.ofAddress(address), a, b, c, d, e, 0);
    }

    /** Calls a {@code void *(*)(void)} at {@code address}, an IFUNC resolver, and returns its answer. */
    @SuppressWarnings("restricted")
    public static long callResolver(long address) {
        return Native.call("IFUNC resolver at 0x" + Long.toHexString(address), MemorySegment.ofAddress(address));
    }

    /**
     * A downcall handle for loaded code at {@code target}'s address, with {@code target} bound as
     * its first argument: a call keeps {@code target}'s arena open for its duration, and fails with
     * {@link IllegalStateException} once the arena is closed.
     */
    public static MethodHandle downcall(MemorySegment target, FunctionDescriptor descriptor, Linker.Option... options) {
        return java.lang.invoke.MethodHandles.insertArguments(LINKER.downcallHandle(descriptor, options), 0, target);
    }

    /** A downcall handle that takes the target as a leading {@code MemorySegment} argument. */
    public static MethodHandle downcall(FunctionDescriptor descriptor, Linker.Option... options) {
        return LINKER.downcallHandle(descriptor, options);
    }

    /** A downcall handle for loaded code at {@code address}. */
    @SuppressWarnings("restricted")
    public static MethodHandle downcall(long address, FunctionDescriptor descriptor, Linker.Option... options) {
        return LINKER.downcallHandle(MemorySegment.ofAddress(address), descriptor, options);
    }

    /** An upcall stub that lives as long as {@code arena}. */
    public static MemorySegment upcall(MethodHandle target, FunctionDescriptor descriptor, Arena arena) {
        return LINKER.upcallStub(target, descriptor, arena);
    }

    /** An upcall stub that lives as long as the process. */
    public static long upcall(MethodHandle target, FunctionDescriptor descriptor) {
        return LINKER.upcallStub(target, descriptor, Arena.global()).address();
    }
}
