package dev.jdyld.runtime;

import dev.jdyld.jit.LinkException;
import dev.jdyld.jit.Location;
import dev.jdyld.link.arch.Architecture;
import dev.jdyld.memory.MemoryManager;
import dev.jdyld.memory.PermissionGroup;
import dev.jdyld.memory.Placement;
import dev.jdyld.memory.Slab;
import dev.jdyld.memory.SlabRequest;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongUnaryOperator;

/**
 * Redirectable entry points owned by the linker, as ORC's indirect stubs: each entry is a stub that
 * jumps through a writable slot. Sets bind calls to a function of another set to its stub, so one
 * aligned 8-byte store into the slot re-points every caller at once (a redefinition, a lazy symbol
 * materialized). Each entry also has a lazy thunk: a slot pointing at it sends the next call to
 * the resolver given at construction, which returns where the call continues.
 *
 * <p>Entries come in blocks of {@value #PER_BLOCK}, one slab each: the stubs, thunks and shared
 * lazy entry in its code pages (finalized, never writable again), the slots in its data pages.
 */
public final class Indirections implements AutoCloseable {
    private static final int PER_BLOCK = 256;
    private static final VarHandle SLOT = ValueLayout.JAVA_LONG.varHandle();
    private static final ThreadLocal<Throwable> FAILED_RESOLUTION = new ThreadLocal<>();
    private static final MethodHandle RESOLVE;
    private static final MethodHandle RETHROW_FAILED_RESOLUTION;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            RESOLVE = lookup.findVirtual(Indirections.class, "resolve", MethodType.methodType(long.class, long.class));
            RETHROW_FAILED_RESOLUTION = lookup.findStatic(Indirections.class, "rethrowFailedResolution",
                    MethodType.methodType(void.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Architecture arch;
    private final MemoryManager memory;
    private final LongUnaryOperator resolver;
    private final Arena upcalls = Arena.ofShared();
    private final List<Slab> blocks = new ArrayList<>();
    private final long stubsOffset;
    private final long thunksOffset;
    private long resolverStub;
    private int used;

    /**
     * @param resolver called, on the thread of a lazy call, with the entry's index; returns the
     *                 address the call continues at. It may throw: the call then returns 0 and
     *                 {@link #takeFailedResolution()} hands the exception to Java.
     */
    public Indirections(Architecture arch, MemoryManager memory, LongUnaryOperator resolver) {
        this.arch = arch;
        this.memory = memory;
        this.resolver = resolver;
        this.stubsOffset = align(arch.lazyEntrySize(), 64);
        this.thunksOffset = stubsOffset + (long) PER_BLOCK * arch.stubSize();
    }

    /** A new entry whose slot points at {@code target} (0: at its lazy thunk); returns its index. */
    public synchronized int add(long target) {
        if (used == blocks.size() * PER_BLOCK) {
            addBlock();
        }
        int index = used++;
        retarget(index, target == 0 ? lazyThunkAddress(index) : target);
        return index;
    }

    /** Where callers bind: the entry's stub. */
    public long stubAddress(int index) {
        return block(index).address(PermissionGroup.TEXT) + stubsOffset + (long) (index % PER_BLOCK) * arch.stubSize();
    }

    /** The entry's lazy thunk: a slot pointing here sends the next call to the resolver. */
    public long lazyThunkAddress(int index) {
        return block(index).address(PermissionGroup.TEXT) + thunksOffset + (long) (index % PER_BLOCK) * arch.lazyThunkSize();
    }

    /** A function that returns 0, where calls of a symbol that is no longer defined are sent. */
    public long returnZeroAddress(int index) {
        return block(index).address(PermissionGroup.TEXT) + arch.lazyReturnZeroEntry();
    }

    /** Re-points the entry: every call through its stub that loads the slot after this goes to {@code target}. */
    public void retarget(int index, long target) {
        SLOT.setVolatile(block(index).segment(PermissionGroup.DATA), (long) (index % PER_BLOCK) * Long.BYTES, target);
    }

    /** The current target of the entry. */
    public long target(int index) {
        return (long) SLOT.getVolatile(block(index).segment(PermissionGroup.DATA), (long) (index % PER_BLOCK) * Long.BYTES);
    }

    /**
     * The exception of a lazy resolution that failed on this thread since the last call (the native
     * caller got 0), or null; clears it.
     */
    public static Throwable takeFailedResolution() {
        Throwable failure = FAILED_RESOLUTION.get();
        if (failure != null) {
            FAILED_RESOLUTION.remove();
        }
        return failure;
    }

    /**
     * A downcall handle that asks {@code target} (no arguments, returns the {@code MemorySegment}
     * to call, whose scope the call keeps alive) where to go at every call, and that fails the
     * call when a lazy resolution failed in native code during it.
     */
    public static MethodHandle followingHandle(MethodHandle target, FunctionDescriptor descriptor, Linker.Option... options) {
        MethodHandle call = MethodHandles.foldArguments(Native.downcall(descriptor, options), target);
        Class<?> returnType = call.type().returnType();
        MethodHandle check = returnType == void.class ? RETHROW_FAILED_RESOLUTION
                : MethodHandles.foldArguments(MethodHandles.identity(returnType), RETHROW_FAILED_RESOLUTION);
        return MethodHandles.filterReturnValue(call, check);
    }

    @SuppressWarnings("unused") // runs after every call through a following handle
    private static void rethrowFailedResolution() {
        Throwable failure = takeFailedResolution();
        if (failure != null) {
            throw new LinkException(Location.NONE, "a lazy symbol called from loaded code could not be materialized"
                    + " (the native caller got 0): " + failure.getMessage(), failure);
        }
    }

    private synchronized Slab block(int index) {
        if (index < 0 || index >= used) {
            throw new IndexOutOfBoundsException("indirection " + index + " of " + used);
        }
        return blocks.get(index / PER_BLOCK);
    }

    @SuppressWarnings("unused") // called from native code through the resolver upcall
    private long resolve(long index) {
        try {
            return resolver.applyAsLong(index);
        } catch (Throwable t) {
            FAILED_RESOLUTION.set(t);
            return returnZeroAddress((int) index);
        }
    }

    private void addBlock() {
        if (resolverStub == 0) {
            resolverStub = Native.upcall(RESOLVE.bindTo(this),
                    FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG), upcalls).address();
        }
        long[] sizes = new long[PermissionGroup.values().length];
        long[] alignments = new long[sizes.length];
        java.util.Arrays.fill(alignments, 64);
        sizes[PermissionGroup.TEXT.ordinal()] = thunksOffset + (long) PER_BLOCK * arch.lazyThunkSize();
        sizes[PermissionGroup.DATA.ordinal()] = (long) PER_BLOCK * Long.BYTES;
        Slab slab = memory.allocate(new SlabRequest(sizes, alignments, Placement.ANYWHERE));
        try {
            MemorySegment text = slab.segment(PermissionGroup.TEXT);
            long base = slab.address(PermissionGroup.TEXT);
            int first = blocks.size() * PER_BLOCK;
            arch.writeLazyEntry(text, 0, resolverStub);
            for (int i = 0; i < PER_BLOCK; i++) {
                long stub = stubsOffset + (long) i * arch.stubSize();
                long thunk = thunksOffset + (long) i * arch.lazyThunkSize();
                arch.writeStub(text, stub, base + stub, slab.address(PermissionGroup.DATA) + (long) i * Long.BYTES);
                arch.writeLazyThunk(text, thunk, base + thunk, first + i, base);
                slab.segment(PermissionGroup.DATA).set(ValueLayout.JAVA_LONG, (long) i * Long.BYTES,
                        base + arch.lazyReturnZeroEntry());
            }
            slab.finalizePermissions();
        } catch (RuntimeException | Error e) {
            slab.close();
            throw e;
        }
        blocks.add(slab);
    }

    private static long align(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }

    /** Unmaps every block; the linker calls it once no set that could call through them is open. */
    @Override
    public synchronized void close() {
        for (Slab block : blocks) {
            block.close();
        }
        blocks.clear();
        used = 0;
        if (upcalls.scope().isAlive()) {
            upcalls.close();
        }
    }
}
