package dev.jdyld.jit;

import dev.jdyld.link.LinkedSet;
import dev.jdyld.link.SetLifetime;
import dev.jdyld.runtime.LoadStage;
import dev.jdyld.link.SymbolBinding;
import dev.jdyld.memory.PermissionGroup;
import dev.jdyld.memory.Slab;
import dev.jdyld.runtime.CRuntime;
import dev.jdyld.runtime.Initializers;
import dev.jdyld.runtime.ThreadLocalStorage;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.LinkedHashSet;
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
 *
 * <p>Handles from {@link #function} and segments from {@link #data} are bound to the set's
 * lifetime (segments to an FFM {@link Arena} of the set, handles to a guard that costs a closing
 * set no handshake with every JVM thread): used after {@link #close()} they throw
 * {@link IllegalStateException}, and while a call through a handle is running the set cannot be
 * closed. A set that later sets bound to (calls, GOT slots, data references) cannot be closed
 * while they are open; {@link #closeWithDependents()} closes them first.
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
    private final String name;
    private final Scope scope;
    /** Sets it bound to by address, and names it calls through redirectable stubs. */
    private final Set<LoadedSet> boundSets;
    private final Set<SymbolBinding<LoadedSet>> boundStubs;
    /** Open sets bound to this one by address; guarded by the owner's lock. */
    private final Set<LoadedSet> boundBy = new LinkedHashSet<>();
    /** The inputs as read, while the set starts (for plugins); then dropped, not to keep their bytes. */
    private volatile List<ObjectFile> objects;
    /** Load order, for closing dependents latest first. */
    private final long sequence;
    /**
     * Held by every call through a handle of {@link #function}, and the scope of segments from
     * {@link #data} and of calls that follow a name into the set: closed first when the set closes.
     */
    private final SetLifetime lifetime;
    /** Loads in progress that bound to this set; guarded by the owner's lock. */
    private int pins;
    /** How many plugins saw afterFinalize: those get beforeClose. */
    private int pluginsStarted;
    private boolean initialized;
    private volatile boolean closed;

    LoadedSet(JitLinker owner, Scope scope, LinkedSet linked, List<LinkPlugin> plugins, Set<LoadedSet> boundSets,
              Set<SymbolBinding<LoadedSet>> boundStubs, long sequence) {
        this.owner = owner;
        this.scope = scope;
        this.boundSets = Set.copyOf(boundSets);
        this.boundStubs = Set.copyOf(boundStubs);
        this.sequence = sequence;
        this.slab = linked.slab();
        this.tls = linked.tls();
        this.dsoHandle = linked.dsoHandle();
        this.initializers = linked.initializers();
        this.comdatGroups = linked.comdatGroups();
        this.exports = linked.exports().addresses();
        this.sizes = linked.exports().sizes();
        this.layout = linked.layout();
        this.plugins = plugins;
        this.name = linked.name();
        this.objects = linked.objects();
        this.lifetime = new SetLifetime(name);
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
            objects = List.of();
            if (runInitializers) {
                initialize();
            }
        } catch (RuntimeException | Error e) {
            objects = List.of();
            try {
                discard();
            } catch (RuntimeException | Error releaseFailure) {
                e.addSuppressed(releaseFailure);
            }
            if (e instanceof LinkException || e instanceof Error) {
                throw e;
            }
            throw new LinkException(Location.file(name), "initialising the set failed: " + e, e);
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

    /**
     * The address of an exported symbol, if the set defines it.
     *
     * @param symbol the symbol's name
     * @return its address, or empty when the set does not export it
     */
    public OptionalLong find(String symbol) {
        checkOpen();
        Long address = exports.get(symbol);
        return address == null ? OptionalLong.empty() : OptionalLong.of(address);
    }

    /**
     * The address of an exported symbol; throws {@link NoSuchElementException} naming it when absent.
     *
     * @param symbol the symbol's name
     * @return its address
     */
    public long address(String symbol) {
        return find(symbol).orElseThrow(() -> new NoSuchElementException("symbol " + symbol + " is not defined by this set"));
    }

    /**
     * An exported data symbol as a segment of exactly its {@code st_size} bytes, valid while the
     * set is open: accessed after {@link #close()} it throws {@link IllegalStateException}.
     *
     * @param symbol the symbol's name
     * @return a segment of its {@code st_size} bytes, bound to the set's lifetime
     */
    @SuppressWarnings("restricted")
    public MemorySegment data(String symbol) {
        long address = address(symbol);
        return MemorySegment.ofAddress(address).reinterpret(sizes.getOrDefault(symbol, 0L), arena(), null);
    }

    /**
     * A downcall handle for an exported function with the given C signature, bound to the set's
     * lifetime: called after {@link #close()} it throws {@link IllegalStateException} instead of
     * jumping into unmapped (or reused) memory.
     *
     * @param symbol     the function's name
     * @param descriptor its C signature
     * @param options    FFM linker options, as for {@link Linker#downcallHandle}
     * @return a handle that throws {@link IllegalStateException} once the set is closed
     */
    public MethodHandle function(String symbol, FunctionDescriptor descriptor, Linker.Option... options) {
        return lifetime.downcall(address(symbol), descriptor, options);
    }

    /**
     * Runs the C program's entry point as the C runtime would: {@code entry(argc, argv, envp)} with
     * the process's own environment, on a thread of its own (8 MiB of stack, as a main thread has)
     * that the caller waits for. When it returns, that thread's C++ {@code thread_local} destructors
     * run, then {@code fflush(NULL)}, as {@code exit} does first, so their output is written before
     * the JVM goes on or exits.
     *
     * @param entry the entry point, usually {@code main}
     * @param argv  the arguments, {@code argv[0]} included
     * @return what the entry point returned
     * @throws LinkException if the set does not define {@code entry}
     */
    public int runMain(String entry, List<String> argv) {
        if (!exports.containsKey(entry)) {
            throw new LinkException(Location.NONE.symbol(entry), "entry point is not defined by the loaded objects");
        }
        long main = address(entry);
        // Held for the whole run, as a handle from function() would hold it for its call; no
        // handle is made, since a guarded one costs a cold start ~10 ms of method handle set-up.
        lifetime.acquire();
        try {
            return CRuntime.runMain(main, argv, entry);
        } finally {
            lifetime.release();
        }
    }

    /**
     * The set's inputs, for messages: the first file, and how many more.
     *
     * @return the first input's name, and how many more there are
     */
    public String name() {
        return name;
    }

    @Override
    public String toString() {
        return "LoadedSet[" + name + (closed ? ", closed]" : "]");
    }

    /**
     * The objects the set was linked from, archive members included, with their bytes as read: for
     * plugins during {@link LinkPlugin#afterFinalize} (a debugger interface hands them to gdb with
     * their debug information). Empty once the set has started, so it does not keep them alive.
     *
     * @return the objects, in link order
     */
    public List<ObjectFile> objects() {
        return objects;
    }

    /** Once registered: records this set with what it bound to, so that they find it as a dependent. Under the owner's lock. */
    void recordBindings() {
        for (LoadedSet set : boundSets) {
            set.boundBy.add(this);
        }
        for (SymbolBinding<LoadedSet> binding : boundStubs) {
            binding.callers().add(this);
        }
    }

    private void forgetBindings() {
        for (LoadedSet set : boundSets) {
            set.boundBy.remove(this);
        }
        for (SymbolBinding<LoadedSet> binding : boundStubs) {
            binding.callers().remove(this);
        }
    }

    Scope scope() {
        return scope;
    }

    long sequence() {
        return sequence;
    }

    /** The set's shared arena, made on first use; {@link IllegalStateException} once the set is closed. */
    Arena arena() {
        return lifetime.arena();
    }

    /** A load in progress bound to this set: it may not close until {@link #unpin()}. Under the owner's lock. */
    void pin() {
        pins++;
    }

    void unpin() {
        pins--;
    }

    /**
     * Names of all exported symbols.
     *
     * @return the names of the set's global, non-hidden definitions
     */
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

    /**
     * Sections, groups, GOT and stub counts, with addresses.
     *
     * @return its groups, sections, symbols and counts
     */
    public SetLayout layout() {
        return layout;
    }

    /** Thread-local blocks threads hold now for this set (0 without TLS); for tests and accounting. */
    int threadLocalBlocks() {
        return tls == null ? 0 : tls.liveBlocks();
    }

    /**
     * Whether the set was closed (its memory is unmapped).
     *
     * @return true after {@link #close()}
     */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Unregisters the set's symbols, runs its destructors, tells the plugins, and unmaps its
     * memory. Idempotent. Refused with {@link IllegalStateException} while an open set binds to
     * this one (the message names them), while a load binding to it is in progress, or while a
     * call through one of its handles is running.
     */
    @Override
    public void close() {
        synchronized (owner) {
            if (closed) {
                return;
            }
            if (pins > 0) {
                throw new IllegalStateException("set " + name + " is being bound to by a load in progress; close it when that load ends");
            }
            List<LoadedSet> dependents = dependents();
            if (!dependents.isEmpty()) {
                throw new IllegalStateException("set " + name + " is used by open set" + (dependents.size() == 1 ? " " : "s ")
                        + String.join(", ", dependents.stream().map(LoadedSet::name).toList())
                        + "; close them first, or use closeWithDependents()");
            }
            closeHandles();
            forgetBindings();
            scope.unregister(this);
            closed = true;
            owner.inFlight(1);
        }
        // Nothing can reach the set any more: its destructors, plugins and memory are released
        // outside the linker's lock, so other threads' loads and closes go on meanwhile.
        try {
            release();
        } finally {
            owner.inFlight(-1);
        }
    }

    /** Closes the open sets that bind to this one (latest first, each after its own dependents), then this set. */
    public void closeWithDependents() {
        synchronized (owner) {
            for (LoadedSet dependent : dependents().reversed()) {
                dependent.closeWithDependents();
            }
            close();
        }
    }

    /** Open sets bound to this one, by address or through a stub that now leads into it; in load order. */
    private List<LoadedSet> dependents() {
        Set<LoadedSet> dependents = new LinkedHashSet<>(boundBy);
        for (String symbol : exports.keySet()) {
            SymbolBinding<LoadedSet> binding = scope.binding(symbol);
            if (binding != null && binding.definition().set() == this) {
                dependents.addAll(binding.callers());
            }
        }
        dependents.remove(this);
        List<LoadedSet> ordered = new ArrayList<>(dependents);
        ordered.sort(java.util.Comparator.comparingLong(LoadedSet::sequence));
        return ordered;
    }

    /** First step of closing: handles and segments stop working; refused while a call through one runs. */
    void closeHandles() {
        lifetime.close("set " + name + " is running code called through one of its handles on another thread;"
                + " close it when the call has returned");
    }

    /** Undoes the set's life in reverse, whatever stage it reached: exit handlers and destructors, plugins, TLS, memory. */
    void discard() {
        if (closed) {
            return;
        }
        closed = true;
        release();
    }

    private void release() {
        try {
            if (initialized && dsoHandle != 0) {
                CRuntime.finalize(dsoHandle); // the set's atexit handlers, C++ static destructors, fini array
            }
            while (pluginsStarted > 0) {
                plugins.get(--pluginsStarted).beforeClose(this);
            }
        } finally {
            closeHandles();
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
