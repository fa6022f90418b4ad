package dev.jdyld.jit;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.Location;
import dev.jdyld.core.ObjectFile;
import dev.jdyld.core.SetLayout;
import dev.jdyld.link.LinkedSet;
import dev.jdyld.link.LinkedSet.ExportKind;
import dev.jdyld.link.binding.SymbolBinding;
import dev.jdyld.memory.PermissionGroup;
import dev.jdyld.memory.Slab;
import dev.jdyld.runtime.Initializers;
import dev.jdyld.runtime.lifetime.GuardedCalls;
import dev.jdyld.runtime.lifetime.MemoryHolds;
import dev.jdyld.runtime.lifetime.SetLifetime;
import dev.jdyld.runtime.lifetime.ThreadCalls;
import dev.jdyld.runtime.lifetime.ThreadExitDestructors;
import dev.jdyld.runtime.support.FaultReports;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.OptionalLong;
import java.util.Set;

/**
 * Objects loaded, linked and made executable together. Its exported symbols (global,
 * non-hidden definitions) can be looked up and called; closing it runs its destructors and gives
 * its memory back.
 *
 * <p><b>Lifetimes.</b> Handles from {@link #function} and segments from {@link #data} are bound
 * to the set: used after {@link #close()} they throw {@link IllegalStateException} naming it. A call
 * through a handle (of the set, or one that follows a name into it) holds the set while it runs:
 * closing it meanwhile is refused with an {@link IllegalStateException} that names the running calls
 * and their threads, whichever thread closes. A set that later sets bound to (calls, GOT slots,
 * data references) cannot be closed while they are open; {@link #closeWithDependents()} closes
 * them first. A set that is still starting (plugins, constructors) cannot be closed.
 *
 * <p>Closing is immediate; its destructors and memory may outlive it: thread-local destructors its
 * code registered on threads still running keep it until they have run, and a set that a linker
 * stub led to (a function of it was redefined, or called from another set) is retired until every
 * call entered through jdyld that was running when it closed has returned, as C code may still be
 * in it. Its static destructors, exit handlers and plugins' {@link LinkPlugin#beforeClose} then run
 * on the thread that gives back the last hold, and the memory goes; meanwhile it holds the memory
 * of the sets it bound to by address.
 */
public final class LoadedSet implements AutoCloseable {
    /** Where a set is in its life; changed under the owner's lock. */
    enum State { STARTING, OPEN, CLOSING, CLOSED }

