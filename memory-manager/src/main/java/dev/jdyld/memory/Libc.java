package dev.jdyld.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * The C library's memory-mapping calls, bound once through FFM. Addresses are passed as
 * {@code long} so that no segment is ever widened to an unknown size; callers turn a mapped
 * range into a segment of exactly that range. Every failing call raises a
 * {@link MemoryException} carrying errno, its text, and the address and length asked for.
 */
final class Libc {
    public static final int PROT_NONE = 0;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int PROT_EXEC = 4;

    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_FIXED = 0x10;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_32BIT = 0x40;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MAP_FIXED_NOREPLACE = 0x100000;

    public static final int MADV_DONTNEED = 4;
    public static final int MADV_HUGEPAGE = 14;

    public static final int MFD_CLOEXEC = 1;

    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;

    public static final int EINTR = 4;
    public static final int EEXIST = 17;

    static final int _SC_PAGESIZE = 30;
    private static final long AT_NULL = 0;
    private static final long AT_PAGESZ = 6;
    static final long MAP_FAILED = -1L;

    /*
     * Every function here is called through one downcall handle, (function, errno state, six
     * longs) -> long: the FFM runtime generates code once per call shape, a few milliseconds each at
     * start-up, and a shape per function used to cost a cold run more than mapping did. This is
     * exact for these functions on x86-64 (and AArch64): their int, size and pointer arguments all
     * travel in integer registers, a callee never reads the argument registers it does not declare,
     * and an int result is the low half of the long one. The runtime linker's C calls use the same
     * descriptor and options, so the process has one such stub. Set up on first use (the page size
     * needs none of it); errno goes to a segment per thread, read right after the call on it.
     */
    private static final class C {
        static final Linker LINKER = Linker.nativeLinker();
        static final SymbolLookup LIBRARY = LINKER.defaultLookup();
        static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
        static final long ERRNO = CAPTURE_LAYOUT.byteOffset(groupElement("errno"));
        static final MethodHandle WITH_ERRNO = LINKER.downcallHandle(
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
                Linker.Option.captureCallState("errno"));
        static final ThreadLocal<MemorySegment> STATE = ThreadLocal.withInitial(
                () -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

        /* void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset); */
        static final MemorySegment MMAP = LIBRARY.findOrThrow("mmap");
        /* int mprotect(void *addr, size_t len, int prot); */
        static final MemorySegment MPROTECT = LIBRARY.findOrThrow("mprotect");
        /* int munmap(void *addr, size_t length); */
        static final MemorySegment MUNMAP = LIBRARY.findOrThrow("munmap");
        /* int madvise(void *addr, size_t length, int advice); */
        static final MemorySegment MADVISE = LIBRARY.findOrThrow("madvise");
        /* int memfd_create(const char *name, unsigned int flags); */
        static final MemorySegment MEMFD_CREATE = LIBRARY.findOrThrow("memfd_create");
        /* int ftruncate(int fd, off_t length); */
        static final MemorySegment FTRUNCATE = LIBRARY.findOrThrow("ftruncate");
        /* int fallocate(int fd, int mode, off_t offset, off_t len); */
        static final MemorySegment FALLOCATE = LIBRARY.findOrThrow("fallocate");
        /* ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset); */
        static final MemorySegment PWRITE = LIBRARY.findOrThrow("pwrite");
        /* int close(int fd); */
        static final MemorySegment CLOSE = LIBRARY.findOrThrow("close");
        /* int __xpg_strerror_r(int errnum, char *buf, size_t buflen);  (the XSI strerror_r) */
        static final MemorySegment STRERROR_R = LIBRARY.findOrThrow("__xpg_strerror_r");
        /* long sysconf(int name); */
        static final MemorySegment SYSCONF = LIBRARY.findOrThrow("sysconf");
    }

    private static final class PageSize {
        static final long VALUE = pageSizeOfTheSystem();
    }

    private Libc() {}

    /** Calls {@code function} (unused arguments 0); {@link #errno} then tells why it failed. */
    private static long call(String name, MemorySegment function, long a, long b, long c, long d, long e, long f) {
        try {
            return (long) C.WITH_ERRNO.invokeExact(function, C.STATE.get(), a, b, c, d, e, f);
        } catch (Throwable t) {
            throw new AssertionError(name + " downcall failed", t);
        }
    }

    /** errno as the calling thread's last {@link #call} left it. */
    private static int errno() {
        return C.STATE.get().get(JAVA_INT, C.ERRNO);
    }

    /** An address inside the C library's code: windows are placed near it by default. */
    static long hostAnchor() {
        return C.MMAP.address();
    }

    /** The system page size, read once. */
    public static long pageSize() {
        return PageSize.VALUE;
    }

    /** {@code mmap}; returns the mapped address or throws. */
    public static long mmap(long address, long length, int prot, int flags, int fd, long offset) {
        long result = call("mmap", C.MMAP, address, length, prot, flags, fd, offset);
        if (result == MAP_FAILED) {
            int errno = errno();
            throw new MemoryException("mmap", address, length, errno, strerror(errno));
        }
        return result;
    }

