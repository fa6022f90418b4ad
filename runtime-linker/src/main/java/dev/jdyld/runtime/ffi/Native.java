package dev.jdyld.runtime.ffi;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.Location;
import dev.jdyld.memory.libc.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Every call jdyld's runtime makes into native code, in one place: the C library (with the
 * dynamic loader's {@code dlopen}/{@code dlsym}, part of libc since glibc 2.34), and calls into
 * loaded code; the unwinder ({@code libgcc_s.so.1}) is bound in {@link Libgcc}, the C++ runtime's
 * demangler looked up in {@code Demangler}. All of them share one call stub. A library that cannot be found is
 * reported as a {@link LinkException} naming it and what it is needed for when that is first
 * needed, not as a class-initialisation failure.
 *
 * <p>Downcalls made here cannot fail in Java; a {@code Throwable} from {@code invokeExact} would be
 * a bug of the binding, so it is rethrown as an {@link AssertionError} naming the function.
 */
public final class Native {

    private Native() {}

    /*
     * Every C function here is called through the C library's binding (the memory manager's
     * Libc): one downcall handle, (function, six longs) -> long, with errno captured per thread.
     * This is exact for these functions on x86-64 (and AArch64): their int, size and pointer
     * arguments all travel in integer registers, a callee never reads argument registers it does
     * not declare, a void function's result is ignored and an int result is the low half of the
     * long one. Pointers are passed as addresses of native memory the caller keeps alive.
     */

    /** Calls the C function at {@code function} with up to six integer or pointer arguments (the rest 0). */
    public static long call(String name, MemorySegment function, long a, long b, long c, long d, long e, long f) {
        return Libc.call(name, function, a, b, c, d, e, f);
    }

    static long call(String name, MemorySegment function) {
        return call(name, function, 0, 0, 0, 0, 0, 0);
    }

    static long call(String name, MemorySegment function, long a) {
        return call(name, function, a, 0, 0, 0, 0, 0);
    }

    private static long call(String name, MemorySegment function, long a, long b) {
        return call(name, function, a, b, 0, 0, 0, 0);
    }

    static long call(String name, MemorySegment function, long a, long b, long c) {
        return call(name, function, a, b, c, 0, 0, 0);
    }

    private static MemorySegment libc(String name) {
        return Libc.symbol(name);
    }

    /** Address of a C library function, for code jdyld emits. */
    public static long libcAddress(String name) {
        return Libc.symbol(name).address();
    }

    public static final int RTLD_NOW = 0x2;
    public static final int RTLD_GLOBAL = 0x100;
    public static final int RTLD_NOLOAD = 0x4;

