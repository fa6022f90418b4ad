package dev.jdyld.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
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

    public static final int EEXIST = 17;

    static final int _SC_PAGESIZE = 30;
    private static final long AT_NULL = 0;
    private static final long AT_PAGESZ = 6;
    static final long MAP_FAILED = -1L;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup C = LINKER.defaultLookup();
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final long ERRNO = CAPTURE_LAYOUT.byteOffset(groupElement("errno"));

    /*
     * Handles are made on first use, one holder class per group: making a downcall handle of a new
     * shape generates code (a few milliseconds each at start-up), and most runs need only the
     * mapping calls.
     */
    private static final class Mapping {
        /* void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset); */
        static final MethodHandle MMAP = downcall("mmap",
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
        /* int mprotect(void *addr, size_t len, int prot); */
        static final MethodHandle MPROTECT = downcall("mprotect",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));
    }

    private static final class Unmapping {
        /* int munmap(void *addr, size_t length); */
        static final MethodHandle MUNMAP = downcall("munmap", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
    }

    private static final class Advice {
        /* int madvise(void *addr, size_t length, int advice); */
        static final MethodHandle MADVISE = downcall("madvise",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));
    }

    private static final class MemoryFiles {
        /* int memfd_create(const char *name, unsigned int flags); */
        static final MethodHandle MEMFD_CREATE = downcall("memfd_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        /* int ftruncate(int fd, off_t length); */
        static final MethodHandle FTRUNCATE = downcall("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
        /* int fallocate(int fd, int mode, off_t offset, off_t len); */
        static final MethodHandle FALLOCATE = downcall("fallocate",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
        /* int close(int fd); */
        static final MethodHandle CLOSE = downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }

    private static final class Errors {
        /* int __xpg_strerror_r(int errnum, char *buf, size_t buflen);  (the XSI strerror_r) */
        static final MethodHandle STRERROR_R = LINKER.downcallHandle(C.findOrThrow("__xpg_strerror_r"),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG));
    }

    private static final class PageSize {
        static final long VALUE = pageSizeOfTheSystem();
    }

    private Libc() {}

    @SuppressWarnings("restricted")
    private static MethodHandle downcall(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(C.findOrThrow(name), descriptor, CAPTURE_ERRNO);
    }

    private static int errno(MemorySegment state) {
        return state.get(JAVA_INT, ERRNO);
    }

    /** An address inside the C library's code: windows are placed near it by default. */
    static long hostAnchor() {
        return C.findOrThrow("mmap").address();
    }

    /** The system page size, read once. */
    public static long pageSize() {
        return PageSize.VALUE;
    }

    /** {@code mmap}; returns the mapped address or throws. */
    public static long mmap(long address, long length, int prot, int flags, int fd, long offset) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE_LAYOUT);
            long result = (long) Mapping.MMAP.invokeExact(state, address, length, prot, flags, fd, offset);
            if (result == MAP_FAILED) {
                int errno = errno(state);
                throw new MemoryException("mmap", address, length, errno, strerror(errno));
            }
            return result;
        } catch (MemoryException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("mmap downcall failed", t);
        }
    }

    /**
     * {@code mmap} that reports failure as {@code -errno} instead of throwing, for callers that
     * probe addresses (a refused hint is an expected outcome, not an error).
     */
    public static long tryMmap(long address, long length, int prot, int flags, int fd, long offset) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE_LAYOUT);
            long result = (long) Mapping.MMAP.invokeExact(state, address, length, prot, flags, fd, offset);
            return result == MAP_FAILED ? -errno(state) : result;
        } catch (Throwable t) {
            throw new AssertionError("mmap downcall failed", t);
        }
    }

    public static void munmap(long address, long length) {
        check("munmap", address, length, callInt(Unmapping.MUNMAP, address, length, 0, false));
    }

    public static void mprotect(long address, long length, int prot) {
        check("mprotect", address, length, callInt(Mapping.MPROTECT, address, length, prot, true));
    }

    public static void madvise(long address, long length, int advice) {
        check("madvise", address, length, callInt(Advice.MADVISE, address, length, advice, true));
    }

    /** Creates an anonymous memory file of {@code length} bytes; returns its descriptor. */
    public static int memfdCreate(String name, long length) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE_LAYOUT);
            int fd = (int) MemoryFiles.MEMFD_CREATE.invokeExact(state, arena.allocateFrom(name), MFD_CLOEXEC);
            if (fd < 0) {
                int errno = errno(state);
                throw new MemoryException("memfd_create", 0, length, errno, strerror(errno));
            }
            int rc = (int) MemoryFiles.FTRUNCATE.invokeExact(state, fd, length);
            if (rc != 0) {
                int errno = errno(state);
                int ignored = (int) MemoryFiles.CLOSE.invokeExact(state, fd);
                throw new MemoryException("ftruncate", 0, length, errno, strerror(errno));
            }
            return fd;
        } catch (MemoryException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("memfd_create downcall failed", t);
        }
    }

    /** Frees the pages of {@code fd} in {@code [offset, offset + length)}; the file keeps its size. */
    public static void punchHole(int fd, long offset, long length) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE_LAYOUT);
            int rc = (int) MemoryFiles.FALLOCATE.invokeExact(state, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
            if (rc != 0) {
                int errno = errno(state);
                throw new MemoryException("fallocate", offset, length, errno, strerror(errno));
            }
        } catch (MemoryException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("fallocate downcall failed", t);
        }
    }

    public static void close(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE_LAYOUT);
            int rc = (int) MemoryFiles.CLOSE.invokeExact(state, fd);
            if (rc != 0) {
                int errno = errno(state);
                throw new MemoryException("close", 0, 0, errno, strerror(errno));
            }
        } catch (MemoryException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("close downcall failed", t);
        }
    }

    /** Returns 0 on success, otherwise errno. */
    private static int callInt(MethodHandle handle, long address, long length, int arg, boolean threeArgs) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE_LAYOUT);
            int rc = threeArgs
                    ? (int) handle.invokeExact(state, address, length, arg)
                    : (int) handle.invokeExact(state, address, length);
            return rc == 0 ? 0 : errno(state);
        } catch (Throwable t) {
            throw new AssertionError("downcall failed", t);
        }
    }

    private static void check(String call, long address, long length, int errno) {
        if (errno != 0) {
            throw new MemoryException(call, address, length, errno, strerror(errno));
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
        try {
            /* long sysconf(int name); */
            return (long) LINKER.downcallHandle(C.findOrThrow("sysconf"), FunctionDescriptor.of(JAVA_LONG, JAVA_INT))
                    .invokeExact(name);
        } catch (Throwable t) {
            throw new AssertionError("sysconf downcall failed", t);
        }
    }

    /** The C library's text for {@code errno}, e.g. "Cannot allocate memory". */
    public static String strerror(int errno) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(256);
            int rc = (int) Errors.STRERROR_R.invokeExact(errno, buffer, 256L);
            return rc == 0 ? buffer.getString(0) : "errno " + errno;
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }
}
