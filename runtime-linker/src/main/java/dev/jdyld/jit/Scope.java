package dev.jdyld.jit;

import dev.jdyld.core.DuplicateSymbolException;
import dev.jdyld.core.LinkException;
import dev.jdyld.core.Location;
import dev.jdyld.core.ObjectFile;
import dev.jdyld.link.EarlierSets;
import dev.jdyld.link.LinkedSet;
import dev.jdyld.link.binding.SymbolBinding;
import dev.jdyld.runtime.ffi.Native;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;
import java.util.function.Supplier;

/**
 * A namespace of definitions, as ORC's JITDylib: the sets loaded into it, and the functions, data
 * and lazy symbols defined in it from Java. A set loaded into a scope binds each symbol it does not
 * define to the first definition found in: this scope, the scopes {@linkplain #link linked} to it
 * (in the order linked), then the host process. A name has one definition per scope: a second
 * strong definition is refused with a {@link DuplicateSymbolException} unless it comes through
 * {@link #redefine}.
 *
 * <p>Calls from a set to a function of another set go through a redirectable stub of the linker
 * (unless the linker was built with {@link JitLinkerBuilder#directCalls directCalls}), so
 * {@link #redefine} re-points every caller with one store, and a lazy symbol can be called before
 * it exists. {@link JitLinker}'s own {@code load}, {@code define*}, {@code function} and
 * {@code redefine} act on its main scope.
 */
public final class Scope {
    private final JitLinker linker;
    private final String name;
    /** Its names and their bindings; guarded by the linker's lock, like every field here. */
    private final ScopeNames names;
    private final List<Scope> linked = new ArrayList<>();
    private final Set<LoadedSet> sets = new LinkedHashSet<>();

    Scope(JitLinker linker, String name) {
        this.linker = linker;
        this.name = name;
        this.names = new ScopeNames(name, linker.redirections);
    }

    /**
     * The scope's name.
     *
     * @return the name it was made with
     */
    public String name() {
        return name;
    }

    /**
     * Appends {@code other} to this scope's search order: sets loaded here afterwards bind to its
     * definitions when this scope has none. A scope's own definitions always come first.
     *
     * @param other a scope of the same linker
     * @return this scope
     */
    public Scope link(Scope other) {
        Objects.requireNonNull(other, "other");
        if (other.linker != linker) {
            throw new IllegalArgumentException("scope " + other.name + " belongs to another linker");
        }
        synchronized (linker) {
            if (other != this && !linked.contains(other)) {
                linked.add(other);
            }
        }
        return this;
    }

    /**
     * Defines a C function {@code name} in this scope that calls {@code target} through an FFM
     * upcall stub, which lives until the linker is closed. An exception thrown by {@code target}
     * is handled as FFM handles one leaving an upcall: reported, and the JVM ends.
     *
     * @throws IllegalArgumentException if {@code name} is defined in this scope already
     * @param name       the C name
     * @param target     the Java code to call
     * @param descriptor the C signature
     */
    public void defineFunction(String name, MethodHandle target, FunctionDescriptor descriptor) {
        synchronized (linker) {
            linker.checkOpen();
            names.checkUndefined(name);
            names.put(name, SymbolBinding.java(name, linker.target.upcall(target, descriptor, linker.definitions), true,
                    linker.javaDefinitions));
        }
    }

    /**
     * Defines a data symbol {@code name} at {@code segment}'s address (an absolute symbol). The
     * linker keeps the segment reachable; it must stay valid while sets that use it are open.
     *
     * @throws IllegalArgumentException if {@code name} is defined in this scope already, or the segment is on the heap
     * @param name    the C name
     * @param segment native memory the symbol's address is
     */
    public void defineData(String name, MemorySegment segment) {
        if (!segment.isNative()) {
            throw new IllegalArgumentException("defineData(" + name + "): a heap segment has no stable address");
        }
        linker.checkInThisProcess("defineData(" + name + ")");
        synchronized (linker) {
            linker.checkOpen();
            names.checkUndefined(name);
            linker.definedData.add(segment);
            names.put(name, SymbolBinding.java(name, segment.address(), false, linker.javaDefinitions));
        }
    }