    /* void *dlopen(const char *filename, int flags); */
    private static final MemorySegment DLOPEN = libc("dlopen");
    /* void *dlsym(void *handle, const char *symbol); */
    private static final MemorySegment DLSYM = libc("dlsym");
    /* int dlclose(void *handle); */
    private static final MemorySegment DLCLOSE = libc("dlclose");
    /* char *dlerror(void); */
    private static final MemorySegment DLERROR = libc("dlerror");
    /* size_t strlen(const char *s); */
    private static final MemorySegment STRLEN = libc("strlen");
    /* int pthread_key_create(pthread_key_t *key, void (*destructor)(void *)); */
    private static final MemorySegment PTHREAD_KEY_CREATE = libc("pthread_key_create");
    /* int pthread_key_delete(pthread_key_t key); */
    private static final MemorySegment PTHREAD_KEY_DELETE = libc("pthread_key_delete");
    /* int pthread_setspecific(pthread_key_t key, const void *value); */
    private static final MemorySegment PTHREAD_SETSPECIFIC = libc("pthread_setspecific");
    /* pthread_t pthread_self(void); */
    private static final MemorySegment PTHREAD_SELF = libc("pthread_self");
    /* void *malloc(size_t size); */
    private static final MemorySegment MALLOC = libc("malloc");
    /* void free(void *ptr); */
    private static final MemorySegment FREE = libc("free");
    /* int __cxa_atexit(void (*func)(void *), void *arg, void *dso_handle); */
    private static final MemorySegment CXA_ATEXIT = libc("__cxa_atexit");
    /* void __cxa_finalize(void *dso_handle); */
    private static final MemorySegment CXA_FINALIZE = libc("__cxa_finalize");
    /* int __cxa_thread_atexit_impl(void (*dtor)(void *), void *obj, void *dso_symbol);  since glibc 2.18 */
    private static final MemorySegment CXA_THREAD_ATEXIT_IMPL = libc("__cxa_thread_atexit_impl");
    /* void __call_tls_dtors(void);  GLIBC_PRIVATE: what exit() and thread exit run first */
    private static final MemorySegment CALL_TLS_DTORS = libc("__call_tls_dtors");
    /* int fflush(FILE *stream); */
    private static final MemorySegment FFLUSH = libc("fflush");
    /* int open(const char *pathname, int flags); */
    private static final MemorySegment OPEN = libc("open");
    /* int close(int fd); */
    private static final MemorySegment CLOSE = libc("close");
    /* void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset); */
    private static final MemorySegment MMAP = libc("mmap");
    /* int mprotect(void *addr, size_t len, int prot); */
    private static final MemorySegment MPROTECT = libc("mprotect");
    /* int munmap(void *addr, size_t length); */
    private static final MemorySegment MUNMAP = libc("munmap");
    /* int memfd_create(const char *name, unsigned int flags); */
    private static final MemorySegment MEMFD_CREATE = libc("memfd_create");
    /* ssize_t write(int fd, const void *buf, size_t count); */
    private static final MemorySegment WRITE = libc("write");
    /* pid_t gettid(void); */
    private static final MemorySegment GETTID = libc("gettid");

    /** {@code RTLD_DEFAULT}: the process's global scope for {@link #dlsym}. */
    public static final long RTLD_DEFAULT = 0;

    /** {@code dlopen(name, RTLD_NOW | RTLD_GLOBAL)}: the handle, or 0 ({@link #dlerror} says why). */
    public static long dlopen(String name) {
        return dlopen(name, RTLD_NOW | RTLD_GLOBAL);
    }

