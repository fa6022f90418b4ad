package dev.jdyld.memory;

import dev.jdyld.memory.libc.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The memory manager's system calls, over the C library's binding ({@link Libc}): each failure a
 * {@link MemoryException} carrying errno, its text, and the address and length asked for.
 * Addresses are passed as {@code long}, so no segment is ever widened to an unknown size.
 */
final class MemoryCalls {
    private MemoryCalls() {}

    private static final class F {
        static final MemorySegment MMAP = Libc.symbol("mmap");
        static final MemorySegment MPROTECT = Libc.symbol("mprotect");
        static final MemorySegment MUNMAP = Libc.symbol("munmap");
        static final MemorySegment MADVISE = Libc.symbol("madvise");
        static final MemorySegment MEMFD_CREATE = Libc.symbol("memfd_create");
        static final MemorySegment FTRUNCATE = Libc.symbol("ftruncate");
        static final MemorySegment FALLOCATE = Libc.symbol("fallocate");
        static final MemorySegment PWRITE = Libc.symbol("pwrite");
        static final MemorySegment CLOSE = Libc.symbol("close");
    }

    /** {@code mmap}; returns the mapped address or throws. */
    static long mmap(long address, long length, int prot, int flags, int fd, long offset) {
        long result = Libc.call("mmap", F.MMAP, address, length, prot, flags, fd, offset);
        if (result == Libc.MAP_FAILED) {
            int errno = Libc.errno();
            throw new MemoryException("mmap", address, length, errno, Libc.strerror(errno));
        }
        return result;
    }

    /**
     * {@code mmap} that reports failure as {@code -errno} instead of throwing, for callers that
     * probe addresses (a refused hint is an expected outcome, not an error).
     */
    static long tryMmap(long address, long length, int prot, int flags, int fd, long offset) {
        long result = Libc.call("mmap", F.MMAP, address, length, prot, flags, fd, offset);
        return result == Libc.MAP_FAILED ? -Libc.errno() : result;
    }

    static void munmap(long address, long length) {
        check("munmap", F.MUNMAP, address, length, 0);
    }

    static void mprotect(long address, long length, int prot) {
        check("mprotect", F.MPROTECT, address, length, prot);
    }

    static void madvise(long address, long length, int advice) {
        check("madvise", F.MADVISE, address, length, advice);
    }

    /** Creates an anonymous memory file of {@code length} bytes; returns its descriptor. */
    static int memfdCreate(String name, long length) {
        int fd;
        try (Arena arena = Arena.ofConfined()) {
            fd = (int) Libc.call("memfd_create", F.MEMFD_CREATE, arena.allocateFrom(name).address(), Libc.MFD_CLOEXEC, 0, 0, 0, 0);
        }
        if (fd < 0) {
            int errno = Libc.errno();
            throw new MemoryException("memfd_create", 0, length, errno, Libc.strerror(errno));
        }
        int rc = (int) Libc.call("ftruncate", F.FTRUNCATE, fd, length, 0, 0, 0, 0);
        if (rc != 0) {
            int errno = Libc.errno();
            Libc.call("close", F.CLOSE, fd, 0, 0, 0, 0, 0);
            throw new MemoryException("ftruncate", 0, length, errno, Libc.strerror(errno));
        }
        return fd;
    }

    /** Frees the pages of {@code fd} in {@code [offset, offset + length)}; the file keeps its size. */
    static void punchHole(int fd, long offset, long length) {
        int rc = (int) Libc.call("fallocate", F.FALLOCATE, fd, Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE, offset, length, 0, 0);
        if (rc != 0) {
            int errno = Libc.errno();
            throw new MemoryException("fallocate", offset, length, errno, Libc.strerror(errno));
        }
    }

    /** Writes {@code length} bytes at native {@code address} to {@code fd} at {@code offset}, all of them or throws. */
    static void pwriteFully(int fd, long address, long length, long offset) {
        long written = 0;
        while (written < length) {
            long n = Libc.call("pwrite", F.PWRITE, fd, address + written, length - written, offset + written, 0, 0);
            if (n < 0) {
                int errno = Libc.errno();
                if (errno == Libc.EINTR) {
                    continue;
                }
                throw new MemoryException("pwrite", offset + written, length - written, errno, Libc.strerror(errno));
            }
            if (n == 0) {
                throw new MemoryException("pwrite wrote nothing at offset " + (offset + written) + " of the memory file");
            }
            written += n;
        }
    }

    static void close(int fd) {
        int rc = (int) Libc.call("close", F.CLOSE, fd, 0, 0, 0, 0, 0);
        if (rc != 0) {
            int errno = Libc.errno();
            throw new MemoryException("close", 0, 0, errno, Libc.strerror(errno));
        }
    }

    /** Calls {@code int function(address, length, arg)} and throws when it fails. */
    private static void check(String name, MemorySegment function, long address, long length, int arg) {
        int rc = (int) Libc.call(name, function, address, length, arg, 0, 0, 0);
        if (rc != 0) {
            int errno = Libc.errno();
            throw new MemoryException(name, address, length, errno, Libc.strerror(errno));
        }
    }
}