    /**
     * Defines function {@code name} as lazy: callable at once (from Java through {@link #function},
     * from loaded code through a stub), the first call on any thread runs {@code materializer} and
     * loads the objects it returns into this scope, exactly once (concurrent first calls wait), then
     * continues into the function; later calls go straight to the code. When the materializer
     * throws, returns null or nothing, or the load fails or does not define {@code name}, that call
     * fails and the next call tries again: a call from Java through any handle throws the
     * {@link LinkException} (when it returns, if loaded code made the failing call); loaded code's
     * call gets 0, and with no Java call on the thread the failure goes to
     * {@link JitLinkerBuilder#onLazyFailure}.
     *
     * @throws IllegalArgumentException if {@code name} is defined in this scope already
     * @param name         the function's C name
     * @param materializer returns the objects that define it; called at most once per successful load
     */
    public void defineLazy(String name, Supplier<List<ObjectFile>> materializer) {
        Objects.requireNonNull(materializer, "materializer");
        synchronized (linker) {
            linker.checkOpen();
            names.checkUndefined(name);
            SymbolBinding<LoadedSet>[] self = new SymbolBinding[1];
            self[0] = SymbolBinding.lazy(name, () -> linker.lifecycle.materialize(this, name, materializer, self[0]));
            names.put(name, self[0]);
            linker.redirections.redirect(self[0]);
        }
    }

    /**
     * Loads files (objects and static archives) as one set into this scope.
     *
     * @param files objects and static archives
     * @return the loaded set
     */
    public LoadedSet load(Path... files) {
        List<ObjectFile> inputs = new ArrayList<>(files.length);
        for (Path file : files) {
            inputs.add(ObjectFile.read(file));
        }
        return loadObjects(inputs);
    }

    /**
     * Loads in-memory objects and archives as one set into this scope; see {@link JitLinker#loadObjects}.
     *
     * @param inputs objects and static archives, in memory
     * @return the loaded set
     */
    public LoadedSet loadObjects(List<ObjectFile> inputs) {
        return linker.lifecycle.load(this, inputs, false);
    }

    /**
     * Loads objects as a new set whose function definitions replace those of earlier sets of this
     * scope: every caller bound through a redirectable stub (calls from other sets, handles from
     * {@link #function}) reaches the new code from its next call; handles from
     * {@link LoadedSet#function} of the earlier set keep calling the earlier code while it is open.
     * The earlier sets stay open until closed.
     *
     * @throws LinkException if the objects redefine a data symbol or a symbol defined from Java
     * @throws IllegalStateException if the linker was built with {@code directCalls(true)}
     * @param inputs objects and static archives, in memory
     * @return the new set
     */
    public LoadedSet redefine(List<ObjectFile> inputs) {
        return linker.lifecycle.load(this, inputs, true);
    }

    /**
     * A downcall handle for function {@code symbol} of this scope (or of a linked scope) that
     * follows its definition: each call goes to the current definition (after a {@link #redefine},
     * the new one), materializes a lazy symbol first, and keeps the defining set open for the
     * duration of the call. A call throws {@link IllegalStateException} when the symbol is no
     * longer defined (its set was closed) or the linker is closed.
     *
     * @throws NoSuchElementException if no definition of {@code symbol} is visible from this scope
     * @throws LinkException naming the symbol if it is not a function (data of a set, or defined from Java with {@code defineData})
     * @param symbol     the function's name
     * @param descriptor its C signature
     * @param options    FFM linker options, as for {@link Linker#downcallHandle}
     * @return a handle that follows the definition
     */
    public MethodHandle function(String symbol, FunctionDescriptor descriptor, Linker.Option... options) {
        SymbolBinding<LoadedSet> binding;
        synchronized (linker) {
            linker.checkOpen();
            binding = find(symbol);
        }
        if (binding == null) {
            throw new NoSuchElementException("symbol " + symbol + " is not defined in scope " + name);
        }
        if (!binding.function()) {
            throw new LinkException(Location.NONE.symbol(symbol), "is a data symbol, not a function; a downcall to it"
                    + " would jump into data");
        }
        return linker.redirections.handleFollowing(binding, descriptor, options);
    }

