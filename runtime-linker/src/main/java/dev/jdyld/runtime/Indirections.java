package dev.jdyld.runtime;

import dev.jdyld.runtime.ffi.Native;
import dev.jdyld.core.LinkException;
import dev.jdyld.core.Location;
import dev.jdyld.link.arch.Architecture;
import dev.jdyld.executor.TargetProcess;
import dev.jdyld.memory.MemoryManager;
import dev.jdyld.memory.PermissionGroup;
import dev.jdyld.memory.Placement;
import dev.jdyld.memory.Slab;
import dev.jdyld.memory.SlabRequest;
import dev.jdyld.runtime.lifetime.ThreadCalls;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
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
    private static final MethodHandle RESOLVE;

    static {
        try {
            RESOLVE = MethodHandles.lookup().findVirtual(Indirections.class, "resolve", MethodType.methodType(long.class, long.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Architecture arch;
    private final MemoryManager memory;
    /** Where the code runs: the resolver's upcall is made there. */
    private final TargetProcess target;
    private final LongUnaryOperator resolver;
    private final Consumer<Throwable> unreported;
    private final Arena upcalls = Arena.ofShared();
    private final List<Slab> blocks = new ArrayList<>();
    private final long stubsOffset;
    private final long thunksOffset;
    private long resolverStub;
    private int used;

    /**
     * @param resolver   called, on the thread of a lazy call, with the entry's index; returns the
     *                   address the call continues at. It may throw: the call then returns 0, and
     *                   the innermost Java call on the thread that entered loaded code through
     *                   jdyld throws the exception when it returns ({@link ThreadCalls#fail})
     * @param unreported takes the exception when no such call is on the thread's stack
     */
    public Indirections(Architecture arch, TargetProcess target, LongUnaryOperator resolver, Consumer<Throwable> unreported) {
        this.arch = arch;
        this.target = target;
        this.memory = target.memory();
        this.resolver = resolver;
        this.unreported = unreported;
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
            LinkException failure = new LinkException(Location.NONE, "a lazy symbol called from loaded code could not be"
                    + " materialized (the native caller got 0): " + (t instanceof LinkException ? t.getMessage() : t.toString()), t);
            if (!ThreadCalls.current().fail(failure)) {
                unreported.accept(failure);
            }
            return returnZeroAddress((int) index);
        }
    }

    private void addBlock() {
        if (resolverStub == 0) {
            resolverStub = target.upcall(RESOLVE.bindTo(this),
                    FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG), upcalls);
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
