package dev.jdyld.runtime;

import dev.jdyld.jit.LinkException;
import dev.jdyld.jit.Location;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Every call jdyld's runtime makes into native code, in one place: the C library (with the
 * dynamic loader's {@code dlopen}/{@code dlsym}, part of libc since glibc 2.34) and the unwinder
 * ({@code libgcc_s.so.1}); the C++ runtime's demangler is bound in {@link Demangler}. Handles are
 * made on first use, one holder class per group, so start-up pays only for what a run needs (a
 * handle of a new shape generates code, milliseconds each at start-up); a library that cannot be found is reported as a {@link LinkException} naming it and what it is
 * needed for when that is first needed, not as a class-initialisation failure.
 *
 * <p>Downcalls made here cannot fail in Java; a {@code Throwable} from {@code invokeExact} would be
 * a bug of the binding, so it is rethrown as an {@link AssertionError} naming the function.
 */
public final class Native {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup C = LINKER.defaultLookup();

    private Native() {}

    private static MethodHandle libc(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(C.findOrThrow(name), descriptor);
    }

    /** Address of a C library function, for code jdyld emits. */
    public static long libcAddress(String name) {
        return C.findOrThrow(name).address();
    }

    static final int RTLD_NOW = 0x2;
    static final int RTLD_GLOBAL = 0x100;