    final JitLinker owner;
    final Slab slab;
    final dev.jdyld.executor.ThreadLocalBlock tls;
    final long dsoHandle;
    final Initializers.Calls initializers;
    private final Set<String> comdatGroups;
    private final LinkedSet.Exports exports;
    final SetLayout layout;
    final List<LinkPlugin> plugins;
    final String name;
    private final Scope scope;
    /** Sets it bound to by address, and names it calls through redirectable stubs. */
    private final Set<LoadedSet> boundSets;
    private final Set<SymbolBinding<LoadedSet>> boundStubs;
    /** Open sets bound to this one by address; guarded by the owner's lock. */
    private final Set<LoadedSet> boundBy = new LinkedHashSet<>();
    /**
     * The memory of the sets it bound to by address, held from its close until its own memory goes:
     * its destructors, deferred or retired, may still call them.
     */
    private final List<MemoryHolds> heldSets = new ArrayList<>();
    /** The inputs as read, while the set starts (for plugins); then dropped, not to keep their bytes. */
    volatile List<ObjectFile> objects;
    /** Load order, for closing dependents latest first. */
    private final long sequence;
    /** Held by every call into the set, and the scope of segments from {@link #data}. */
    final SetLifetime lifetime;
    /** Why the memory is still mapped: the set while open, pending thread-local destructors, a retirement. */
    final MemoryHolds memory;
    /** Loads in progress that bound to this set; guarded by the owner's lock. */
    int pins;
    /** How many plugins saw afterFinalize: those get beforeClose. */
    int pluginsStarted;
    /** The set's code as fault reports know it, from when its permissions are final; 0 before. */
    long faultReport;
    boolean initialized;
    volatile State state = State.STARTING;

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
        this.exports = linked.exports();
        this.layout = linked.layout();
        this.plugins = plugins;
        this.name = linked.name();
        this.objects = linked.objects();
        this.lifetime = new SetLifetime("set " + name, layout.executableStack() != null);
        this.memory = owner.lifecycle.holdMemory(this::unmap);
        ThreadExitDestructors.register(dsoHandle, memory, lifetime);
    }

    /** Registered in its scope: from now on it can be looked up, called and closed. Under the owner's lock. */
    void opened() {
        state = State.OPEN;
    }

    /**
     * The address of an exported symbol, if the set defines it.
     *
     * @param symbol the symbol's name
     * @return its address, or empty when the set does not export it
     * @throws IllegalStateException naming the set if it is closed
     */
    public OptionalLong find(String symbol) {
        checkOpen();
        LinkedSet.Export export = exports.get(symbol);
        return export == null ? OptionalLong.empty() : OptionalLong.of(export.address());
    }

    /**
     * The address of an exported symbol; throws {@link NoSuchElementException} naming it when absent.
     *
     * @param symbol the symbol's name
     * @return its address
     * @throws IllegalStateException naming the set if it is closed
     */
    public long address(String symbol) {
        return find(symbol).orElseThrow(() -> new NoSuchElementException("symbol " + symbol + " is not defined by set " + name));
    }

    /**
     * An exported data symbol as a segment of exactly its {@code st_size} bytes, valid while the
     * set is open: accessed after {@link #close()} it throws {@link IllegalStateException}. A symbol
     * in memory that is read-only once the set is finalized ({@code const} data, RELRO) is a
     * {@linkplain MemorySegment#isReadOnly() read-only} segment, so a write is an exception, not a
     * fault. While the segment is passed to a running native call, the set cannot be closed.
     *
     * @param symbol the symbol's name
     * @return a segment of its {@code st_size} bytes, bound to the set's lifetime
     * @throws LinkException naming the symbol if it is a function, a thread-local or an absolute symbol
     * @throws IllegalStateException naming the set if it is closed
     */
    @SuppressWarnings("restricted")
    public MemorySegment data(String symbol) {
        long address = address(symbol);
        ExportKind kind = exports.get(symbol).kind();
        switch (kind) {
            case DATA, READ_ONLY_DATA -> { }
            case FUNCTION, CODE_LABEL -> throw new LinkException(Location.file(name).symbol(symbol),
                    "is a function, not data: call it through function(), its code is not writable");
            case THREAD_LOCAL -> throw new LinkException(Location.file(name).symbol(symbol),
                    "is a thread-local variable: each thread has its own, at no one address");
            case ABSOLUTE -> throw new LinkException(Location.file(name).symbol(symbol),
                    "is an absolute symbol: a value (0x" + Long.toHexString(address) + "), not memory of the set");
        }
        long size = exports.get(symbol).size();
        MemorySegment segment = MemorySegment.ofAddress(jvmAddress(address, size)).reinterpret(size, lifetime.arena(), null);
        return kind == ExportKind.READ_ONLY_DATA ? segment.asReadOnly() : segment;
    }

    /**
     * A downcall handle for an exported function with the given C signature, bound to the set: a
     * call holds the set open while it runs, and after {@link #close()} a call throws
     * {@link IllegalStateException} instead of jumping into unmapped (or reused) memory.
     *
     * @param symbol     the function's name
     * @param descriptor its C signature
     * @param options    FFM linker options, as for {@link Linker#downcallHandle}
     * @return a handle that throws {@link IllegalStateException} once the set is closed
     * @throws LinkException naming the symbol if it is not a function ({@code STT_FUNC}, an IFUNC, or
     *                       an untyped label in code)
     * @throws IllegalStateException naming the set if it is closed
     */
    @SuppressWarnings("restricted")
    public MethodHandle function(String symbol, FunctionDescriptor descriptor, Linker.Option... options) {
        long address = address(symbol);
        ExportKind kind = exports.get(symbol).kind();
        if (!kind.callable()) {
            throw new LinkException(Location.file(name).symbol(symbol), "is not a function but " + kind.description()
                    + "; a downcall to it would jump into data");
        }
        if (!owner.target.inThisProcess()) {
            return owner.target.functionHandle(address, descriptor);
        }
        return GuardedCalls.handle(GuardedCalls.FixedTarget.ENTRY,
                new GuardedCalls.FixedTarget(lifetime, symbol, address), descriptor, options);
    }

    /**
     * Runs the C program's entry point as the C runtime would: {@code entry(argc, argv, envp)} with
     * the process's own environment, on a thread of its own (8 MiB of stack, as a main thread has)
     * that the caller waits for, holding the set as a call through a handle does. When it returns,
     * that thread's C++ {@code thread_local} destructors run, then {@code fflush(NULL)}, as
     * {@code exit} does first. In a child-process executor: on its main thread; {@code exit} ends it.
     * @param entry the entry point, usually {@code main}
     * @param argv  the arguments, {@code argv[0]} included
     * @return what the entry point returned
     * @throws LinkException if the set does not define {@code entry}
     */
    public int runMain(String entry, List<String> argv) {
        if (!exports.names().contains(entry)) {
            throw new LinkException(Location.NONE.symbol(entry), "entry point is not defined by the loaded objects");
        }
        // The run thread enters the set as a handle's call would; no handle is made, since a guarded
        // one costs a cold start ~10 ms of method handle set-up.
        long main = address(entry);
        return owner.target.runMain(main, argv, entry, () -> lifetime.enter(ThreadCalls.current(), entry, main),
                () -> ThreadCalls.current().exit());
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
        return "LoadedSet[" + name + (isClosed() ? ", closed]" : "]");
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
            binding.addCaller(this);
        }
    }

    private void forgetBindings() {
        for (LoadedSet set : boundSets) {
            set.boundBy.remove(this);
        }
        for (SymbolBinding<LoadedSet> binding : boundStubs) {
            binding.removeCaller(this);
        }
    }

    Scope scope() {
        return scope;
    }

    long sequence() {
        return sequence;
    }

    SetLifetime lifetime() {
        return lifetime;
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
        return exports.names();
    }

    /** Signatures of the COMDAT groups this set kept. */
    Set<String> comdatGroups() {
        return comdatGroups;
    }

    LinkedSet.Exports exports() {
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
        return tls instanceof dev.jdyld.runtime.ThreadLocalStorage own ? own.liveBlocks() : 0;
    }

    /**
     * Whether the set was closed (it cannot be called or looked up any more; its memory may stay
     * mapped a while, see the class comment).
     *
     * @return true once {@link #close()} began
     */
    public boolean isClosed() {
        State now = state;
        return now == State.CLOSING || now == State.CLOSED;
    }

    /**
     * Unregisters the set's symbols, then runs its destructors, tells the plugins and gives its memory
     * back, at once or when nothing holds it any more (see the class comment). Idempotent. No lock is
     * held while its destructors and plugins run.
     *
     * @throws IllegalStateException naming the set and the reason when a call runs in it (naming
     *         the calls and their threads), a segment of its data is in use by a running native
     *         call, an open set binds to it (naming them), a load binding to it is in progress, or
     *         it is still starting; nothing is closed then
     */
    @Override
    public void close() {
        owner.lifecycle.close(List.of(this), false);
    }

    /**
     * Closes the open sets that bind to this one (transitively), latest first, then this set: all of
     * them, or, when one of them cannot be closed, none.
     *
     * @throws IllegalStateException as {@link #close()}, for any of the sets; nothing is closed then
     */
    public void closeWithDependents() {
        owner.lifecycle.close(List.of(this), true);
    }

    /** The set and every open set that binds to it, transitively. Caller holds the lock. */
    Set<LoadedSet> withDependents() {
        Set<LoadedSet> closure = new LinkedHashSet<>();
        List<LoadedSet> work = new ArrayList<>(List.of(this));
        while (!work.isEmpty()) {
            LoadedSet set = work.removeLast();
            if (closure.add(set)) {
                work.addAll(set.dependents());
            }
        }
        return closure;
    }

    /** Open sets bound to this one, by address or through a stub that now leads into it; in load order. Under the lock. */
    List<LoadedSet> dependents() {
        Set<LoadedSet> dependents = new LinkedHashSet<>(boundBy);
        dependents.addAll(scope.callersThroughStubs(this));
        dependents.remove(this);
        List<LoadedSet> ordered = new ArrayList<>(dependents);
        ordered.sort(Comparator.comparingLong(LoadedSet::sequence));
        return ordered;
    }

    /** Whether close has begun; a set being closed or closed is skipped by later closes. */
    boolean closing() {
        return state == State.CLOSING || state == State.CLOSED;
    }

    /** Second step of closing, after its lifetime ended: unregistered, nothing reaches it by name. Under the lock. */
    void unregister(boolean wholeLinker) {
        for (LoadedSet set : boundSets) {
            if (set.memory.hold()) {
                heldSets.add(set.memory);
            }
        }
        forgetBindings();
        scope.unregister(this, wholeLinker);
        state = State.CLOSING;
    }

    /**
     * The memory goes back, destructors and plugins first: once, when the last hold on it is given
     * back, then the holds it kept on the sets it bound to.
     */
    private void unmap() {
        try {
            try {
                Lifecycle.finish(this);
            } finally {
                FaultReports.unregister(faultReport);
                ThreadExitDestructors.unregister(dsoHandle);
                if (tls != null) {
                    tls.close();
                }
                slab.close();
            }
        } finally {
            heldSets.forEach(MemoryHolds::release);
            owner.lifecycle.releaseMemory();
        }
    }

    /**
     * A read-only view of the set's own memory (code or data), while the set is open: for
     * disassemblers, and for a set in a child-process executor, whose addresses are not the JVM's.
     *
     * @param address the first address, as the set sees it
     * @param length  how many bytes
     * @return a read-only segment of those bytes, bound to the set's lifetime ({@link LinkException} if not all the set's)
     */
    @SuppressWarnings("restricted")
    public MemorySegment memory(long address, long length) {
        checkOpen();
        return MemorySegment.ofAddress(jvmAddress(address, length)).reinterpret(length, lifetime.arena(), null).asReadOnly();
    }

    private long jvmAddress(long address, long length) {
        return owner.target.inThisProcess() ? SetAddresses.check(slab, name, address, length)
                : SetAddresses.inJvmView(slab, name, address, length);
    }

    private void checkOpen() {
        if (isClosed()) {
            throw new IllegalStateException("set " + name + " is closed");
        }
    }
}