    /**
     * {@code mmap} that reports failure as {@code -errno} instead of throwing, for callers that
     * probe addresses (a refused hint is an expected outcome, not an error).
     */
    public static long tryMmap(long address, long length, int prot, int flags, int fd, long offset) {
        long result = call("mmap", C.MMAP, address, length, prot, flags, fd, offset);
        return result == MAP_FAILED ? -errno() : result;
    }

    public static void munmap(long address, long length) {
        check("munmap", C.MUNMAP, address, length, 0);
    }

    public static void mprotect(long address, long length, int prot) {
        check("mprotect", C.MPROTECT, address, length, prot);
    }

    public static void madvise(long address, long length, int advice) {
        check("madvise", C.MADVISE, address, length, advice);
    }

    /** Creates an anonymous memory file of {@code length} bytes; returns its descriptor. */
    public static int memfdCreate(String name, long length) {
        int fd;
        try (Arena arena = Arena.ofConfined()) {
            fd = (int) call("memfd_create", C.MEMFD_CREATE, arena.allocateFrom(name).address(), MFD_CLOEXEC, 0, 0, 0, 0);
        }
        if (fd < 0) {
            int errno = errno();
            throw new MemoryException("memfd_create", 0, length, errno, strerror(errno));
        }
        int rc = (int) call("ftruncate", C.FTRUNCATE, fd, length, 0, 0, 0, 0);
        if (rc != 0) {
            int errno = errno();
            call("close", C.CLOSE, fd, 0, 0, 0, 0, 0);
            throw new MemoryException("ftruncate", 0, length, errno, strerror(errno));
        }
        return fd;
    }

    /** Frees the pages of {@code fd} in {@code [offset, offset + length)}; the file keeps its size. */
    public static void punchHole(int fd, long offset, long length) {
        int rc = (int) call("fallocate", C.FALLOCATE, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length, 0, 0);
        if (rc != 0) {
            int errno = errno();
            throw new MemoryException("fallocate", offset, length, errno, strerror(errno));
        }
    }

    /** Writes {@code length} bytes at native {@code address} to {@code fd} at {@code offset}, all of them or throws. */
    public static void pwriteFully(int fd, long address, long length, long offset) {
        long written = 0;
        while (written < length) {
            long n = call("pwrite", C.PWRITE, fd, address + written, length - written, offset + written, 0, 0);
            if (n < 0) {
                int errno = errno();
                if (errno == EINTR) {
                    continue;
                }
                throw new MemoryException("pwrite", offset + written, length - written, errno, strerror(errno));
            }
            if (n == 0) {
                throw new MemoryException("pwrite wrote nothing at offset " + (offset + written) + " of the memory file");
            }
            written += n;
        }
    }

    public static void close(int fd) {
        int rc = (int) call("close", C.CLOSE, fd, 0, 0, 0, 0, 0);
        if (rc != 0) {
            int errno = errno();
            throw new MemoryException("close", 0, 0, errno, strerror(errno));
        }
    }

    /** Calls {@code int function(address, length, arg)} and throws when it fails. */
    private static void check(String name, MemorySegment function, long address, long length, int arg) {
        int rc = (int) call(name, function, address, length, arg, 0, 0, 0);
        if (rc != 0) {
            int errno = errno();
            throw new MemoryException(name, address, length, errno, strerror(errno));
        }
    }

    /**
     * The page size the kernel told the process at exec ({@code AT_PAGESZ} of the auxiliary
     * vector, which is what {@code sysconf(_SC_PAGESIZE)} returns), read from
     * {@code /proc/self/auxv}: no downcall of a shape of its own at start-up. Falls back to
     * {@code sysconf} when that file cannot be read.
     */
    private static long pageSizeOfTheSystem() {
        long value = 0;
        try {
            byte[] auxv = java.nio.file.Files.readAllBytes(java.nio.file.Path.of("/proc/self/auxv"));
            MemorySegment entries = MemorySegment.ofArray(auxv);
            for (long at = 0; at + 16 <= auxv.length && value == 0; at += 16) {
                long type = entries.get(JAVA_LONG_UNALIGNED, at);
                if (type == AT_NULL) {
                    break;
                }
                if (type == AT_PAGESZ) {
                    value = entries.get(JAVA_LONG_UNALIGNED, at + 8);
                }
            }
        } catch (java.io.IOException | SecurityException e) {
            value = 0;
        }
        if (value == 0) {
            value = sysconf(_SC_PAGESIZE);
        }
        if (value <= 0 || Long.bitCount(value) != 1) {
            throw new IllegalStateException("the system page size is " + value);
        }
        return value;
    }

    private static long sysconf(int name) {
        return call("sysconf", C.SYSCONF, name, 0, 0, 0, 0, 0);
    }

    /** The C library's text for {@code errno}, e.g. "Cannot allocate memory". */
    public static String strerror(int errno) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(256);
            int rc = (int) call("__xpg_strerror_r", C.STRERROR_R, errno, buffer.address(), 256, 0, 0, 0);
            return rc == 0 ? buffer.getString(0) : "errno " + errno;
        }
    }
}
