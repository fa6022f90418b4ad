package dev.jdyld.jit;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.Location;
import dev.jdyld.core.ObjectFile;
import dev.jdyld.link.LinkedSet;
import dev.jdyld.link.SetLinker;
import dev.jdyld.link.binding.SymbolBinding;
import dev.jdyld.memory.PermissionGroup;
import dev.jdyld.runtime.Initializers;
import dev.jdyld.runtime.LoadStage;
import dev.jdyld.runtime.lifetime.MemoryHolds;
import dev.jdyld.runtime.lifetime.Retirement;
import dev.jdyld.runtime.lifetime.SetLifetime;
import dev.jdyld.runtime.lifetime.ThreadCalls;
import dev.jdyld.runtime.support.FaultReports;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;

import static dev.jdyld.elf.Elf.U64;

/**
 * How one linker's sets are loaded and closed. A load links outside the lock, registers under it,
 * and runs plugins and constructors outside it. A close of one set, of a set with its dependents,
 * or of the whole linker ends every lifetime concerned or none, unregisters the sets under the
 * lock, then runs destructors and plugins and gives memory back outside it. The linker's own
 * resources go when the last set's memory has gone, which pending thread-local destructors or a
 * retirement may delay past the close.
 *
 * <p>Every wait here is for another thread: a load or close called from a constructor, destructor
 * or plugin on a thread that already runs one for this linker is refused instead of waiting for
 * itself.
 */
final class Lifecycle {
    private final JitLinker linker;
    /** The linker's own hold and one per set whose memory is mapped: the last gives back stubs and upcalls. */
    private final MemoryHolds memoryHolds;
    /** Loads and closes in progress on each thread, to refuse a re-entrant close that would wait for itself. */
    private final ThreadLocal<int[]> operationsHere = ThreadLocal.withInitial(() -> new int[1]);
    /** Guarded by the linker's lock, as everything below. */
    private long loadsStarted;
    /** Loads in progress, and closed sets whose memory is released outside the lock: {@link #closeLinker()} waits. */
    private int inFlight;
    /** New loads are refused: {@link #closeLinker()} waits for those in progress, and may still be refused. */
    private boolean closing;
    private boolean closed;

