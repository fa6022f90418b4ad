package dev.jdyld.runtime.lifetime;

import dev.jdyld.link.arch.Architecture;
import dev.jdyld.memory.MemoryMaps;
import dev.jdyld.runtime.ffi.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Native entries in front of the thread-local destructor upcalls, mapped once for the process:
 * they enter the JVM only while it exists (see {@code Architecture.writeThreadExitCode}). An
 * upcall on a thread the JVM does not know attaches it, and after {@code DestroyJavaVM} (the
 * Java {@code main} returned) that fails and the JVM aborts the process; yet glibc still runs the
 * destructors of the thread that ran {@code main} then, and of threads that loaded code started.
 *
 * <p>The check and the attach are not atomic: a foreign thread that ends in the moment the JVM is
 * destroyed can still reach the upcall. The window is that of a thread racing the process's own end.
 *
 * @param register what loaded code calls to register a destructor
 * @param run      what glibc calls at thread exit with a record of one
 */
record ThreadExitGuard(long register, long run) {
    /** The JNI invocation function that counts the JVMs that exist: 0 once one was destroyed. */
    private static final String JNI_GET_CREATED_JAVA_VMS = "JNI_GetCreatedJavaVMs";

    /**
     * The guarded entries in front of {@code registerUpcall} and {@code runUpcall}; the upcalls
     * themselves when the JVM's library cannot be found (then nothing guards the JVM's end).
     */
    static ThreadExitGuard around(Architecture arch, long registerUpcall, long runUpcall) {
        long jvms = jniGetCreatedJavaVms();
        if (jvms == 0) {
            return new ThreadExitGuard(registerUpcall, runUpcall);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment code = arena.allocate(arch.threadExitCodeSize());
            arch.writeThreadExitCode(code, 0, jvms, registerUpcall, Native.libcAddress("__cxa_thread_atexit_impl"),
                    runUpcall, Native.libcAddress("free"));
            long base = Native.mapCode(code);
            return new ThreadExitGuard(base + arch.threadExitRegisterEntry(), base + arch.threadExitRunEntry());
        }
    }

    /**
     * {@code JNI_GetCreatedJavaVMs}: global when the {@code java} launcher opened the JVM's library,
     * else in the {@code libjvm.so} an embedding process opened privately.
     */
    private static long jniGetCreatedJavaVms() {
        try (Arena arena = Arena.ofConfined()) {
            long address = Native.dlsym(Native.RTLD_DEFAULT, Native.nulTerminated(arena, JNI_GET_CREATED_JAVA_VMS));
            if (address != 0) {
                return address;
            }
        }
        for (MemoryMaps.Mapping mapping : MemoryMaps.read()) {
            if (mapping.name().endsWith("/libjvm.so")) {
                long address = Native.loadedLibrarySymbol(mapping.name(), JNI_GET_CREATED_JAVA_VMS);
                if (address != 0) {
                    return address;
                }
            }
        }
        return 0;
    }
}
