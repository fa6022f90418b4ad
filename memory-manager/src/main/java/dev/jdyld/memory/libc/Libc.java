package dev.jdyld.memory.libc;


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
 * The C library, bound once through FFM: the one class that looks up its functions and holds the
 * downcall handle they are called through, for every module (the package is exported to the
 * runtime linker only). The memory manager's wrappers ({@code MemoryCalls}) and the runtime
 * linker's ({@code runtime.ffi.Native}) call through {@link #symbol} and {@link #call}, which
 * leaves errno for {@link #errno}; addresses go as {@code long}, so no segment is ever widened.
 */
public final class Libc {
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

    private static final int _SC_PAGESIZE = 30;
    private static final long AT_NULL = 0;
    private static final long AT_PAGESZ = 6;
    /** What {@code mmap} returns when it fails. */
    public static final long MAP_FAILED = -1L;

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
        /* int __xpg_strerror_r(int errnum, char *buf, size_t buflen);  (the XSI strerror_r) */
        static final MemorySegment STRERROR_R = LIBRARY.findOrThrow("__xpg_strerror_r");
        /* long sysconf(int name); */
        static final MemorySegment SYSCONF = LIBRARY.findOrThrow("sysconf");
    }

    private static final class PageSize {
        static final long VALUE = pageSizeOfTheSystem();
    }

    private Libc() {}

    /**
     * A function of the C library, looked up once by its caller and kept.
     *
     * @param name the C name
     * @return the function
     * @throws java.util.NoSuchElementException if the C library has no such symbol
     */
    public static MemorySegment symbol(String name) {
        return C.LIBRARY.findOrThrow(name);
    }

    /**
     * A symbol of the C library if it has one.
     *
     * @param name the C name
     * @return the symbol, or empty
     */
    public static java.util.Optional<MemorySegment> find(String name) {
        return C.LIBRARY.find(name);
    }

    /**
     * Calls {@code function} (unused arguments 0) through the one call stub; {@link #errno} then
     * tells why it failed.
     *
     * @param name     the function's name, for the error should the downcall itself fail
     * @param function the C function (or loaded code of the same shape)
     * @param a        first integer or pointer argument
     * @param b        second
     * @param c        third
     * @param d        fourth
     * @param e        fifth
     * @param f        sixth
     * @return the function's result ({@code rax})
     */
    public static long call(String name, MemorySegment function, long a, long b, long c, long d, long e, long f) {
        try {
            return (long) C.WITH_ERRNO.invokeExact(function, C.STATE.get(), a, b, c, d, e, f);
        } catch (Throwable t) {
            throw new AssertionError(name + " downcall failed", t);
        }
    }

    /**
     * errno as the calling thread's last {@link #call} left it.
     *
     * @return the error number
     */
    public static int errno() {
        return C.STATE.get().get(JAVA_INT, C.ERRNO);
    }

    /**
     * An address inside the C library's code: windows are placed near it by default.
     *
     * @return the address of its {@code mmap}
     */
    public static long hostAnchor() {
        return C.MMAP.address();
    }

    /** The system page size, read once. */
    public static long pageSize() {
        return PageSize.VALUE;
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
