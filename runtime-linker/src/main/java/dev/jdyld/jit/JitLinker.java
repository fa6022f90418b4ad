package dev.jdyld.jit;

import dev.jdyld.link.HostArchitecture;
import dev.jdyld.link.LinkedSet;
import dev.jdyld.link.SetLinker;
import dev.jdyld.link.SymbolBinding;
import dev.jdyld.link.arch.Architecture;
import dev.jdyld.memory.MemoryManager;
import dev.jdyld.runtime.HostSymbols;
import dev.jdyld.runtime.Indirections;
import dev.jdyld.runtime.Native;
import dev.jdyld.runtime.UnwindRegistration;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.function.Supplier;

/**
 * Loads sets of relocatable ELF objects into memory and links them against each other, against
 * definitions made from Java, and against the host process.
 *
 * <pre>{@code
 * try (JitLinker linker = JitLinker.builder().hostLibrary("libm.so.6").build();
 *      LoadedSet set = linker.load(Path.of("add.o"))) {
 *     MethodHandle add = set.function("add", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
 *     int three = (int) add.invokeExact(1, 2);
 * }
 * }</pre>
 *
 * <p>Definitions live in {@link Scope scopes}; the linker's own {@code load}, {@code define*},
 * {@code function}, {@code lookup} and {@code redefine} act on its {@linkplain #mainScope() main
 * scope}. A load is atomic: when it throws, no mapping, symbol or registration of it remains, and
 * the set is not visible to other loads. Loads of independent sets run in parallel: only looking up
 * symbols and registering the finished set take the linker's lock.
 */
public final class JitLinker implements AutoCloseable {
    private static final MethodHandle CALL_TARGET;

