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
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
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
    /** Guarded by the linker's lock, like every field here. */
    private final Map<String, SymbolBinding<LoadedSet>> bindings = new HashMap<>();
    /** Sets being loaded, by their exports: names are looked up in each (few run at once), not copied. */
    private final Map<LoadedSet, LinkedSet.Exports> reserved = new java.util.LinkedHashMap<>();
    private final List<Scope> linked = new ArrayList<>();
    private final Set<LoadedSet> sets = new LinkedHashSet<>();

    Scope(JitLinker linker, String name) {
        this.linker = linker;
        this.name = name;
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
            checkUndefined(name);
            bindings.put(name, SymbolBinding.java(name, linker.target.upcall(target, descriptor, linker.definitions), true,
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
            checkUndefined(name);
            linker.definedData.add(segment);
            bindings.put(name, SymbolBinding.java(name, segment.address(), false, linker.javaDefinitions));
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
            checkUndefined(name);
            SymbolBinding<LoadedSet>[] self = new SymbolBinding[1];
            self[0] = SymbolBinding.lazy(name, () -> linker.lifecycle.materialize(this, name, materializer, self[0]));
            bindings.put(name, self[0]);
            linker.redirections.redirect(self[0]);
        }
    }

    private void checkUndefined(String symbol) {
        SymbolBinding<LoadedSet> binding = bindings.get(symbol);
        if ((binding != null && binding.definition().kind() != SymbolBinding.Kind.UNDEFINED) || reservedBy(symbol) != null) {
            throw new IllegalArgumentException("symbol " + symbol + " is already defined in scope " + name);
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
        SymbolBinding<LoadedSet> binding = bindings.get(symbol);
        return binding == null || binding.definition().kind() == SymbolBinding.Kind.UNDEFINED ? null : binding;
    }

    private static String describe(SymbolBinding.Definition<LoadedSet> definition) {
        return definition.set() != null ? definition.set().name()
                : definition.kind() == SymbolBinding.Kind.JAVA ? "a definition from Java" : "nothing";
    }

    /** Open sets of this scope, in load order. */
    Set<LoadedSet> sets() {
        return sets;
    }

    /**
     * Before a linked set runs anything: refuses duplicate strong definitions, redefinitions of
     * data, and a redefinition that redefines nothing, and reserves its names against concurrent
     * loads. Caller holds the linker's lock.
     */
    void reserve(LoadedSet set, LinkedSet.Exports exports, boolean redefining) {
        if (redefining && exports.names().stream().noneMatch(bindings::containsKey)) {
            throw new LinkException(Location.file(set.name()), "nothing to redefine: none of its symbols ("
                    + String.join(", ", exports.names().stream().sorted().limit(5).toList())
                    + ") was ever defined in scope " + name + "; load it instead");
        }
        for (Map.Entry<String, LinkedSet.Export> export : exports.byName().entrySet()) {
            String symbol = export.getKey();
            boolean weak = export.getValue().weak();
            LoadedSet pending = reservedBy(symbol);
            if (pending != null && !weak) {
                throw new DuplicateSymbolException(symbol, pending.name() + " (being loaded)", set.name());
            }
            SymbolBinding<LoadedSet> binding = definedHere(symbol);
            if (binding != null && binding.definition().kind() != SymbolBinding.Kind.LAZY) {
                SymbolBinding.Definition<LoadedSet> current = binding.definition();
                if (redefining) {
                    if (current.kind() == SymbolBinding.Kind.JAVA) {
                        throw new LinkException(Location.file(set.name()), "cannot redefine " + symbol + ": it is defined from Java");
                    }
                    if (!binding.function() || !exports.isFunction(symbol)) {
                        throw new LinkException(Location.file(set.name()), "cannot redefine " + symbol
                                + ": data symbols are not redefinable (defined by " + current.set().name() + ")");
                    }
                } else if (!weak && !binding.weak()) {
                    throw new DuplicateSymbolException(symbol, describe(current), set.name());
                }
            }
        }
        reserved.put(set, exports);
    }

    /** The set being loaded that reserved {@code symbol} with a strong definition, or null. */
    private LoadedSet reservedBy(String symbol) {
        for (Map.Entry<LoadedSet, LinkedSet.Exports> pending : reserved.entrySet()) {
            if (pending.getValue().get(symbol) instanceof LinkedSet.Export export && !export.weak()) {
                return pending.getKey();
            }
        }
        return null;
    }

    /** Releases what {@link #reserve} took for {@code set}. Caller holds the linker's lock. */
    void unreserve(LoadedSet set) {
        reserved.remove(set);
    }

    /**
     * Makes a started set's definitions the scope's: new names, lazy and undefined ones, and with
     * {@code redefining} the functions it replaces, whose stubs are re-pointed. Caller holds the lock.
     */
    void register(LoadedSet set, LinkedSet.Exports exports, boolean redefining) {
        for (Map.Entry<String, LinkedSet.Export> export : exports.byName().entrySet()) {
            String symbol = export.getKey();
            boolean function = export.getValue().kind() == LinkedSet.ExportKind.FUNCTION;
            boolean weak = export.getValue().weak();
            SymbolBinding<LoadedSet> binding = bindings.get(symbol);
            if (binding == null) {
                bindings.put(symbol, SymbolBinding.ofSet(symbol, set, set.lifetime(), export.getValue().address(), function, weak));
                continue;
            }
            SymbolBinding.Kind kind = binding.definition().kind();
            if (kind == SymbolBinding.Kind.LAZY || kind == SymbolBinding.Kind.UNDEFINED || (redefining && kind == SymbolBinding.Kind.SET)) {
                binding.define(set, set.lifetime(), export.getValue().address(), function, weak);
                linker.redirections.retarget(binding);
            }
        }
        unreserve(set);
        sets.add(set);
        set.recordBindings();
        set.opened();
    }

    /** The scope's own binding of {@code symbol}, defined or not. Caller holds the linker's lock. */
    SymbolBinding<LoadedSet> binding(String symbol) {
        return bindings.get(symbol);
    }

    /**
     * After {@code set} closed: names it defined become lazy again (when they were lazy) or
     * undefined; their stubs return 0 until defined again. Caller holds the linker's lock.
     */
    void unregister(LoadedSet set) {
        sets.remove(set);
        for (String symbol : set.exports().names()) {
            SymbolBinding<LoadedSet> binding = bindings.get(symbol);
            if (binding == null || binding.definition().set() != set) {
                continue;
            }
            binding.undefine();
            linker.redirections.retarget(binding);
            if (!linker.redirections.isRedirected(binding) && binding.definition().kind() == SymbolBinding.Kind.UNDEFINED) {
                bindings.remove(symbol);
            }
        }
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
