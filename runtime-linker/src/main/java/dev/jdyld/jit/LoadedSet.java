package dev.jdyld.jit;

import dev.jdyld.link.LinkedSet;
import dev.jdyld.link.LoadStage;
import dev.jdyld.memory.PermissionGroup;
import dev.jdyld.memory.Slab;
import dev.jdyld.runtime.CRuntime;
import dev.jdyld.runtime.Initializers;
import dev.jdyld.runtime.Native;
import dev.jdyld.runtime.ThreadLocalStorage;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.OptionalLong;
import java.util.Set;

import static dev.jdyld.elf.Elf.U64;

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
    private final Initializers.Calls initializers;
    private final Set<String> comdatGroups;
    private final Map<String, Long> exports;
    private final Map<String, Long> sizes;
    private final SetLayout layout;
    private final List<LinkPlugin> plugins;
    /** How many plugins saw afterFinalize: those get beforeClose. */
    private int pluginsStarted;
    private boolean initialized;
    private volatile boolean closed;

    LoadedSet(JitLinker owner, LinkedSet linked, List<LinkPlugin> plugins) {
        this.owner = owner;
        this.slab = linked.slab();
        this.tls = linked.tls();
        this.dsoHandle = linked.dsoHandle();
        this.initializers = linked.initializers();
        this.comdatGroups = linked.comdatGroups();
        this.exports = linked.exports().addresses();
        this.sizes = linked.exports().sizes();
        this.layout = linked.layout();
        this.plugins = plugins;
    }

    /**
     * Makes the linked set live: plugins see its layout, its memory gets its final permissions,
     * plugins see it finalized (unwind tables are registered then), and, with
     * {@code runInitializers}, it is initialised as a loaded shared object would be. If any step
     * fails, everything done so far is undone and the set's memory unmapped before the exception
     * leaves.
     */
    void start(boolean runInitializers) {
        try {
            LoadStage.PLUGINS.reached();
            for (LinkPlugin plugin : plugins) {
                plugin.afterLayout(layout);
            }
            LoadStage.FINALIZE.reached();
            slab.finalizePermissions();
            for (LinkPlugin plugin : plugins) {
                plugin.afterFinalize(this);
                pluginsStarted++;
            }
            if (runInitializers) {
                initialize();
            }
        } catch (RuntimeException | Error e) {
            try {
                release();
            } catch (RuntimeException | Error releaseFailure) {
                e.addSuppressed(releaseFailure);
            }
            if (e instanceof LinkException || e instanceof Error) {
                throw e;
            }
            throw new LinkException(Location.file(describeInputs()), "initialising the set failed: " + e, e);
        }
    }

    /**
     * Resolves the set's IFUNCs, registers its destructors to run at exit or at {@link #close()},
     * and runs its constructors.
     */
    private void initialize() {
        initialized = true;
        for (Initializers.Ifunc ifunc : initializers.ifuncs()) {
            slab.segment(PermissionGroup.DATA).set(U64, ifunc.slotOffset(), CRuntime.callResolver(ifunc.resolver()));
        }
        // Registered before the constructors run, so that the handlers they register (C++ static
        // destructors) run first, as exit() runs them before a module's fini array.
        for (long destructor : initializers.fini()) {
            CRuntime.atexit(destructor, dsoHandle);
        }
        for (long constructor : initializers.init()) {
            LoadStage.CONSTRUCTOR.reached();
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
    public MethodHandle function(String symbol, FunctionDescriptor descriptor, Linker.Option... options) {
        return Native.downcall(address(symbol), descriptor, options);
    }

    /** Names of all exported symbols. */
    public Set<String> symbols() {
        return exports.keySet();
    }

    /** Signatures of the COMDAT groups this set kept. */
    Set<String> comdatGroups() {
        return comdatGroups;
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

    /** Unregisters the set's symbols, runs its destructors, tells the plugins, and unmaps its memory. Idempotent. */
    @Override
    public void close() {
        synchronized (owner) {
            if (closed) {
                return;
            }
            closed = true;
            owner.unregister(this);
            release();
        }
    }

    /** Undoes the set's life in reverse: exit handlers and destructors, plugins, TLS, memory. */
    private void release() {
        try {
            if (initialized && dsoHandle != 0) {
                CRuntime.finalize(dsoHandle); // the set's atexit handlers, C++ static destructors, fini array
            }
            while (pluginsStarted > 0) {
                plugins.get(--pluginsStarted).beforeClose(this);
            }
        } finally {
            if (tls != null) {
                tls.close();
            }
            slab.close();
        }
    }

    private String describeInputs() {
        List<SetLayout.Section> sections = layout.sections();
        return sections.isEmpty() ? "set" : sections.getFirst().object();
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("set is closed");
        }
    }
}
