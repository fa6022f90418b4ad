package dev.jdyld.link;

import dev.jdyld.memory.PermissionGroup;
import dev.jdyld.memory.Slab;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.OptionalLong;
import java.util.Set;

/**
 * Objects loaded, linked and made executable together. Its exported symbols (global,
 * non-hidden definitions) can be looked up and called; closing it unmaps its memory, after
 * which none of its addresses may be used.
 */
public final class LoadedSet implements AutoCloseable {
    private final JitLinker owner;
    private final Slab slab;
    private final ThreadLocalStorage tls;
    private final long dsoHandle;
    private final List<Long> ehFrames;
    private final Initializers.Calls initializers;
    private final java.util.Set<String> groups;
    private boolean initialized;
    private final Map<String, Long> exports;
    private final Map<String, Long> sizes;
    private final SetLayout layout;
    private volatile boolean closed;

    LoadedSet(JitLinker owner, SetLinker.Linked linked) {
        this.owner = owner;
        this.slab = linked.slab();
        this.tls = linked.tls();
        this.dsoHandle = linked.dsoHandle();
        this.ehFrames = List.copyOf(linked.ehFrames());
        this.initializers = linked.initializers();
        this.groups = java.util.Set.copyOf(linked.groups());
        this.exports = Map.copyOf(linked.exports());
        this.sizes = Map.copyOf(linked.sizes());
        this.layout = linked.layout();
    }

    /**
     * Makes the set live as a loaded shared object would be: registers its {@code .eh_frame} with
     * the host unwinder, resolves its IFUNCs, registers its destructors to run at exit or at {@link #close()}, and runs
     * its constructors. {@link JitLinker#load} calls this unless told not to.
     */
    void initialize() {
        if (initialized) {
            return;
        }
        initialized = true;
        for (long ehFrame : ehFrames) {
            Unwinder.register(ehFrame);
        }
        for (Initializers.Ifunc ifunc : initializers.ifuncs()) {
            slab.segment(PermissionGroup.DATA).set(ElfObject.U64, ifunc.slotOffset(), CRuntime.callResolver(ifunc.resolver()));
        }
        // Registered before the constructors run, so that the handlers they register (C++ static
        // destructors) run first, as exit() runs them before a module's fini array.
        for (long destructor : initializers.fini()) {
            CRuntime.atexit(destructor, dsoHandle);
        }
        for (long constructor : initializers.init()) {
            CRuntime.call(constructor);
        }
    }

    /** The address of an exported symbol, if the set defines it. */
    public OptionalLong find(String symbol) {
        checkOpen();
        Long address = exports.get(symbol);
        return address == null ? OptionalLong.empty() : OptionalLong.of(address);
    }

    /** The address of an exported symbol; throws {@link NoSuchElementException} naming it when absent. */
    public long address(String symbol) {
        return find(symbol).orElseThrow(() -> new NoSuchElementException("symbol " + symbol + " is not defined by this set"));
    }

    /**
     * An exported data symbol as a segment of exactly its {@code st_size} bytes. The segment is
     * not tied to the set's lifetime: do not use it after {@link #close()}.
     */
    @SuppressWarnings("restricted")
    public MemorySegment data(String symbol) {
        long address = address(symbol);
        return MemorySegment.ofAddress(address).reinterpret(sizes.getOrDefault(symbol, 0L));
    }

    /** A downcall handle for an exported function with the given C signature. */
    @SuppressWarnings("restricted")
    public MethodHandle function(String symbol, FunctionDescriptor descriptor, Linker.Option... options) {
        return Linker.nativeLinker().downcallHandle(MemorySegment.ofAddress(address(symbol)), descriptor, options);
    }

    /** Names of all exported symbols. */
    public Set<String> symbols() {
        return exports.keySet();
    }

    /** Signatures of the COMDAT groups this set kept. */
    java.util.Set<String> groups() {
        return groups;
    }

    Map<String, Long> exports() {
        return exports;
    }

    /** Sections, groups, GOT and stub counts, with addresses. */
    public SetLayout layout() {
        return layout;
    }

    /** Thread-local blocks threads hold now for this set (0 without TLS); for tests and accounting. */
    int threadLocalBlocks() {
        return tls == null ? 0 : tls.liveBlocks();
    }

    public boolean isClosed() {
        return closed;
    }

    /** Unregisters the set's symbols and unmaps its memory. Idempotent. */
    @Override
    public void close() {
        synchronized (owner) {
            if (closed) {
                return;
            }
            closed = true;
            owner.unregister(this);
            if (initialized) {
                if (dsoHandle != 0) {
                    CRuntime.finalize(dsoHandle); // the set's atexit handlers, C++ static destructors, fini array
                }
                for (long ehFrame : ehFrames) {
                    Unwinder.deregister(ehFrame);
                }
            }
            if (tls != null) {
                tls.close();
            }
            slab.close();
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("set is closed");
        }
    }
}
