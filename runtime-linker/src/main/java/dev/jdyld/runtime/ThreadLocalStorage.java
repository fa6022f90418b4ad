package dev.jdyld.runtime;

import dev.jdyld.runtime.ffi.LoadedCode;
import dev.jdyld.runtime.ffi.Native;
import dev.jdyld.core.LinkException;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The thread-local storage of one loaded set: a {@code pthread} key whose per-thread value is the
 * thread's TLS block, the block's size and alignment, and the template it starts from
 * ({@code .tdata} as relocated, then zeros for {@code .tbss}).
 *
 * <p>A thread's block is made on its first access, by the slow path the emitted
 * {@code __tls_get_addr} and descriptor resolver call into ({@link #slowPath}). Every block is
 * owned by a slot of the set (native memory, in chunks that never move): at thread exit the key's
 * destructor (emitted code) swaps the slot to 0 and frees the block; closing the set swaps every
 * slot to 0 and frees what it got, the blocks of threads still running. The atomic swap decides
 * which of the two frees a block, so each is freed exactly once.
 *
 * <p>A set whose code reaches its thread-locals at fixed offsets from the thread pointer (local or
 * initial exec) has its block in glibc's static TLS instead ({@link #createStatic}): no key, no
 * blocks of jdyld's own, a {@link StaticTlsModule} that {@link #close} unloads.
 *
 * <p>Block layout: a 16-byte header {@code {void *malloc_pointer; long *slot}} right below the
 * aligned block.
 */
public final class ThreadLocalStorage implements dev.jdyld.executor.ThreadLocalBlock {
    /** Addresses the emitted TLS code calls: the fast path and the key destructor never enter the JVM. */
    public static final long PTHREAD_GETSPECIFIC = Native.libcAddress("pthread_getspecific");
    public static final long FREE_ADDRESS = Native.libcAddress("free");
    private static final int SLOTS_PER_CHUNK = 512;
    private static final int HEADER = 16;

    /* void *slow_path(tls_index *ti); an upcall that lives as long as the process */
    public static final long SLOW_PATH = upcall();

    private static final Map<Integer, ThreadLocalStorage> BY_KEY = new ConcurrentHashMap<>();

    private final int key;
    private final long templateAddress;
    private final long templateSize;
    private final long blockSize;
    private final long alignment;
    /** Chunks of owning slots, each {@link #SLOTS_PER_CHUNK} words of malloc'd memory. */
    private final List<MemorySegment> chunks = new ArrayList<>();
    private int nextSlot;
    private volatile boolean closed;
    /** The block in static TLS, or null when blocks are per-thread allocations under {@link #key}. */
    private final StaticTlsModule staticModule;

    private ThreadLocalStorage(int key, long templateAddress, long templateSize, long blockSize, long alignment) {
        this(key, templateAddress, templateSize, blockSize, alignment, null);
    }

    private ThreadLocalStorage(int key, long templateAddress, long templateSize, long blockSize, long alignment,
                               StaticTlsModule staticModule) {
        this.staticModule = staticModule;
        this.key = key;
        this.templateAddress = templateAddress;
        this.templateSize = templateSize;
        this.blockSize = blockSize;
        this.alignment = alignment;
    }

    /** Creates the set's key, with the emitted destructor at {@code destructor}. */
    public static ThreadLocalStorage create(long destructor, long templateAddress, long templateSize, long blockSize,
                                     long alignment) {
        int key;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment keyOut = arena.allocate(JAVA_INT);
            int rc = Native.pthreadKeyCreate(keyOut, destructor);
            if (rc != 0) {
                throw new LinkException("pthread_key_create failed (error " + rc + "): the process has no"
                        + " thread-specific key left (PTHREAD_KEYS_MAX is 1024 for the whole process, and "
                        + BY_KEY.size() + " sets with thread-local storage hold one each); close some of them");
            }
            key = keyOut.get(JAVA_INT, 0);
        }
        ThreadLocalStorage tls = new ThreadLocalStorage(key, templateAddress, templateSize, blockSize,
                Math.max(alignment, 16));
        BY_KEY.put(key, tls);
        return tls;
    }

    /**
     * Places the set's block in every thread's static TLS, initialised from the relocated template.
     *
     * @throws LinkException when static TLS has no room for it (the message says what to raise)
     */
    public static ThreadLocalStorage createStatic(ElfImages.Target target, MemorySegment template, long blockSize,
                                                  long alignment, String setName) {
        StaticTlsModule module = StaticTlsModule.load(target, template, blockSize, alignment, setName);
        return new ThreadLocalStorage(-1, template.address(), template.byteSize(), blockSize, alignment, module);
    }

    /** The block's offset from the thread pointer when it is in static TLS; 0 when it is not. */
    public long threadPointerOffset() {
        return staticModule == null ? 0 : staticModule.threadPointerOffset();
    }

    /** Whether the block is in static TLS. */
    public boolean isStatic() {
        return staticModule != null;
    }

    public long blockSize() {
        return blockSize;
    }

    public long alignment() {
        return alignment;
    }

    /** The module id the psABI's {@code tls_index} and {@code DTPMOD64} hold: the pthread key. */
    public long moduleId() {
        return staticModule == null ? key : 0;
    }

    /** Deletes the key and frees every block, including those of threads still running. Idempotent. */
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (staticModule != null) {
            staticModule.close();
            return;
        }
        BY_KEY.remove(key, this);
        int ignored = Native.pthreadKeyDelete(key);
        synchronized (this) {
            for (MemorySegment chunk : chunks) {
                for (int i = 0; i < SLOTS_PER_CHUNK; i++) {
                    long block = (long) SLOT.getAndSet(chunk, (long) i * 8, 0L);
                    if (block != 0) {
                        freeBlock(block);
                    }
                }
                free(chunk.address());
            }
            chunks.clear();
        }
    }

    /** Blocks of this set that threads hold now (a thread's block is freed when the thread exits). */
    /** How many sets' TLS keys exist now: tests check that a failed load leaves none behind. */
    public static int openKeys() {
        return BY_KEY.size();
    }

    public synchronized int liveBlocks() {
        int live = 0;
        for (MemorySegment chunk : chunks) {
            for (int i = 0; i < SLOTS_PER_CHUNK; i++) {
                if ((long) SLOT.getAcquire(chunk, (long) i * 8) != 0) {
                    live++;
                }
            }
        }
        return live;
    }

    /** A block for the calling thread, owned by a free slot; 0 if memory is exhausted. */
    @SuppressWarnings("restricted")
    private synchronized long allocateBlock() {
        MemorySegment slot = freeSlot();
        if (slot == null) {
            return 0;
        }
        long raw = malloc(blockSize + alignment + HEADER);
        if (raw == 0) {
            return 0;
        }
        long block = (raw + HEADER + alignment - 1) & -alignment;
        MemorySegment header = MemorySegment.ofAddress(block - HEADER).reinterpret(HEADER);
        header.set(JAVA_LONG, 0, raw);
        header.set(JAVA_LONG, 8, slot.address());
        MemorySegment contents = MemorySegment.ofAddress(block).reinterpret(blockSize);
        if (templateSize > 0) {
            MemorySegment.copy(MemorySegment.ofAddress(templateAddress).reinterpret(templateSize), 0, contents, 0,
                    templateSize);
        }
        contents.asSlice(templateSize).fill((byte) 0);
        SLOT.setRelease(slot, 0L, block);
        return block;
    }

    /** A slot no block owns (its thread exited, or it was never used); grows by a chunk when all are taken. */
    @SuppressWarnings("restricted")
    private MemorySegment freeSlot() {
        int total = chunks.size() * SLOTS_PER_CHUNK;
        for (int n = 0; n < total; n++) {
            int index = (nextSlot + n) % total;
            MemorySegment chunk = chunks.get(index / SLOTS_PER_CHUNK);
            long offset = (long) (index % SLOTS_PER_CHUNK) * 8;
            if ((long) SLOT.getAcquire(chunk, offset) == 0) {
                nextSlot = index + 1;
                return chunk.asSlice(offset, 8);
            }
        }
        long address = malloc((long) SLOTS_PER_CHUNK * 8);
        if (address == 0) {
            return null;
        }
        MemorySegment chunk = MemorySegment.ofAddress(address).reinterpret((long) SLOTS_PER_CHUNK * 8);
        chunk.fill((byte) 0);
        chunks.add(chunk);
        nextSlot = total + 1;
        return chunk.asSlice(0, 8);
    }

    private static final VarHandle SLOT = JAVA_LONG.varHandle();

    @SuppressWarnings("restricted")
    private static void freeBlock(long block) {
        free(MemorySegment.ofAddress(block - HEADER).reinterpret(HEADER).get(JAVA_LONG, 0));
    }

    private static long malloc(long size) {
        return Native.malloc(size);
    }

    private static void free(long address) {
        Native.free(address);
    }

    /**
     * The slow path: the calling thread has no block for the key in {@code ti->module}. Makes one,
     * installs it with {@code pthread_setspecific} and returns the variable's address. Returns 0
     * (a null pointer for the loaded code) if the set is closed or memory is exhausted.
     */
    @SuppressWarnings("unused") // called from native code through the upcall stub
    private static long slowPath(long tlsIndex) {
        try {
            return installBlock(tlsIndex);
        } catch (Throwable t) {
            // An exception may not leave an upcall (the JVM would abort): the loaded code gets a null
            // pointer, as from a failed allocation.
            return 0;
        }
    }

    @SuppressWarnings("restricted")
    private static long installBlock(long tlsIndex) throws Throwable {
        MemorySegment index = MemorySegment.ofAddress(tlsIndex).reinterpret(16);
        int key = (int) index.get(JAVA_LONG, 0);
        long offset = index.get(JAVA_LONG, 8);
        ThreadLocalStorage tls = BY_KEY.get(key);
        if (tls == null || tls.closed) {
            return 0;
        }
        long block = tls.allocateBlock();
        if (block == 0 || Native.pthreadSetspecific(key, block) != 0) {
            return 0;
        }
        return block + offset;
    }

    private static long upcall() {
        try {
            MethodHandle target = MethodHandles.lookup().findStatic(ThreadLocalStorage.class, "slowPath",
                    MethodType.methodType(long.class, long.class));
            return LoadedCode.upcall(target, FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }
}