    static {
        try {
            CALL_TARGET = MethodHandles.lookup().findVirtual(JitLinker.class, "callTarget",
                    MethodType.methodType(MemorySegment.class, SymbolBinding.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final MemoryManager memory;
    private final boolean ownsMemory;
    private final boolean runInitializers;
    private final boolean directCalls;
    private final Architecture arch = HostArchitecture.get();
    private final HostSymbols host = new HostSymbols(arch.multiarchTriple());
    private final List<LinkPlugin> plugins = new ArrayList<>();
    /** Everything below is guarded by this linker's lock. */
    private final Map<String, Scope> scopes = new LinkedHashMap<>();
    private final Scope main;
    /** Upcall stubs of Java-defined functions live in it until the linker is closed. */
    private final Arena definitions = Arena.ofShared();
    /** Data segments defined from Java, kept reachable for as long as loaded code may use them. */
    private final List<MemorySegment> definedData = new ArrayList<>();
    /** Redirectable stubs, made on first use; the binding of each, by index. */
    private Indirections indirections;
    private final List<SymbolBinding<LoadedSet>> redirected = new ArrayList<>();
    private long loadsStarted;
    private int loadsInFlight;
    private boolean closed;

    private JitLinker(Builder builder) {
        this.ownsMemory = builder.memory == null;
        this.runInitializers = builder.runInitializers;
        this.directCalls = builder.directCalls;
        if (runInitializers) {
            plugins.add(new UnwindRegistration());
        }
        plugins.addAll(builder.plugins);
        for (String library : builder.libraries) {
            host.addLibrary(library);
        }
        this.memory = ownsMemory ? new MemoryManager(builder.memoryOptions) : builder.memory;
        this.main = new Scope(this, "main");
        scopes.put(main.name(), main);
    }

    /** A linker with the default options. */
    public static JitLinker create() {
        return builder().build();
    }

    /** Options for a new linker. */
    public static Builder builder() {
        return new Builder();
    }

    /** The scope the linker's own {@code load}, {@code define*}, {@code function} and {@code redefine} use. */
    public Scope mainScope() {
        return main;
    }

    /**
     * The scope called {@code name}, made empty (no definitions, no linked scopes: its sets see
     * only its own definitions and the host) the first time it is asked for.
     */
    public synchronized Scope scope(String name) {
        checkOpen();
        return scopes.computeIfAbsent(Objects.requireNonNull(name, "name"), n -> new Scope(this, n));
    }

    /** {@link Scope#defineFunction} in the main scope. */
    public void defineFunction(String name, MethodHandle target, FunctionDescriptor descriptor) {
        main.defineFunction(name, target, descriptor);
    }

    /** {@link Scope#defineData} in the main scope. */
    public void defineData(String name, MemorySegment segment) {
        main.defineData(name, segment);
    }

    /** {@link Scope#defineLazy} in the main scope. */
    public void defineLazy(String name, Supplier<List<ObjectFile>> materializer) {
        main.defineLazy(name, materializer);
    }

    /** Loads files as one set into the main scope. */
    public LoadedSet load(Path... files) {
        return main.load(files);
    }

    /** Loads files (objects and static archives) as one set into the main scope. */
    public LoadedSet load(List<Path> files) {
        return main.load(files.toArray(Path[]::new));
    }

    /**
     * Loads in-memory inputs as one set into the main scope: relocatable objects, and static
     * archives ({@code .a}) from which the members that define still-undefined symbols are pulled
     * in. The set is registered (its symbols visible to lookups and other loads) only once it is
     * linked, its permissions final, its plugins run and its constructors done.
     *
     * @throws DuplicateSymbolException if it defines a name the scope has a strong definition of
     */
    public LoadedSet loadObjects(List<ObjectFile> inputs) {
        return main.loadObjects(inputs);
    }

    /** {@link Scope#redefine} in the main scope. */
    public LoadedSet redefine(List<ObjectFile> inputs) {
        return main.redefine(inputs);
    }

    /** {@link Scope#function}: a handle of the main scope's function that follows its redefinitions. */
    public MethodHandle function(String symbol, FunctionDescriptor descriptor, Linker.Option... options) {
        return main.function(symbol, descriptor, options);
    }

    /** The current address of a symbol of the main scope (loaded, or defined from Java). */
    public OptionalLong lookup(String symbol) {
        return main.lookup(symbol);
    }

    /**
     * Opens a host library ({@code dlopen}, {@code RTLD_GLOBAL}) and adds it to the end of the host
     * search order for later loads; names as for {@link Builder#hostLibrary}.
     */
    public void addHostLibrary(String name) {
        checkOpen();
        host.addLibrary(name);
    }

    /** The memory manager this linker maps sets with. */
    public MemoryManager memoryManager() {
        return memory;
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("linker is closed");
        }
    }

    long upcall(MethodHandle target, FunctionDescriptor descriptor) {
        return Native.upcall(target, descriptor, definitions).address();
    }

    void keepReachable(MemorySegment segment) {
        definedData.add(segment);
    }

    boolean redirectsCalls() {
        return !directCalls;
    }

    /**
     * The load pipeline: link outside the lock (looking up symbols under it, pinning the sets bound
     * to), reserve its names, start it (plugins, permissions, constructors) outside the lock, then
     * register it. Whatever fails, the pins and reservations are released and the set unmapped.
     */
    LoadedSet load(Scope scope, List<ObjectFile> inputs, boolean redefining) {
        if (redefining && directCalls) {
            throw new IllegalStateException("redefine needs redirectable calls; this linker was built with directCalls(true)");
        }
        if (inputs.isEmpty()) {
            throw new LinkException("no objects to load");
        }
        Scope.Bindings bound = scope.new Bindings();
        long sequence;
        synchronized (this) {
            checkOpen();
            loadsInFlight++;
            sequence = loadsStarted++;
        }
        LoadedSet set = null;
        boolean registered = false;
        try {
            LinkedSet linked = new SetLinker(arch, memory, host, bound).link(inputs);
            set = new LoadedSet(this, scope, linked, List.copyOf(plugins), bound.direct, bound.redirected, sequence);
            synchronized (this) {
                checkOpen();
                scope.reserve(set, linked.exports(), redefining);
            }
            set.start(runInitializers);
            synchronized (this) {
                checkOpen();
                scope.register(set, linked.exports(), redefining);
                registered = true;
            }
            return set;
        } finally {
            synchronized (this) {
                bound.unpin();
                if (set != null && !registered) {
                    scope.unreserve(set);
                    set.discard();
                }
                loadsInFlight--;
                notifyAll();
            }
        }
    }

    /** Every open set, in load order. Caller holds the lock. */
    List<LoadedSet> openSets() {
        List<LoadedSet> open = new ArrayList<>();
        for (Scope scope : scopes.values()) {
            open.addAll(scope.sets());
        }
        open.sort(Comparator.comparingLong(LoadedSet::sequence));
        return open;
    }

    /** The binding's redirectable stub, made on first use. Caller holds the lock. */
    long stubAddress(SymbolBinding<LoadedSet> binding) {
        redirect(binding);
        return indirections.stubAddress(binding.indirection());
    }

    /** Gives the binding a redirectable stub if it has none. Caller holds the lock. */
    void redirect(SymbolBinding<LoadedSet> binding) {
        if (binding.indirection() >= 0) {
            return;
        }
        if (indirections == null) {
            indirections = new Indirections(arch, memory, index -> resolveLazily((int) index));
        }
        int index = indirections.add(0);
        redirected.add(binding);
        binding.indirection(index);
        retarget(binding);
    }

    boolean isRedirected(SymbolBinding<LoadedSet> binding) {
        return binding.indirection() >= 0;
    }

    /** Points the binding's stub (if it has one) at its current definition. Caller holds the lock. */
    void retarget(SymbolBinding<LoadedSet> binding) {
        int index = binding.indirection();
        if (index < 0) {
            return;
        }
        SymbolBinding.Definition<LoadedSet> definition = binding.definition();
        indirections.retarget(index, switch (definition.kind()) {
            case SET, JAVA -> definition.address();
            case LAZY -> indirections.lazyThunkAddress(index);
            case UNDEFINED -> indirections.returnZeroAddress(index);
        });
    }

    /** A lazy call from loaded code: materializes the binding and returns where the call goes on. */
    private long resolveLazily(int index) {
        SymbolBinding<LoadedSet> binding;
        synchronized (this) {
            binding = redirected.get(index);
        }
        return materialize(binding).address();
    }

    /**
     * The binding's definition, materializing it first if it is lazy: exactly once however many
     * threads call at the same time (they wait for the first), again after a failure.
     */
    private SymbolBinding.Definition<LoadedSet> materialize(SymbolBinding<LoadedSet> binding) {
        synchronized (binding) {
            SymbolBinding.Definition<LoadedSet> definition = binding.definition();
            if (definition.kind() == SymbolBinding.Kind.LAZY) {
                LoadedSet set = binding.materializer().get();
                definition = binding.definition();
                if (definition.kind() == SymbolBinding.Kind.LAZY) {
                    set.close();
                    throw new LinkException(Location.file(set.name()), "materializing " + binding.name()
                            + " loaded objects that do not define it");
                }
            }
            if (definition.kind() == SymbolBinding.Kind.UNDEFINED) {
                throw new IllegalStateException("symbol " + binding.name() + " is no longer defined: the set that defined it was closed");
            }
            return definition;
        }
    }

    /** A downcall handle whose every call goes to the binding's current definition; see {@link Scope#function}. */
    MethodHandle handleFollowing(SymbolBinding<LoadedSet> binding, FunctionDescriptor descriptor, Linker.Option... options) {
        return Indirections.followingHandle(CALL_TARGET.bindTo(this).bindTo(binding), descriptor, options);
    }

    /**
     * The function's current code as a segment of the scope that keeps it mapped: the defining set's
     * arena (held open by the downcall while it runs), or the linker's for a Java definition.
     */
    @SuppressWarnings({"restricted", "unused"})
    private MemorySegment callTarget(SymbolBinding<LoadedSet> binding) {
        SymbolBinding.Definition<LoadedSet> definition = binding.definition();
        if (definition.kind() != SymbolBinding.Kind.SET && definition.kind() != SymbolBinding.Kind.JAVA) {
            definition = materialize(binding);
        }
        Arena lifetime = definition.set() != null ? definition.set().arena() : definitions;
        return MemorySegment.ofAddress(definition.address()).reinterpret(lifetime, null);
    }

    /**
     * Refuses further loads, waits for loads in progress, closes every set still open (latest
     * first, each after its dependents), then unmaps the stubs and gives back the address space
     * of a memory manager it made. Idempotent.
     */
    @Override
    public synchronized void close() {
        closed = true;
        while (loadsInFlight > 0) {
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for loads in progress to end", e);
            }
        }
        for (LoadedSet set : openSets().reversed()) {
            set.closeWithDependents();
        }
        if (indirections != null) {
            indirections.close();
        }
        if (definitions.scope().isAlive()) {
            definitions.close();
        }
        definedData.clear();
        if (ownsMemory) {
            memory.close();
        }
    }

    public static final class Builder {
        private final List<String> libraries = new ArrayList<>();
        private final List<LinkPlugin> plugins = new ArrayList<>();
        private MemoryManager memory;
        private MemoryManager.Options memoryOptions = MemoryManager.Options.DEFAULT;
        private boolean runInitializers = true;
        private boolean directCalls;

        private Builder() {}

        /** A host library to {@code dlopen} and search after the process's global symbols, in order. */
        public Builder hostLibrary(String name) {
            libraries.add(name);
            return this;
        }

        /**
         * Whether a load registers the set's unwind tables and destructors and runs its constructors
         * (default true); {@code false} loads without running any of the set's code.
         */
        public Builder runInitializers(boolean run) {
            this.runInitializers = run;
            return this;
        }

        /**
         * Whether calls from one set to a function of another bind straight to its address (one
         * jump less) instead of through the linker's redirectable stub; default false. With
         * {@code true}, {@link JitLinker#redefine} is refused, as it could not reach earlier callers.
         */
        public Builder directCalls(boolean direct) {
            this.directCalls = direct;
            return this;
        }

        /** A plugin called at every load and close, after the built-in ones. */
        public Builder plugin(LinkPlugin plugin) {
            plugins.add(Objects.requireNonNull(plugin, "plugin"));
            return this;
        }

        /** Options for the memory manager the linker makes (ignored when one is given). */
        public Builder memoryOptions(MemoryManager.Options options) {
            this.memoryOptions = options;
            return this;
        }

        /** A memory manager to share between linkers; the linker does not close it. */
        public Builder memoryManager(MemoryManager memory) {
            this.memory = memory;
            return this;
        }

        public JitLinker build() {
            return new JitLinker(this);
        }
    }
}