    public static long dlopen(String name, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            return call("dlopen", DLOPEN, nulTerminated(arena, name).address(), flags);
        }
    }

    /** {@code dlclose(handle)}: 0, or non-zero with {@link #dlerror} saying why. */
    public static int dlclose(long handle) {
        return (int) call("dlclose", DLCLOSE, handle);
    }

    /** {@code dlsym(handle, name)} with {@code name} already in native memory: the address, or 0. */
    public static long dlsym(long handle, MemorySegment name) {
        return call("dlsym", DLSYM, handle, nativeAddress(name));
    }

    /**
     * The dynamic loader's last error message, copied out at once: glibc frees it at the thread's
     * next failing {@code dlsym} or {@code dlopen}, which the JVM itself makes while it loads classes
     * (a copy made through a {@code String} decoder came out as freed memory).
     */
    @SuppressWarnings("restricted")
    public static String dlerror() {
        long message = call("dlerror", DLERROR);
        if (message == 0) {
            return "unknown error";
        }
        int length = (int) Math.min(call("strlen", STRLEN, message), 4096);
        byte[] bytes = new byte[length];
        MemorySegment.copy(MemorySegment.ofAddress(message).reinterpret(length), java.lang.foreign.ValueLayout.JAVA_BYTE,
                0, bytes, 0, length);
        return new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
    }

    /** The NUL-terminated string at {@code address}, read through a segment of exactly its length. */
    @SuppressWarnings("restricted")
    public static String cString(long address) {
        long length = call("strlen", STRLEN, address);
        return MemorySegment.ofAddress(address).reinterpret(length + 1).getString(0);
    }

    /** A symbol of the C library as the JDK's default lookup sees it; 0 when absent. */
    public static long defaultLookup(String name) {
        return Libc.find(name).map(MemorySegment::address).orElse(0L);
    }

    /** {@code pthread_key_create(keyOut, destructor)}: 0 or an error number. */
    public static int pthreadKeyCreate(MemorySegment keyOut, long destructor) {
        if (keyOut.byteSize() < Integer.BYTES) {
            throw new IllegalArgumentException("a pthread_key_t needs 4 bytes: " + keyOut);
        }
        return (int) call("pthread_key_create", PTHREAD_KEY_CREATE, nativeAddress(keyOut), destructor);
    }

    public static int pthreadKeyDelete(int key) {
        return (int) call("pthread_key_delete", PTHREAD_KEY_DELETE, key);
    }

    public static int pthreadSetspecific(int key, long value) {
        return (int) call("pthread_setspecific", PTHREAD_SETSPECIFIC, key, value);
    }

    /** {@code pthread_self()}: the calling thread's handle (on glibc, its thread control block). */
    public static long pthreadSelf() {
        return call("pthread_self", PTHREAD_SELF);
    }

    public static long malloc(long size) {
        return call("malloc", MALLOC, size);
    }

    public static void free(long address) {
        call("free", FREE, address);
    }

    public static int cxaAtexit(long function, long argument, long dsoHandle) {
        return (int) call("__cxa_atexit", CXA_ATEXIT, function, argument, dsoHandle);
    }

    public static void cxaFinalize(long dsoHandle) {
        call("__cxa_finalize", CXA_FINALIZE, dsoHandle);
    }

    /** {@code __cxa_thread_atexit_impl}: {@code dtor(obj)} at thread exit, the object holding {@code dsoSymbol} kept loaded. */
    public static int cxaThreadAtexitImpl(long dtor, long obj, long dsoSymbol) {
        return (int) call("__cxa_thread_atexit_impl", CXA_THREAD_ATEXIT_IMPL, dtor, obj, dsoSymbol);
    }

    /** {@code __call_tls_dtors()}: runs the calling thread's {@code thread_local} destructors, newest first. */
    public static void callThreadLocalDestructors() {
        call("__call_tls_dtors", CALL_TLS_DTORS);
    }

    /** {@code fflush(NULL)}: writes every open C output stream. */
    public static void flushAllStreams() {
        call("fflush", FFLUSH, 0L);
    }

    /** The C library's {@code environ}: the address of the process environment as C sees it. */
    @SuppressWarnings("restricted")
    public static long environ() {
        return Libc.symbol("environ").reinterpret(Long.BYTES).get(JAVA_LONG, 0);
    }

    private static final int O_RDONLY = 0;
    private static final int PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;
    private static final long MAP_FAILED = -1;
    private static final long FILE_PAGE = 4096;

    /**
     * Maps the first page of a file read-and-execute, privately: how a jitdump file announces
     * itself to {@code perf record}. The mapping is of a file and never writable. Returns its address.
     */
    public static long mapFileExecutable(String path) {
        int fd;
        try (Arena arena = Arena.ofConfined()) {
            fd = (int) call("open", OPEN, nulTerminated(arena, path).address(), O_RDONLY);
        }
        if (fd < 0) {
            throw new LinkException(Location.file(path), "cannot open the file to map it");
        }
        long address = call("mmap", MMAP, 0L, FILE_PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0L);
        closeFile(fd);
        if (address == MAP_FAILED) {
            throw new LinkException(Location.file(path), "cannot map the file");
        }
        return address;
    }

    /** {@code code} in fresh private pages, made read-and-execute once written: its address. Never unmapped. */
    @SuppressWarnings("restricted")
    public static long mapCode(MemorySegment code) {
        long size = (code.byteSize() + FILE_PAGE - 1) & -FILE_PAGE;
        long address = call("mmap", MMAP, 0L, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1L, 0L);
        if (address == MAP_FAILED) {
            throw new LinkException("cannot map " + size + " bytes for jdyld's own code");
        }
        MemorySegment.copy(code, 0, MemorySegment.ofAddress(address).reinterpret(size), 0, code.byteSize());
        if (call("mprotect", MPROTECT, address, size, PROT_READ | PROT_EXEC) != 0) {
            call("munmap", MUNMAP, address, size);
            throw new LinkException("cannot make jdyld's own code executable");
        }
        return address;
    }

    /** {@code name} in the library at {@code path} if it is loaded already ({@code RTLD_NOLOAD}), else 0. */
    public static long loadedLibrarySymbol(String path, String name) {
        long handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
        if (handle == 0) {
            return 0;
        }
        try (Arena arena = Arena.ofConfined()) {
            return dlsym(handle, nulTerminated(arena, name));
        } finally {
            dlclose(handle); // the dlopen counted one more reference
        }
    }

    /**
     * A file that lives in memory only ({@code memfd_create(name, MFD_CLOEXEC)}) holding
     * {@code contents} (native memory): its descriptor, or -1 when it cannot be made or written.
     */
    public static int memoryFile(String name, MemorySegment contents) {
        final int MFD_CLOEXEC = 1;
        long start = nativeAddress(contents);
        int fd;
        try (Arena arena = Arena.ofConfined()) {
            fd = (int) call("memfd_create", MEMFD_CREATE, nulTerminated(arena, name).address(), MFD_CLOEXEC);
        }
        if (fd < 0) {
            return -1;
        }
        long written = 0;
        while (written < contents.byteSize()) {
            long n = call("write", WRITE, fd, start + written, contents.byteSize() - written);
            if (n <= 0) {
                closeFile(fd);
                return -1;
            }
            written += n;
        }
        return fd;
    }

    /** As {@link #memoryFile(String, MemorySegment)}, for contents on the heap (a program or library read from the jar). */
    public static int memoryFile(String name, byte[] contents) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment copy = arena.allocate(Math.max(contents.length, 1));
            MemorySegment.copy(MemorySegment.ofArray(contents), 0, copy, 0, contents.length);
            return memoryFile(name, copy.asSlice(0, contents.length));
        }
    }

    public static void closeFile(int fd) {
        call("close", CLOSE, fd);
    }

    /** Unmaps what {@link #mapFileExecutable} mapped. */
    public static void unmapFile(long address) {
        call("munmap", MUNMAP, address, FILE_PAGE);
    }

    /** The calling thread's kernel id. */
    public static long gettid() {
        return (int) call("gettid", GETTID);
    }

    /**
     * {@code text} as a NUL-terminated UTF-8 string in {@code arena}. Copied from a
     * byte array rather than with {@code Arena.allocateFrom(String)}, whose first use sets up
     * method handles (milliseconds of a cold start).
     */
    public static MemorySegment nulTerminated(Arena arena, String text) {
        byte[] bytes = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        MemorySegment string = arena.allocate(bytes.length + 1L);
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, string, 0, bytes.length);
        return string;
    }

    /** The address of native {@code memory}, which must stay alive through the call it is passed to. */
    private static long nativeAddress(MemorySegment memory) {
        if (!memory.isNative()) {
            throw new IllegalArgumentException("a C function needs native memory, not " + memory);
        }
        return memory.address();
    }

    public static final int AF_UNIX = 1, SOCK_STREAM = 1, SOCK_CLOEXEC = 0x80000;
    public static final int SOL_SOCKET = 1, SCM_RIGHTS = 1;
    public static final int MSG_NOSIGNAL = 0x4000;
    public static final short POLLIN = 0x1;
    public static final int WNOHANG = 1;
    public static final int SIGKILL = 9;
    /** Bytes of glibc's {@code posix_spawn_file_actions_t} (80 on x86-64 and AArch64), with room to spare. */
    public static final long POSIX_SPAWN_FILE_ACTIONS_SIZE = 128;

    /** The process calls of an executor in another process; each returns {@code -errno} when it fails. */
    private static final class Process {
        /* int socketpair(int domain, int type, int protocol, int sv[2]); */
        static final MemorySegment SOCKETPAIR = libc("socketpair");
        /* int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa, attr, argv, envp); */
        static final MemorySegment POSIX_SPAWN = libc("posix_spawn");
        /* int posix_spawn_file_actions_init(posix_spawn_file_actions_t *actions); */
        static final MemorySegment FILE_ACTIONS_INIT = libc("posix_spawn_file_actions_init");
        /* int posix_spawn_file_actions_adddup2(posix_spawn_file_actions_t *actions, int fd, int newfd); */
        static final MemorySegment FILE_ACTIONS_ADDDUP2 = libc("posix_spawn_file_actions_adddup2");
        /* int posix_spawn_file_actions_destroy(posix_spawn_file_actions_t *actions); */
        static final MemorySegment FILE_ACTIONS_DESTROY = libc("posix_spawn_file_actions_destroy");
        /* ssize_t read(int fd, void *buf, size_t count); */
        static final MemorySegment READ = libc("read");
        /* ssize_t send(int fd, const void *buf, size_t len, int flags); */
        static final MemorySegment SEND = libc("send");
        /* ssize_t sendmsg(int fd, const struct msghdr *msg, int flags); */
        static final MemorySegment SENDMSG = libc("sendmsg");
        /* int poll(struct pollfd *fds, nfds_t nfds, int timeout); */
        static final MemorySegment POLL = libc("poll");
        /* pid_t waitpid(pid_t pid, int *wstatus, int options); */
        static final MemorySegment WAITPID = libc("waitpid");
        /* int kill(pid_t pid, int sig); */
        static final MemorySegment KILL = libc("kill");
    }

    private static long orErrno(long result) {
        return result < 0 ? -Libc.errno() : result;
    }

    /** {@code socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds)}: 0, or -errno. */
    public static int socketPair(long fds) {
        return (int) orErrno(call("socketpair", Process.SOCKETPAIR, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds, 0, 0));
    }

    /** {@code posix_spawn} without attributes: 0, or the error number it returns. */
    public static int posixSpawn(long pidOut, long path, long fileActions, long argv, long envp) {
        return (int) call("posix_spawn", Process.POSIX_SPAWN, pidOut, path, fileActions, 0, argv, envp);
    }

    /** {@code posix_spawn_file_actions_init}, then one {@code adddup2(from, to)}: 0, or an error number. */
    public static int fileActionsDup2(long fileActions, int from, int to) {
        int rc = (int) call("posix_spawn_file_actions_init", Process.FILE_ACTIONS_INIT, fileActions);
        return rc != 0 ? rc : (int) call("posix_spawn_file_actions_adddup2", Process.FILE_ACTIONS_ADDDUP2, fileActions, from, to);
    }

    public static void fileActionsDestroy(long fileActions) {
        call("posix_spawn_file_actions_destroy", Process.FILE_ACTIONS_DESTROY, fileActions);
    }
    /** {@code read}: bytes read, 0 at end of file, or -errno. */
    public static long read(int fd, long address, long length) {
        return orErrno(call("read", Process.READ, fd, address, length));
    }

    /** {@code send(fd, buf, len, MSG_NOSIGNAL)}: bytes sent or -errno, never SIGPIPE. */
    public static long send(int fd, long address, long length) {
        return orErrno(call("send", Process.SEND, fd, address, length, MSG_NOSIGNAL, 0, 0));
    }

    /** {@code sendmsg(fd, msg, MSG_NOSIGNAL)}: bytes sent, or -errno. */
    public static long sendmsg(int fd, long message) {
        return orErrno(call("sendmsg", Process.SENDMSG, fd, message, MSG_NOSIGNAL));
    }

    /** {@code poll}: descriptors ready, 0 on timeout, or -errno. */
    public static int poll(long fds, int count, int timeoutMillis) {
        return (int) orErrno(call("poll", Process.POLL, fds, count, timeoutMillis));
    }

    /** {@code waitpid}: the pid reaped, 0 ({@code WNOHANG}: still running), or -errno. */
    public static int waitpid(int pid, long statusOut, int options) {
        return (int) orErrno(call("waitpid", Process.WAITPID, pid, statusOut, options));
    }

    /** {@code kill}: 0, or -errno. */
    public static int kill(int pid, int signal) {
        return (int) orErrno(call("kill", Process.KILL, pid, signal));
    }
}