    /**
     * The current address of {@code symbol} as visible from this scope (a lazy symbol: its stub).
     *
     * @param symbol the name
     * @return its address, or empty when nothing visible defines it
     */
    public OptionalLong lookup(String symbol) {
        synchronized (linker) {
            SymbolBinding<LoadedSet> binding = find(symbol);
            if (binding == null) {
                return OptionalLong.empty();
            }
            SymbolBinding.Definition<LoadedSet> definition = binding.definition();
            return OptionalLong.of(definition.kind() == SymbolBinding.Kind.LAZY
                    ? linker.redirections.stubAddress(binding) : definition.address());
        }
    }

    /** The first binding with a definition in the search order; caller holds the linker's lock. */
    SymbolBinding<LoadedSet> find(String symbol) {
        SymbolBinding<LoadedSet> binding = definedHere(symbol);
        if (binding != null) {
            return binding;
        }
        for (Scope scope : linked) {
            binding = scope.definedHere(symbol);
            if (binding != null) {
                return binding;
            }
        }
        return null;
    }

    private SymbolBinding<LoadedSet> definedHere(String symbol) {
        return names.definedHere(symbol);
    }

    /** Open sets of this scope, in load order. */
    Set<LoadedSet> sets() {
        return sets;
    }

    /** See {@link ScopeNames#reserve}. Caller holds the linker's lock. */
    void reserve(LoadedSet set, LinkedSet.Exports exports, boolean redefining) {
        names.reserve(set, exports, redefining);
    }

    /** Releases what {@link #reserve} took for {@code set}. Caller holds the linker's lock. */
    void unreserve(LoadedSet set) {
        names.unreserve(set);
    }

    /**
     * Makes a started set's definitions the scope's ({@link ScopeNames#register}) and the set one
     * of its open sets. Caller holds the lock.
     */
    void register(LoadedSet set, LinkedSet.Exports exports, boolean redefining) {
        names.register(set, exports, redefining);
        sets.add(set);
        set.recordBindings();
        set.opened();
    }

    /** Open sets that call a name {@code set} defines through its stub. Caller holds the linker's lock. */
    Set<LoadedSet> callersThroughStubs(LoadedSet set) {
        return names.callersThroughStubs(set);
    }

    /** After {@code set} closed: see {@link ScopeNames#unregister}. Caller holds the linker's lock. */
    void unregister(LoadedSet set, boolean wholeLinker) {
        sets.remove(set);
        names.unregister(set, wholeLinker);
    }

    /** Whether an open set of this scope or of a scope it links kept the COMDAT group. Caller holds the lock. */
    boolean keepsGroup(String signature) {
        for (Scope scope : searchOrder()) {
            for (LoadedSet set : scope.sets) {
                if (set.comdatGroups().contains(signature)) {
                    return true;
                }
            }
        }
        return false;
    }

    private List<Scope> searchOrder() {
        return java.util.stream.Stream.concat(java.util.stream.Stream.of(this), linked.stream()).toList();
    }

    /**
     * What a set being linked into this scope binds to, recorded as it happens: the sets it binds to
     * directly, the bindings it calls through stubs, and the sets pinned open until the load ends.
     */
    final class Bindings implements EarlierSets {
        final Set<LoadedSet> direct = new HashSet<>();
        final Set<SymbolBinding<LoadedSet>> redirected = new HashSet<>();
        private final Set<LoadedSet> pinned = new HashSet<>();

        @Override
        public long find(String symbol) {
            synchronized (linker) {
                linker.checkOpen();
                SymbolBinding<LoadedSet> binding = Scope.this.find(symbol);
                if (binding == null) {
                    return 0;
                }
                SymbolBinding.Definition<LoadedSet> definition = binding.definition();
                if (definition.set() != null && pinned.add(definition.set())) {
                    definition.set().pin();
                }
                if (binding.function() && (definition.kind() == SymbolBinding.Kind.LAZY || !linker.directCalls)
                        && definition.kind() != SymbolBinding.Kind.JAVA) {
                    redirected.add(binding);
                    return linker.redirections.stubAddress(binding);
                }
                if (definition.set() != null) {
                    direct.add(definition.set());
                }
                return definition.address();
            }
        }

        @Override
        public boolean keepsGroup(String signature) {
            synchronized (linker) {
                return Scope.this.keepsGroup(signature);
            }
        }

        /** Lets the sets this load bound to close again. Caller holds the linker's lock. */
        void unpin() {
            for (LoadedSet set : pinned) {
                set.unpin();
            }
            pinned.clear();
        }
    }

    @Override
    public String toString() {
        return "Scope[" + name + "]";
    }
}
