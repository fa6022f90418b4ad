package dev.jdyld.runtime;

import dev.jdyld.runtime.ffi.Native;
import dev.jdyld.core.LinkException;
import dev.jdyld.core.Location;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A set's thread-local block in glibc's static TLS, where code compiled for an executable (local
 * exec, {@code %fs:x@tpoff}) or with initial exec finds it: at one offset from the thread pointer,
 * the same in every thread, including threads that were running before the set was loaded.
 *
 * <p>glibc keeps a surplus in every thread's static TLS area for shared objects that are
 * {@code dlopen}ed with {@code DF_STATIC_TLS}; when one is loaded it takes a piece of that surplus,
 * copies the object's TLS image into it in every running thread, and into every thread created
 * later. So a set's block becomes such an object: {@link ElfImages#staticTlsModule} writes a shared
 * object holding the block (template and size) into a memory-only file, and {@code dlopen} of
 * {@code /proc/PID/fd/N} places it and reports the offset through a {@code TPOFF64} relocation of
 * the object's one data word. The data then lives in glibc's own blocks, so {@code fork},
 * {@code pthread_create} and thread exit need nothing from jdyld; closing the set {@code dlclose}s
 * the object, which returns its piece to the surplus when it is the last one taken.
 *
 * <p>The surplus is small by default (glibc's {@code glibc.rtld.optional_static_tls} tunable, 512
 * bytes, plus room other libraries may already have taken) and fixed when the process starts.
 * {@code bin/jdyld} starts its JVM with {@value #RESERVE_ADVICE} bytes; a load that does not fit
 * fails with a {@link LinkException} saying how much it needed, how much is left and which tunable
 * to raise.
 */
public final class StaticTlsModule {
    /** The surplus {@code bin/jdyld} asks glibc for, and the advice an exhausted reserve gives. */
    public static final long RESERVE_ADVICE = 65536;
    /** glibc keeps static TLS aligned to at most this (its {@code dl_tls_static_align} on x86-64). */
    private static final long MAX_ALIGNMENT = 64;

    private static final Set<Long> OPEN = ConcurrentHashMap.newKeySet();

    private final long handle;
    private final int fd;
    private final long threadPointerOffset;
    private final long blockSize;
    private boolean closed;

    private StaticTlsModule(long handle, int fd, long threadPointerOffset, long blockSize) {
        this.handle = handle;
        this.fd = fd;
        this.threadPointerOffset = threadPointerOffset;
        this.blockSize = blockSize;
    }

    /**
     * Places a block of {@code blockSize} bytes, initialised from {@code template} and aligned to
     * {@code alignment}, in every thread's static TLS.
     *
     * @param setName names the set in the error when the reserve is exhausted
     * @throws LinkException when the alignment is more than static TLS has, or the reserve is exhausted
     */
    public static StaticTlsModule load(ElfImages.Target target, MemorySegment template, long blockSize, long alignment,
                                       String setName) {
        if (alignment > MAX_ALIGNMENT) {
            throw new LinkException(Location.file(setName), "thread-local storage aligned to " + alignment
                    + " bytes cannot be in static TLS (at most " + MAX_ALIGNMENT + "); compile with -fPIC"
                    + " (-ftls-model=global-dynamic)");
        }
        StaticTlsModule module = tryLoad(target, template.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), blockSize,
                Math.max(alignment, 1));
        if (module == null) {
            String why = Native.dlerror();
            long left = reserveLeft(target);
            throw new LinkException(Location.file(setName), "the set's thread-locals are accessed as static TLS"
                    + " (local-exec or initial-exec code) and need " + blockSize + " bytes of it, but the process's"
                    + " static TLS reserve has " + left + " bytes left (" + why + "); start the JVM with"
                    + " GLIBC_TUNABLES=glibc.rtld.optional_static_tls=" + Math.max(RESERVE_ADVICE, 4 * blockSize)
                    + " (bin/jdyld uses " + RESERVE_ADVICE + "), or compile with -fPIC");
        }
        return module;
    }

    /** The module, or null when {@code dlopen} refused it ({@link Native#dlerror} says why). */
    @SuppressWarnings("restricted")
    private static StaticTlsModule tryLoad(ElfImages.Target target, byte[] template, long blockSize, long alignment) {
        byte[] image = ElfImages.staticTlsModule(target, template, blockSize, alignment);
        int fd;
        try (Arena arena = Arena.ofConfined()) {
            fd = Native.memoryFile("jdyld-static-tls", arena.allocateFrom(java.lang.foreign.ValueLayout.JAVA_BYTE, image));
        }
        if (fd < 0) {
            throw new LinkException("cannot create a memory file for the set's static TLS module");
        }
        // The descriptor stays open while the module is loaded: dlopen finds an already loaded object
        // by its name, and /proc/PID/fd/N must not name a different file until this one is closed.
        // Not /proc/self: a debugger reads the names of loaded objects in its own process.
        long handle = Native.dlopen("/proc/" + ProcessHandle.current().pid() + "/fd/" + fd, Native.RTLD_NOW);
        if (handle == 0) {
            Native.closeFile(fd);
            return null;
        }
        if (!OPEN.add(handle)) {
            Native.dlclose(handle);
            Native.closeFile(fd);
            throw new LinkException("dlopen of a new static TLS module returned a module already open");
        }
        long word;
        try (Arena arena = Arena.ofConfined()) {
            word = Native.dlsym(handle, Native.nulTerminated(arena, ElfImages.TLS_OFFSET_SYMBOL));
        }
        if (word == 0) {
            OPEN.remove(handle);
            Native.dlclose(handle);
            Native.closeFile(fd);
            throw new LinkException("the static TLS module does not define " + ElfImages.TLS_OFFSET_SYMBOL);
        }
        long offset = MemorySegment.ofAddress(word).reinterpret(8).get(JAVA_LONG, 0);
        return new StaticTlsModule(handle, fd, offset, blockSize);
    }

    /**
     * Bytes of static TLS a set could still take now: the largest block that loads, found by loading
     * and closing probe modules (a closed module's piece returns to the surplus when it was the last
     * one taken, as a probe always is). A set's block may take up to its alignment more, in padding
     * that glibc keeps when the set is closed and reuses for the next block of that alignment.
     */
    public static long reserveLeft(ElfImages.Target target) {
        long fits = 0;
        long step = 1L << 24;
        // Binary search on the largest size that loads, in 16-byte steps.
        for (long size = step; step >= 16; step >>= 1, size = fits + step) {
            // Alignment 1: glibc then places the probe with no padding, so closing it gives back exactly what it took.
            StaticTlsModule probe = tryLoad(target, new byte[0], size, 1);
            if (probe != null) {
                probe.close();
                fits = size;
            }
        }
        return fits;
    }

    /** The block's offset from the thread pointer ({@code %fs:0}); negative: variant II TLS lies below it. */
    public long threadPointerOffset() {
        return threadPointerOffset;
    }

    public long blockSize() {
        return blockSize;
    }

    /** How many static TLS modules are open: tests check that failed loads leave none behind. */
    public static int openModules() {
        return OPEN.size();
    }

    /** {@code dlclose}s the module. Idempotent. */
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        OPEN.remove(handle);
        int failed = Native.dlclose(handle);
        Native.closeFile(fd);
        if (failed != 0) {
            throw new LinkException("dlclose of the set's static TLS module failed: " + Native.dlerror());
        }
    }
}