    Lifecycle(JitLinker linker) {
        this.linker = linker;
        this.memoryHolds = new MemoryHolds(this::releaseLinker);
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("linker is closed");
        }
    }

    /** A new set's memory holds, taking one of the linker's: stubs and upcalls stay while the set is mapped. */
    MemoryHolds holdMemory(Runnable unmap) {
        if (!memoryHolds.hold()) {
            throw new IllegalStateException("linker is closed");
        }
        return new MemoryHolds(unmap);
    }

    /** A set's memory was given back. */
    void releaseMemory() {
        memoryHolds.release();
    }

    /** A load, or a closed set's release outside the lock, begins ({@code +1}) or ends ({@code -1}). */
    private void inFlight(int delta) {
        synchronized (linker) {
            inFlight += delta;
            linker.notifyAll();
        }
    }

    /**
     * The load pipeline: link outside the lock (looking up symbols under it, pinning the sets bound
     * to), reserve its names, start it (plugins, permissions, constructors) outside the lock, then
     * register it. Whatever fails, the pins and reservations are released and the set unmapped.
     */
    LoadedSet load(Scope scope, List<ObjectFile> inputs, boolean redefining) {
        if (redefining && linker.directCalls) {
            throw new IllegalStateException("redefine needs redirectable calls; this linker was built with directCalls(true)");
        }
        if (inputs.isEmpty()) {
            throw new LinkException("no objects to load");
        }
        Scope.Bindings bound = scope.new Bindings();
        long sequence;
        synchronized (linker) {
            checkOpen();
            if (closing) {
                throw new IllegalStateException("linker is closing");
            }
            inFlight(1);
            sequence = loadsStarted++;
        }
        operationsHere.get()[0]++;
        LoadedSet set = null;
        boolean registered = false;
        // Confined (closing it stops no thread) unless the common pool's threads write a large set too.
        boolean parallel = SetLinker.worthParallel(inputs.stream().mapToLong(input -> input.bytes().length).sum());
        try (Arena writing = parallel ? Arena.ofShared() : Arena.ofConfined()) {
            LinkedSet linked = new SetLinker(linker.arch, linker.target, bound, writing, linker.relaxGot,
                    linker.executableStack, parallel).link(inputs);
            set = new LoadedSet(linker, scope, linked, List.copyOf(linker.plugins), bound.direct, bound.redirected, sequence);
            synchronized (linker) {
                checkOpen();
                scope.reserve(set, linked.exports(), redefining);
            }
            start(set);
            LoadStage.REGISTER.reached();
            synchronized (linker) {
                checkOpen();
                scope.register(set, linked.exports(), redefining);
                registered = true;
            }
            return set;
        } finally {
            operationsHere.get()[0]--;
            synchronized (linker) {
                bound.unpin();
                if (set != null && !registered) {
                    scope.unreserve(set);
                }
            }
            try {
                if (set != null && !registered) {
                    discard(set); // its plugins and destructors run: outside the lock
                }
            } finally {
                inFlight(-1);
            }
        }
    }

    /** Runs a lazy symbol's materializer and loads what it returns; the set must define the symbol. */
    LoadedSet materialize(Scope scope, String symbol, Supplier<List<ObjectFile>> materializer, SymbolBinding<LoadedSet> binding) {
        List<ObjectFile> objects;
        try {
            objects = materializer.get();
        } catch (RuntimeException e) {
            throw new LinkException(Location.NONE.symbol(symbol), "materializing failed: " + e, e);
        }
        if (objects == null || objects.isEmpty() || objects.stream().anyMatch(Objects::isNull)) {
            throw new LinkException(Location.NONE.symbol(symbol), "the materializer returned "
                    + (objects == null ? "null" : objects.isEmpty() ? "no objects" : "a null object") + " instead of objects defining it");
        }
        LoadedSet set = load(scope, objects, false);
        if (binding.definition().kind() == SymbolBinding.Kind.LAZY) {
            set.close();
            throw new LinkException(Location.file(set.name()).symbol(symbol), "the materializer's objects do not define it");
        }
        return set;
    }

    /** The last hold on the linker's memory went: stubs, plugins, upcalls of Java definitions, the memory manager. */
    private void releaseLinker() {
        linker.redirections.close();
        try {
            for (LinkPlugin plugin : linker.plugins) {
                if (plugin instanceof AutoCloseable closeable) { // e.g. a jitdump file: its closing record
                    try {
                        closeable.close();
                    } catch (Exception e) {
                        throw new LinkException(Location.NONE, "closing plugin " + plugin + " failed: " + e.getMessage(), e);
                    }
                }
            }
        } finally {
            if (linker.definitions.scope().isAlive()) {
                linker.definitions.close();
            }
            synchronized (linker) {
                linker.definedData.clear();
            }
            if (linker.ownsMemory) {
                linker.memory.close();
            }
            linker.target.close();
        }
    }

    /** {@link JitLinker#close()}. */
    void closeLinker() {
        if (operationsHere.get()[0] > 0) {
            throw new IllegalStateException("JitLinker.close() called from a constructor, destructor or plugin of a load"
                    + " or close in progress on this thread: it would wait for itself; close the linker after that returns");
        }
        List<LoadedSet> group;
        synchronized (linker) {
            if (closed) {
                return;
            }
            closing = true;
            try {
                while (inFlight > 0) {
                    linker.wait();
                }
                group = beginClosing(linker.openSets(), false, true, linker.javaDefinitions);
            } catch (InterruptedException e) {
                closing = false;
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for loads and closes in progress to end", e);
            } catch (RuntimeException e) {
                closing = false;
                throw e;
            }
            closed = true;
            inFlight(1);
        }
        try {
            release(group);
        } finally {
            memoryHolds.release();
        }
    }

    /** {@link LoadedSet#close()} and {@link LoadedSet#closeWithDependents()}: all of the sets or none. */
    void close(List<LoadedSet> sets, boolean withDependents) {
        List<LoadedSet> group;
        synchronized (linker) {
            group = beginClosing(sets, withDependents, false);
            if (group.isEmpty()) {
                return;
            }
            inFlight(1);
        }
        release(group);
    }

    /**
     * Ends the lifetimes of {@code sets} (and with {@code withDependents} of every open set that binds
     * to them) and of {@code also}, and unregisters the sets: all of them, or, when one cannot close,
     * none (and throws why). Returns the sets, latest first. Caller holds the lock. {@code wholeLinker}:
     * every open set closes, so none can depend on one that stays, and no name need be unbound one by one.
     */
    private List<LoadedSet> beginClosing(List<LoadedSet> sets, boolean withDependents, boolean wholeLinker,
                                         SetLifetime... also) {
        Set<LoadedSet> closingSets = new LinkedHashSet<>();
        for (LoadedSet set : sets) {
            if (!set.closing()) {
                closingSets.addAll(withDependents ? set.withDependents() : List.of(set));
            }
        }
        List<LoadedSet> group = closingSets.stream().sorted(Comparator.comparingLong(LoadedSet::sequence).reversed()).toList();
        for (LoadedSet set : group) {
            IllegalStateException refused = whyNotClosable(set, wholeLinker ? null : closingSets);
            if (refused != null) {
                throw refused;
            }
        }
        List<SetLifetime> lifetimes = new ArrayList<>(List.of(also));
        group.forEach(set -> lifetimes.add(set.lifetime()));
        List<SetLifetime> begun = new ArrayList<>();
        try {
            for (SetLifetime lifetime : lifetimes) {
                if (!lifetime.beginClose()) {
                    throw lifetime.busy(true);
                }
                begun.add(lifetime);
            }
            for (SetLifetime lifetime : lifetimes) {
                if (!lifetime.closeArena()) {
                    throw lifetime.busy(false);
                }
            }
        } catch (IllegalStateException e) {
            begun.forEach(SetLifetime::abortClose);
            throw e;
        }
        lifetimes.forEach(SetLifetime::commitClose);
        group.forEach(set -> set.unregister(wholeLinker));
        return group;
    }

    /** Destructors, plugins and memory of closed sets, latest first, outside the lock; every set, whatever fails. */
    private void release(List<LoadedSet> group) {
        operationsHere.get()[0]++;
        try {
            RuntimeException failure = null;
            for (LoadedSet set : group) {
                try {
                    release(set);
                } catch (RuntimeException e) {
                    if (failure == null) {
                        failure = e;
                    } else {
                        failure.addSuppressed(e);
                    }
                }
            }
            if (failure != null) {
                throw failure;
            }
        } finally {
            operationsHere.get()[0]--;
            inFlight(-1);
        }
    }

    /**
     * Makes a linked set live: plugins see its layout, its memory gets its final permissions,
     * plugins see it finalized (unwind tables are registered then), and, with the linker's
     * {@code runInitializers}, it is initialised as a loaded shared object would be. If any step
     * fails, everything done so far is undone and the set's memory unmapped before the exception
     * leaves.
     */
    private void start(LoadedSet set) {
        try {
            LoadStage.PLUGINS.reached();
            for (LinkPlugin plugin : set.plugins) {
                plugin.afterLayout(set.layout);
            }
            LoadStage.FINALIZE.reached();
            set.slab.finalizePermissions();
            if (linker.target.inThisProcess()) { // a child's faults are reported by the child
                set.faultReport = FaultReports.register(set.name, set.slab.address(PermissionGroup.TEXT),
                        set.slab.length(PermissionGroup.TEXT), set.layout.symbols());
            }
            for (LinkPlugin plugin : set.plugins) {
                plugin.afterFinalize(set);
                set.pluginsStarted++;
            }
            set.objects = List.of();
            if (linker.runInitializers) {
                initialize(set);
            }
        } catch (RuntimeException | Error e) {
            set.objects = List.of();
            try {
                discard(set);
            } catch (RuntimeException | Error releaseFailure) {
                e.addSuppressed(releaseFailure);
            }
            if (e instanceof LinkException || e instanceof Error) {
                throw e;
            }
            throw new LinkException(Location.file(set.name), "initialising the set failed: " + e, e);
        }
    }

    /**
     * Resolves the set's IFUNCs, registers its destructors to run at exit or when it closes, and
     * runs its constructors, recorded as a call into the set on this thread.
     */
    private void initialize(LoadedSet set) {
        set.initialized = true;
        if (set.layout.executableStack() != null) {
            linker.target.needExecutableStack("set " + set.name);
        }
        ThreadCalls.current().enter(set.lifetime, "constructors");
        try {
            for (Initializers.Ifunc ifunc : set.initializers.ifuncs()) {
                set.slab.segment(PermissionGroup.DATA).set(U64, ifunc.slotOffset(), linker.target.callResolver(ifunc.resolver()));
            }
            // Registered before the constructors run, so that the handlers they register (C++ static
            // destructors) run first, as exit() runs them before a module's fini array.
            for (long destructor : set.initializers.fini()) {
                linker.target.registerExitHandler(destructor, set.dsoHandle);
            }
            for (long constructor : set.initializers.init()) {
                LoadStage.CONSTRUCTOR.reached();
                linker.target.callVoid(constructor);
            }
        } finally {
            ThreadCalls.current().exit();
        }
    }

    /**
     * Why the set cannot close as part of {@code closing} (null: every open set closes), or null.
     * Caller holds the lock. Calls running in it and segments in use are checked for the group at once.
     */
    private static IllegalStateException whyNotClosable(LoadedSet set, Set<LoadedSet> closing) {
        if (set.state == LoadedSet.State.STARTING) {
            return new IllegalStateException("set " + set.name + " is still starting (its plugins, permissions or constructors);"
                    + " close it after its load has returned");
        }
        if (set.pins > 0) {
            return new IllegalStateException("set " + set.name + " is being bound to by a load in progress; close it when that load ends");
        }
        List<String> outside = closing == null ? List.of()
                : set.dependents().stream().filter(d -> !closing.contains(d)).map(LoadedSet::name).toList();
        if (!outside.isEmpty()) {
            return new IllegalStateException("set " + set.name + " is used by open set" + (outside.size() == 1 ? " " : "s ")
                    + String.join(", ", outside) + "; close them first, or use closeWithDependents()");
        }
        return null;
    }

    /**
     * Last step of closing, outside the lock: the set's own hold on its memory goes, at once or, for
     * a set a linker stub led to, when the last thread that may run its code is done with it. The
     * memory, with the destructors and plugins before it ({@link #finish}), goes with the last hold.
     */
    private static void release(LoadedSet set) {
        set.state = LoadedSet.State.CLOSED;
        if (set.lifetime.wasReachedThroughStub()) {
            Retirement.after(set.memory::release);
        } else {
            set.memory.release();
        }
    }

    /**
     * Runs a closed set's exit handlers and destructors, then tells the plugins, just before its
     * memory goes: on the closing thread when nothing else holds the set, else on the thread that
     * gives back the last hold, as glibc runs a module's destructors only when it really unloads it
     * (not while {@code thread_local} destructors of it are pending, so that those still find the
     * module's static objects alive).
     */
    static void finish(LoadedSet set) {
        try {
            if (set.initialized && set.dsoHandle != 0) {
                ThreadCalls.current().enter(set.lifetime, "destructors");
                try {
                    set.owner.target.runExitHandlers(set.dsoHandle); // atexit handlers, C++ static destructors, fini array
                } finally {
                    ThreadCalls.current().exit();
                }
            }
        } finally {
            while (set.pluginsStarted > 0) {
                set.plugins.get(--set.pluginsStarted).beforeClose(set);
            }
        }
    }

    /** Undoes a set that failed to start, whatever stage it reached; it was never registered. */
    private static void discard(LoadedSet set) {
        if (set.state != LoadedSet.State.STARTING) {
            return;
        }
        set.lifetime.close();
        set.state = LoadedSet.State.CLOSING;
        release(set);
    }
}
