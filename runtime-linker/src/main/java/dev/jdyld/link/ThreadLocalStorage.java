package dev.jdyld.link;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The thread-local storage of one loaded set: a {@code pthread} key whose per-thread value is the
 * thread's TLS block, the block's size and alignment, and the template it starts from
 * ({@code .tdata} as relocated, then zeros for {@code .tbss}).
 *
 * <p>A thread's block is made on its first access, by the slow path the emitted
 * {@code __tls_get_addr} and descriptor resolver call into ({@link #slowPath}). At thread exit
 * the key's destructor (emitted code) marks the block dead in its header; dead blocks are freed
 * at the next block allocation of the set and when the set is closed, which also frees the blocks
 * of threads still running.
 *
 * <p>Block layout: a 16-byte header {@code {void *malloc_pointer; long dead}} right below the
 * aligned block.
 */
final class ThreadLocalStorage {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup C = LINKER.defaultLookup();
    /* int pthread_key_create(pthread_key_t *key, void (*destructor)(void *)); */
    private static final MethodHandle PTHREAD_KEY_CREATE = LINKER.downcallHandle(C.findOrThrow("pthread_key_create"),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    /* int pthread_key_delete(pthread_key_t key); */
    private static final MethodHandle PTHREAD_KEY_DELETE = LINKER.downcallHandle(C.findOrThrow("pthread_key_delete"),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    /* int pthread_setspecific(pthread_key_t key, const void *value); */
    private static final MethodHandle PTHREAD_SETSPECIFIC = LINKER.downcallHandle(C.findOrThrow("pthread_setspecific"),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    /* pthread_t pthread_self(void);  on x86-64 glibc, the thread pointer (%fs:0) */
    private static final MethodHandle PTHREAD_SELF = LINKER.downcallHandle(C.findOrThrow("pthread_self"),
            FunctionDescriptor.of(JAVA_LONG));
    /* void *malloc(size_t size); */
    private static final MethodHandle MALLOC = LINKER.downcallHandle(C.findOrThrow("malloc"),
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
    /* void free(void *ptr); */
    private static final MethodHandle FREE = LINKER.downcallHandle(C.findOrThrow("free"),
            FunctionDescriptor.ofVoid(JAVA_LONG));

    static final long PTHREAD_GETSPECIFIC = C.findOrThrow("pthread_getspecific").address();
    private static final int HEADER = 16;

    /* void *slow_path(tls_index *ti); an upcall that lives as long as the process */
    static final long SLOW_PATH = upcall();

    private static final Map<Integer, ThreadLocalStorage> BY_KEY = new ConcurrentHashMap<>();
    private static final AtomicLong LIVE_BLOCKS = new AtomicLong();

    private final int key;
    private final long templateAddress;
    private final long templateSize;
    private final long blockSize;
    private final long alignment;
    private final ConcurrentLinkedQueue<Long> blocks = new ConcurrentLinkedQueue<>();
    private volatile boolean closed;

    private ThreadLocalStorage(int key, long templateAddress, long templateSize, long blockSize, long alignment) {
        this.key = key;
        this.templateAddress = templateAddress;
        this.templateSize = templateSize;
        this.blockSize = blockSize;
        this.alignment = alignment;
    }

    /** Creates the set's key, with the emitted destructor at {@code destructor}. */
    static ThreadLocalStorage create(long destructor, long templateAddress, long templateSize, long blockSize,
                                     long alignment) {
        int key;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment keyOut = arena.allocate(JAVA_INT);
            int rc = (int) PTHREAD_KEY_CREATE.invokeExact(keyOut, destructor);
            if (rc != 0) {
                throw new LinkException("pthread_key_create failed (error " + rc
                        + "): too many sets with thread-local storage are loaded");
            }
            key = keyOut.get(JAVA_INT, 0);
        } catch (LinkException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("pthread_key_create downcall failed", t);
        }
        ThreadLocalStorage tls = new ThreadLocalStorage(key, templateAddress, templateSize, blockSize,
                Math.max(alignment, 16));
        BY_KEY.put(key, tls);
        return tls;
    }

    /** The module id the psABI's {@code tls_index} and {@code DTPMOD64} hold: the pthread key. */
    long moduleId() {
        return key;
    }

    /** Deletes the key and frees every block, including those of threads still running. Idempotent. */
    void close() {
        if (closed) {
            return;
        }
        closed = true;
        BY_KEY.remove(key, this);
        try {
            int ignored = (int) PTHREAD_KEY_DELETE.invokeExact(key);
        } catch (Throwable t) {
            throw new AssertionError("pthread_key_delete downcall failed", t);
        }
        for (Long block; (block = blocks.poll()) != null; ) {
            freeBlock(block);
        }
    }

    /** Blocks allocated and not yet freed, across all sets: for leak tests. */
    static long liveBlocks() {
        return LIVE_BLOCKS.get();
    }

    /** The thread pointer of the calling thread. */
    static long threadPointer() {
        try {
            return (long) PTHREAD_SELF.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError("pthread_self downcall failed", t);
        }
    }

    @SuppressWarnings("restricted")
    private long allocateBlock() {
        reapDeadBlocks();
        long raw;
        try {
            raw = (long) MALLOC.invokeExact(blockSize + alignment + HEADER);
        } catch (Throwable t) {
            throw new AssertionError("malloc downcall failed", t);
        }
        if (raw == 0) {
            return 0;
        }
        long block = (raw + HEADER + alignment - 1) & -alignment;
        MemorySegment header = MemorySegment.ofAddress(block - HEADER).reinterpret(HEADER);
        header.set(JAVA_LONG, 0, raw);
        header.set(JAVA_LONG, 8, 0);
        MemorySegment contents = MemorySegment.ofAddress(block).reinterpret(blockSize);
        if (templateSize > 0) {
            MemorySegment.copy(MemorySegment.ofAddress(templateAddress).reinterpret(templateSize), 0, contents, 0,
                    templateSize);
        }
        contents.asSlice(templateSize).fill((byte) 0);
        LIVE_BLOCKS.incrementAndGet();
        blocks.add(block);
        return block;
    }

    /** Frees the blocks whose threads have exited (their destructor set the header's mark). */
    @SuppressWarnings("restricted")
    private void reapDeadBlocks() {
        for (Iterator<Long> it = blocks.iterator(); it.hasNext(); ) {
            long block = it.next();
            MemorySegment header = MemorySegment.ofAddress(block - HEADER).reinterpret(HEADER);
            if ((long) JAVA_LONG_ACQUIRE.getAcquire(header, 8L) != 0 && blocks.remove(block)) {
                freeBlock(block);
            }
        }
    }

    private static final java.lang.invoke.VarHandle JAVA_LONG_ACQUIRE = JAVA_LONG.varHandle();

    @SuppressWarnings("restricted")
    private static void freeBlock(long block) {
        long raw = MemorySegment.ofAddress(block - HEADER).reinterpret(HEADER).get(JAVA_LONG, 0);
        try {
            FREE.invokeExact(raw);
        } catch (Throwable t) {
            throw new AssertionError("free downcall failed", t);
        }
        LIVE_BLOCKS.decrementAndGet();
    }

    /**
     * The slow path: the calling thread has no block for the key in {@code ti->module}. Makes one,
     * installs it with {@code pthread_setspecific} and returns the variable's address. Returns 0
     * (a null pointer for the loaded code) if the set is closed or memory is exhausted.
     */
    @SuppressWarnings({"restricted", "unused"})
    private static long slowPath(long tlsIndex) {
        MemorySegment index = MemorySegment.ofAddress(tlsIndex).reinterpret(16);
        int key = (int) index.get(JAVA_LONG, 0);
        long offset = index.get(JAVA_LONG, 8);
        ThreadLocalStorage tls = BY_KEY.get(key);
        if (tls == null || tls.closed) {
            return 0;
        }
        long block = tls.allocateBlock();
        if (block == 0) {
            return 0;
        }
        try {
            int rc = (int) PTHREAD_SETSPECIFIC.invokeExact(key, block);
            if (rc != 0) {
                return 0;
            }
        } catch (Throwable t) {
            return 0;
        }
        return block + offset;
    }

    private static long upcall() {
        try {
            MethodHandle target = MethodHandles.lookup().findStatic(ThreadLocalStorage.class, "slowPath",
                    MethodType.methodType(long.class, long.class));
            return LINKER.upcallStub(target, FunctionDescriptor.of(JAVA_LONG, JAVA_LONG), Arena.global()).address();
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }
}
