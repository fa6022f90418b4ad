package dev.jdyld.runtime.support;

import dev.jdyld.core.LinkException;
import dev.jdyld.runtime.ffi.LoadedCode;
import dev.jdyld.runtime.ffi.Native;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;

/**
 * jdyld's own native library ({@code src/main/c}, {@code jdyld_support.h}): built by the project's
 * build for the machine's architecture into the jar, written into a memory file and opened from
 * there on first use, so nothing is left on disk (the file's descriptor stays open). Every function of it is bound here.
 *
 * <p>Its calls go through {@link Native}'s one call stub, as the C library's do.
 */
final class SupportLibrary {
    private static final String RESOURCE = "libjdyld-support-" + System.getProperty("os.arch") + ".so";
    private static final long HANDLE = open();
    /* int jdyld_faults_install(void); */
    static final long JDYLD_FAULTS_INSTALL = symbol("jdyld_faults_install");
    /* long jdyld_faults_register(uintptr_t start, uintptr_t end, const void *table, size_t table_size, size_t count); */
    static final long JDYLD_FAULTS_REGISTER = symbol("jdyld_faults_register");
    /* void jdyld_faults_unregister(long id); */
    static final long JDYLD_FAULTS_UNREGISTER = symbol("jdyld_faults_unregister");
    /* int jdyld_faults_alternate_stack(void); */
    static final long JDYLD_FAULTS_ALTERNATE_STACK = symbol("jdyld_faults_alternate_stack");
    /* int jdyld_stack_make_executable(void); */
    static final long JDYLD_STACK_MAKE_EXECUTABLE = symbol("jdyld_stack_make_executable");
    /* int jdyld_pthread_create_executable_stack(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *); */
    static final long JDYLD_PTHREAD_CREATE_EXECUTABLE_STACK = symbol("jdyld_pthread_create_executable_stack");
    /* void *jdyld_dlopen(const char *name, int flags, char *error, size_t size); */
    static final long JDYLD_DLOPEN = symbol("jdyld_dlopen");

    private SupportLibrary() {}

    private static long open() {
        byte[] bytes;
        try (InputStream in = SupportLibrary.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new LinkException("jdyld's support library " + RESOURCE + " is not in the jar: this build has none"
                        + " for the architecture " + System.getProperty("os.arch"));
            }
            bytes = in.readAllBytes();
        } catch (IOException e) {
            throw new LinkException("cannot read jdyld's support library " + RESOURCE + ": " + e.getMessage(), e);
        }
        int fd = Native.memoryFile("jdyld-support", bytes);
        if (fd < 0) {
            throw new LinkException("cannot make a memory file for jdyld's support library");
        }
        // The descriptor stays open for the life of the process: the dynamic loader knows the library
        // by this path, and would take a later memory file that got the same number for it. The path
        // names this process, not "self": a debugger reads the library list's paths in its own.
        long handle = Native.dlopen("/proc/" + ProcessHandle.current().pid() + "/fd/" + fd);
        if (handle == 0) {
            Native.closeFile(fd);
            throw new LinkException("cannot open jdyld's support library: " + Native.dlerror());
        }
        return handle;
    }

    private static long symbol(String name) {
        try (Arena arena = Arena.ofConfined()) {
            long address = Native.dlsym(HANDLE, Native.nulTerminated(arena, name));
            if (address == 0) {
                throw new LinkException("jdyld's support library has no " + name + ": it is from another build");
            }
            return address;
        }
    }

    /** Calls the library's function at {@code function} with up to five integer or pointer arguments. */
    static long call(String name, long function, long a, long b, long c, long d, long e) {
        return LoadedCode.callAt(name, function, a, b, c, d, e);
    }
}
