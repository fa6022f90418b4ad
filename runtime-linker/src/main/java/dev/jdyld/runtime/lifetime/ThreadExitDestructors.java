package dev.jdyld.runtime.lifetime;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Thread-local destructors that loaded code registers ({@code __cxa_thread_atexit},
 * {@code __cxa_thread_atexit_impl}) hold the set they belong to, as glibc ties them to a DSO and
 * defers its {@code dlclose}: a set with destructors pending on live threads keeps its memory
 * until those threads have run them.
 */
public final class ThreadExitDestructors {
    /** Sets that may register destructors, by the address of their {@code __dso_handle}. */
    private static final Map<Long, Registered> BY_DSO_HANDLE = new ConcurrentHashMap<>();

    private record Registered(MemoryHolds holds, Object owner) {}

    private ThreadExitDestructors() {}

    /**
     * The set whose {@code __dso_handle} is at {@code dsoHandle} is loaded: destructors its code
     * registers hold {@code holds}, and run as calls of {@code owner}.
     */
    public static void register(long dsoHandle, MemoryHolds holds, Object owner) {
        if (dsoHandle != 0) {
            BY_DSO_HANDLE.put(dsoHandle, new Registered(holds, owner));
        }
    }

    /** The set's memory is released: no destructor of it is pending any more. */
    public static void unregister(long dsoHandle) {
        if (dsoHandle != 0) {
            BY_DSO_HANDLE.remove(dsoHandle);
        }
    }
}