    private static final class Dl {
        /* void *dlopen(const char *filename, int flags); */
        static final MethodHandle DLOPEN = libc("dlopen", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_INT));
        /* void *dlsym(void *handle, const char *symbol); */
        static final MethodHandle DLSYM = libc("dlsym", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, ADDRESS));
        /* int dlclose(void *handle); */
        static final MethodHandle DLCLOSE = libc("dlclose", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
    }

    private static final class Strings {
        /* char *dlerror(void); */
        static final MethodHandle DLERROR = libc("dlerror", FunctionDescriptor.of(JAVA_LONG));
        /* size_t strlen(const char *s); */
        static final MethodHandle STRLEN = libc("strlen", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
    }

    /** {@code RTLD_DEFAULT}: the process's global scope for {@link #dlsym}. */
    public static final long RTLD_DEFAULT = 0;

    /** {@code dlopen(name, RTLD_NOW | RTLD_GLOBAL)}: the handle, or 0 ({@link #dlerror} says why). */
    public static long dlopen(String name) {
        return dlopen(name, RTLD_NOW | RTLD_GLOBAL);
    }

    static long dlopen(String name, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            return (long) Dl.DLOPEN.invokeExact(arena.allocateFrom(name), flags);
        } catch (Throwable t) {
            throw failed("dlopen", t);
        }
    }

    /** {@code dlclose(handle)}: 0, or non-zero with {@link #dlerror} saying why. */
    public static int dlclose(long handle) {
        try {
            return (int) Dl.DLCLOSE.invokeExact(handle);
        } catch (Throwable t) {
            throw failed("dlclose", t);
        }
    }

    /** {@code dlsym(handle, name)} with {@code name} already in native memory: the address, or 0. */
    public static long dlsym(long handle, MemorySegment name) {
        try {
            return (long) Dl.DLSYM.invokeExact(handle, name);
        } catch (Throwable t) {
            throw failed("dlsym", t);
        }
    }

    /** The dynamic loader's last error message. */
    @SuppressWarnings("restricted")
    public static String dlerror() {
        try {
            long message = (long) Strings.DLERROR.invokeExact();
            if (message == 0) {
                return "unknown error";
            }
            return cString(message);
        } catch (Throwable t) {
            throw failed("dlerror", t);
        }
    }

    /** The NUL-terminated string at {@code address}, read through a segment of exactly its length. */
    @SuppressWarnings("restricted")
    public static String cString(long address) {
        try {
            long length = (long) Strings.STRLEN.invokeExact(address);
            return MemorySegment.ofAddress(address).reinterpret(length + 1).getString(0);
        } catch (Throwable t) {
            throw failed("strlen", t);
        }
    }

    /** A symbol of the C library as the JDK's default lookup sees it; 0 when absent. */
    public static long defaultLookup(String name) {
        return C.find(name).map(MemorySegment::address).orElse(0L);
    }

    private static final class Threads {
        /* int pthread_key_create(pthread_key_t *key, void (*destructor)(void *)); */
        static final MethodHandle KEY_CREATE = libc("pthread_key_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
        /* int pthread_key_delete(pthread_key_t key); */
        static final MethodHandle KEY_DELETE = libc("pthread_key_delete", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        /* int pthread_setspecific(pthread_key_t key, const void *value); */
        static final MethodHandle SETSPECIFIC = libc("pthread_setspecific", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
        /* pthread_t pthread_self(void); */
        static final MethodHandle SELF = libc("pthread_self", FunctionDescriptor.of(JAVA_LONG));
    }

    /** {@code pthread_key_create(keyOut, destructor)}: 0 or an error number. */
    public static int pthreadKeyCreate(MemorySegment keyOut, long destructor) {
        try {
            return (int) Threads.KEY_CREATE.invokeExact(keyOut, destructor);
        } catch (Throwable t) {
            throw failed("pthread_key_create", t);
        }
    }

    public static int pthreadKeyDelete(int key) {
        try {
            return (int) Threads.KEY_DELETE.invokeExact(key);
        } catch (Throwable t) {
            throw failed("pthread_key_delete", t);
        }
    }

    public static int pthreadSetspecific(int key, long value) {
        try {
            return (int) Threads.SETSPECIFIC.invokeExact(key, value);
        } catch (Throwable t) {
            throw failed("pthread_setspecific", t);
        }
    }

    /** {@code pthread_self()}: the calling thread's handle (on glibc, its thread control block). */
    public static long pthreadSelf() {
        try {
            return (long) Threads.SELF.invokeExact();
        } catch (Throwable t) {
            throw failed("pthread_self", t);
        }
    }

    private static final class Memory {
        /* void *malloc(size_t size); */
        static final MethodHandle MALLOC = libc("malloc", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
        /* void free(void *ptr); */
        static final MethodHandle FREE = libc("free", FunctionDescriptor.ofVoid(JAVA_LONG));
    }

    public static long malloc(long size) {
        try {
            return (long) Memory.MALLOC.invokeExact(size);
        } catch (Throwable t) {
            throw failed("malloc", t);
        }
    }

    public static void free(long address) {
        try {
            Memory.FREE.invokeExact(address);
        } catch (Throwable t) {
            throw failed("free", t);
        }
    }

    private static final class Atexit {
        /* int __cxa_atexit(void (*func)(void *), void *arg, void *dso_handle); */
        static final MethodHandle CXA_ATEXIT = libc("__cxa_atexit", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        /* void __cxa_finalize(void *dso_handle); */
        static final MethodHandle CXA_FINALIZE = libc("__cxa_finalize", FunctionDescriptor.ofVoid(JAVA_LONG));
    }

    private static final class Exit {
        /* void __call_tls_dtors(void);  GLIBC_PRIVATE: what exit() and thread exit run first */
        static final MethodHandle CALL_TLS_DTORS = libc("__call_tls_dtors", FunctionDescriptor.ofVoid());
        /* int fflush(FILE *stream); */
        static final MethodHandle FFLUSH = libc("fflush", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
    }

    public static int cxaAtexit(long function, long argument, long dsoHandle) {
        try {
            return (int) Atexit.CXA_ATEXIT.invokeExact(function, argument, dsoHandle);
        } catch (Throwable t) {
            throw failed("__cxa_atexit", t);
        }
    }

    public static void cxaFinalize(long dsoHandle) {
        try {
            Atexit.CXA_FINALIZE.invokeExact(dsoHandle);
        } catch (Throwable t) {
            throw failed("__cxa_finalize", t);
        }
    }

    /** {@code __call_tls_dtors()}: runs the calling thread's {@code thread_local} destructors, newest first. */
    public static void callThreadLocalDestructors() {
        try {
            Exit.CALL_TLS_DTORS.invokeExact();
        } catch (Throwable t) {
            throw failed("__call_tls_dtors", t);
        }
    }

    /** {@code fflush(NULL)}: writes every open C output stream. */
    public static void flushAllStreams() {
        try {
            int ignored = (int) Exit.FFLUSH.invokeExact(0L);
        } catch (Throwable t) {
            throw failed("fflush", t);
        }
    }

    /** The C library's {@code environ}: the process environment as C sees it. */
    @SuppressWarnings("restricted")
    public static MemorySegment environ() {
        return C.findOrThrow("environ").reinterpret(ADDRESS.byteSize()).get(ADDRESS, 0);
    }

    private static final class Files {
        static final int O_RDONLY = 0;
        static final int PROT_READ = 1, PROT_EXEC = 4, MAP_PRIVATE = 2;
        static final long PAGE = 4096;
        /* int open(const char *pathname, int flags); */
        static final MethodHandle OPEN = libc("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        /* int close(int fd); */
        static final MethodHandle CLOSE = libc("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        /* void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset); */
        static final MethodHandle MMAP = libc("mmap",
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
        /* int munmap(void *addr, size_t length); */
        static final MethodHandle MUNMAP = libc("munmap", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
        /* int memfd_create(const char *name, unsigned int flags); */
        static final MethodHandle MEMFD_CREATE = libc("memfd_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        /* ssize_t write(int fd, const void *buf, size_t count); */
        static final MethodHandle WRITE = libc("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
        /* pid_t gettid(void); */
        static final MethodHandle GETTID = libc("gettid", FunctionDescriptor.of(JAVA_INT));
    }

    /**
     * Maps the first page of a file read-and-execute, privately: how a jitdump file announces
     * itself to {@code perf record}. The mapping is of a file and never writable. Returns its address.
     */
    public static long mapFileExecutable(String path) {
        try (Arena arena = Arena.ofConfined()) {
            int fd = (int) Files.OPEN.invokeExact(arena.allocateFrom(path), Files.O_RDONLY);
            if (fd < 0) {
                throw new LinkException(Location.file(path), "cannot open the file to map it");
            }
            long address = (long) Files.MMAP.invokeExact(0L, Files.PAGE, Files.PROT_READ | Files.PROT_EXEC,
                    Files.MAP_PRIVATE, fd, 0L);
            int unused = (int) Files.CLOSE.invokeExact(fd);
            if (address == -1) {
                throw new LinkException(Location.file(path), "cannot map the file");
            }
            return address;
        } catch (LinkException e) {
            throw e;
        } catch (Throwable t) {
            throw failed("mmap", t);
        }
    }

    /**
     * A file that lives in memory only ({@code memfd_create(name, MFD_CLOEXEC)}) holding
     * {@code contents}: its descriptor, or -1 when it cannot be made or written.
     */
    public static int memoryFile(String name, MemorySegment contents) {
        final int MFD_CLOEXEC = 1;
        try (Arena arena = Arena.ofConfined()) {
            int fd = (int) Files.MEMFD_CREATE.invokeExact(arena.allocateFrom(name), MFD_CLOEXEC);
            if (fd < 0) {
                return -1;
            }
            long written = 0;
            while (written < contents.byteSize()) {
                long n = (long) Files.WRITE.invokeExact(fd, contents.asSlice(written), contents.byteSize() - written);
                if (n <= 0) {
                    closeFile(fd);
                    return -1;
                }
                written += n;
            }
            return fd;
        } catch (Throwable t) {
            throw failed("memfd_create", t);
        }
    }

    public static void closeFile(int fd) {
        try {
            int unused = (int) Files.CLOSE.invokeExact(fd);
        } catch (Throwable t) {
            throw failed("close", t);
        }
    }

    /** Unmaps what {@link #mapFileExecutable} mapped. */
    public static void unmapFile(long address) {
        try {
            int unused = (int) Files.MUNMAP.invokeExact(address, Files.PAGE);
        } catch (Throwable t) {
            throw failed("munmap", t);
        }
    }

    /** The calling thread's kernel id. */
    public static long gettid() {
        try {
            return (int) Files.GETTID.invokeExact();
        } catch (Throwable t) {
            throw failed("gettid", t);
        }
    }

    /** The unwinder libstdc++ throws with; loaded when a set first registers unwind tables. */
    private static final class Unwinder {
        static final SymbolLookup LIBGCC_S = library("libgcc_s.so.1", "registering unwind tables (.eh_frame)");
        /* void __register_frame(void *begin);  begin: a .eh_frame list ended by a zero length word */
        static final MethodHandle REGISTER_FRAME = LINKER.downcallHandle(LIBGCC_S.findOrThrow("__register_frame"),
                FunctionDescriptor.ofVoid(JAVA_LONG));
        /* void __deregister_frame(void *begin); */
        static final MethodHandle DEREGISTER_FRAME = LINKER.downcallHandle(LIBGCC_S.findOrThrow("__deregister_frame"),
                FunctionDescriptor.ofVoid(JAVA_LONG));
    }

    public static void registerFrame(long ehFrame) {
        MethodHandle register = unwinder(true);
        try {
            register.invokeExact(ehFrame);
        } catch (Throwable t) {
            throw failed("__register_frame", t);
        }
    }

    public static void deregisterFrame(long ehFrame) {
        MethodHandle deregister = unwinder(false);
        try {
            deregister.invokeExact(ehFrame);
        } catch (Throwable t) {
            throw failed("__deregister_frame", t);
        }
    }

    private static MethodHandle unwinder(boolean register) {
        try {
            return register ? Unwinder.REGISTER_FRAME : Unwinder.DEREGISTER_FRAME;
        } catch (ExceptionInInitializerError | NoClassDefFoundError e) {
            // The holder failed to load libgcc_s: say so each time it is needed, not once obscurely.
            throw new LinkException("libgcc_s.so.1 cannot be loaded; it is needed for registering unwind"
                    + " tables (.eh_frame): " + (e.getCause() != null ? e.getCause().getMessage() : e.getMessage()), e);
        }
    }

    private static SymbolLookup library(String name, String neededFor) {
        try {
            return SymbolLookup.libraryLookup(name, Arena.global());
        } catch (IllegalArgumentException e) {
            throw new LinkException(name + " cannot be loaded; it is needed for " + neededFor + ": " + e.getMessage(), e);
        }
    }

    /** Calls a {@code void (*)(void)} at {@code address}: a constructor or destructor of loaded code. */
    @SuppressWarnings("restricted")
    public static void callVoid(long address) {
        try {
            LINKER.downcallHandle(MemorySegment.ofAddress(address), FunctionDescriptor.ofVoid()).invokeExact();
        } catch (Throwable t) {
            throw failed("function at 0x" + Long.toHexString(address), t);
        }
    }

    /** Calls a {@code void *(*)(void)} at {@code address}, an IFUNC resolver, and returns its answer. */
    @SuppressWarnings("restricted")
    public static long callResolver(long address) {
        try {
            return (long) LINKER.downcallHandle(MemorySegment.ofAddress(address), FunctionDescriptor.of(JAVA_LONG))
                    .invokeExact();
        } catch (Throwable t) {
            throw failed("IFUNC resolver at 0x" + Long.toHexString(address), t);
        }
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

    static AssertionError failed(String function, Throwable t) {
        if (t instanceof Error error && !(t instanceof AssertionError)) {
            throw error;
        }
        return new AssertionError(function + " downcall failed", t);
    }
}
