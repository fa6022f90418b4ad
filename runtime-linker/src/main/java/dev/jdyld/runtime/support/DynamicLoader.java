package dev.jdyld.runtime.support;

import dev.jdyld.runtime.ffi.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * {@code dlopen} whose error message survives: the support library takes {@code dlerror()}'s text
 * in the same C call, before the JVM can make a failing {@code dl*} call of its own, which frees it.
 */
public final class DynamicLoader {
    private DynamicLoader() {}

    private static final int ERROR_SIZE = 1024;

    /** A library opened, or why not: {@code handle} 0 and the loader's {@code error}. */
    public record Opened(long handle, String error) {}

    /** {@code dlopen(name, flags)}, with the loader's message when it fails. */
    public static Opened open(String name, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment error = arena.allocate(ERROR_SIZE);
            long handle = SupportLibrary.call("jdyld_dlopen", SupportLibrary.JDYLD_DLOPEN,
                    Native.nulTerminated(arena, name).address(), flags, error.address(), ERROR_SIZE, 0);
            return new Opened(handle, handle != 0 ? null : error.getString(0));
        }
    }
}
