package dev.jdyld.jit;

import dev.jdyld.link.HostArchitecture;
import dev.jdyld.link.LinkedSet;
import dev.jdyld.link.SetLinker;
import dev.jdyld.link.arch.Architecture;
import dev.jdyld.memory.MemoryManager;
import dev.jdyld.runtime.HostSymbols;
import dev.jdyld.runtime.LoadStage;
import dev.jdyld.runtime.UnwindRegistration;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
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
    private final MemoryManager memory;
    private final boolean ownsMemory;
    private final boolean runInitializers;
    /** Calls between sets bind straight to their targets: no redirectable stubs, no {@code redefine}. */
    final boolean directCalls;
    private final boolean relaxGot;
    private final Architecture arch = HostArchitecture.get();
    private final HostSymbols host = new HostSymbols(arch.multiarchTriple());
    private final List<LinkPlugin> plugins = new ArrayList<>();
    /** Everything below is guarded by this linker's lock. */
    private final Map<String, Scope> scopes = new LinkedHashMap<>();
    private final Scope main;
    /** Upcall stubs of Java-defined functions live in it until the linker is closed. */
    final Arena definitions = Arena.ofShared();
    /** Data segments defined from Java, kept reachable for as long as loaded code may use them. */
    final List<MemorySegment> definedData = new ArrayList<>();
    /** Redirectable stubs and lazy calls. */
    final Redirections redirections;
    private long loadsStarted;
    /** Loads in progress, and closed sets whose memory is released outside the lock: {@link #close()} waits. */
    private int inFlight;
    private boolean closed;

    private JitLinker(Builder builder) {
        this.ownsMemory = builder.memory == null;
        this.runInitializers = builder.runInitializers;
        this.directCalls = builder.directCalls;
        this.relaxGot = builder.relaxGot;
        if (runInitializers) {
            plugins.add(new UnwindRegistration());
        }
        plugins.addAll(builder.plugins);
        for (String library : builder.libraries) {
            host.addLibrary(library);
        }
        this.memory = ownsMemory ? new MemoryManager(builder.memoryOptions) : builder.memory;
        this.redirections = new Redirections(this, arch, memory);
        this.main = new Scope(this, "main");
        scopes.put(main.name(), main);
    }

    /**
     * A linker with the default options.
     *
     * @return a new linker
     */
    public static JitLinker create() {
        return builder().build();
    }

    /**
     * Options for a new linker.
     *
     * @return a builder with the defaults
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The scope the linker's own {@code load}, {@code define*}, {@code function} and {@code redefine} use.
     *
     * @return the main scope
     */
    public Scope mainScope() {
        return main;
    }

    /**
     * The scope called {@code name}, made empty (no definitions, no linked scopes: its sets see
     * only its own definitions and the host) the first time it is asked for.
     *
     * @param name the scope's name
     * @return the scope
     */
    public synchronized Scope scope(String name) {
        checkOpen();
        return scopes.computeIfAbsent(Objects.requireNonNull(name, "name"), n -> new Scope(this, n));
    }

    /**
     * {@link Scope#defineFunction} in the main scope.
     *
     * @param name       the C name
     * @param target     the Java code to call
     * @param descriptor the C signature
     */
    public void defineFunction(String name, MethodHandle target, FunctionDescriptor descriptor) {
        main.defineFunction(name, target, descriptor);
    }

    /**
     * {@link Scope#defineData} in the main scope.
     *
     * @param name    the C name
     * @param segment native memory the symbol's address is
     */
    public void defineData(String name, MemorySegment segment) {
        main.defineData(name, segment);
    }

    /**
     * {@link Scope#defineLazy} in the main scope.
     *
     * @param name         the function's C name
     * @param materializer returns the objects that define it
     */
    public void defineLazy(String name, Supplier<List<ObjectFile>> materializer) {
        main.defineLazy(name, materializer);
    }

    /**
     * Loads files as one set into the main scope.
     *
     * @param files objects and static archives
     * @return the loaded set
     */
    public LoadedSet load(Path... files) {
        return main.load(files);
    }

    /**
     * Loads files (objects and static archives) as one set into the main scope.
     *
     * @param files objects and static archives
     * @return the loaded set
     */
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
     * @param inputs objects and static archives, in memory
     * @return the loaded set
     */
    public LoadedSet loadObjects(List<ObjectFile> inputs) {
        return main.loadObjects(inputs);
    }

    /**
     * {@link Scope#redefine} in the main scope.
     *
     * @param inputs objects and static archives, in memory
     * @return the new set
     */
    public LoadedSet redefine(List<ObjectFile> inputs) {
        return main.redefine(inputs);
    }

    /**
     * {@link Scope#function}: a handle of the main scope's function that follows its redefinitions.
     *
     * @param symbol     the function's name
     * @param descriptor its C signature
     * @param options    FFM linker options
     * @return a handle that follows the definition
     */
    public MethodHandle function(String symbol, FunctionDescriptor descriptor, Linker.Option... options) {
        return main.function(symbol, descriptor, options);
    }

    /**
     * The current address of a symbol of the main scope (loaded, or defined from Java).
     *
     * @param symbol the name
     * @return its address, or empty when the main scope does not define it
     */
    public OptionalLong lookup(String symbol) {
        return main.lookup(symbol);
    }

    /**
     * Opens a host library ({@code dlopen}, {@code RTLD_GLOBAL}) and adds it to the end of the host
     * search order for later loads; names as for {@link Builder#hostLibrary}.
     *
     * @param name a {@code dlopen} name, a path, or a short name like {@code m}
     */
    public void addHostLibrary(String name) {
        checkOpen();
        host.addLibrary(name);
    }

    /**
     * The memory manager this linker maps sets with.
     *
     * @return the memory manager
     */
    public MemoryManager memoryManager() {
        return memory;
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("linker is closed");
        }
    }

    /** A load, or a closed set's release outside the lock, begins ({@code +1}) or ends ({@code -1}). */
    synchronized void inFlight(int delta) {
        inFlight += delta;
        notifyAll();
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
            inFlight(1);
            sequence = loadsStarted++;
        }
        LoadedSet set = null;
        boolean registered = false;
        // The slab is written from this thread only; unlike a shared arena, closing this one stops no thread.
        try (Arena writing = Arena.ofConfined()) {
            LinkedSet linked = new SetLinker(arch, memory, host, bound, writing, relaxGot).link(inputs);
            set = new LoadedSet(this, scope, linked, List.copyOf(plugins), bound.direct, bound.redirected, sequence);
            synchronized (this) {
                checkOpen();
                scope.reserve(set, linked.exports(), redefining);
            }
            set.start(runInitializers);
            LoadStage.REGISTER.reached();
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
                inFlight(-1);
            }
        }
    }

    /**
     * Refuses further loads, waits for loads and closes in progress, closes every set still open
     * (latest first, each after its dependents), then unmaps the stubs and gives back the address
     * space of a memory manager it made. Idempotent.
     */
    @Override
    public synchronized void close() {
        closed = true;
        while (inFlight > 0) {
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for loads and closes in progress to end", e);
            }
        }
        for (LoadedSet set : scopes.values().stream().flatMap(scope -> scope.sets().stream())
                .sorted(Comparator.comparingLong(LoadedSet::sequence).reversed()).toList()) {
            set.closeWithDependents();
        }
        redirections.close();
        for (LinkPlugin plugin : plugins) {
            if (plugin instanceof AutoCloseable closeable) { // e.g. a jitdump file: its closing record
                try {
                    closeable.close();
                } catch (Exception e) {
                    throw new LinkException(Location.NONE, "closing plugin " + plugin + " failed: " + e.getMessage(), e);
                }
            }
        }
        if (definitions.scope().isAlive()) {
            definitions.close();
        }
        definedData.clear();
        if (ownsMemory) {
            memory.close();
        }
    }

    /**
     * Options for a {@link JitLinker}; {@link JitLinker#builder()} makes one.
     */
    public static final class Builder {
        private final List<String> libraries = new ArrayList<>();
        private final List<LinkPlugin> plugins = new ArrayList<>();
        private MemoryManager memory;
        private MemoryManager.Options memoryOptions = MemoryManager.Options.DEFAULT;
        private boolean runInitializers = true;
        private boolean directCalls;
        private boolean relaxGot = true;

        private Builder() {}

        /**
         * A host library to {@code dlopen} and search after the process's global symbols, in order.
         *
         * @param name a {@code dlopen} name ({@code libstdc++.so.6}), a path, or a short name ({@code m})
         * @return this builder
         */
        public Builder hostLibrary(String name) {
            libraries.add(name);
            return this;
        }

        /**
         * Whether a load registers the set's unwind tables and destructors and runs its constructors
         * (default true); {@code false} loads without running any of the set's code.
         *
         * @param run whether loads run the set's initialisers
         * @return this builder
         */
        public Builder runInitializers(boolean run) {
            this.runInitializers = run;
            return this;
        }

        /**
         * Whether calls from one set to a function of another bind straight to its address (one
         * jump less) instead of through the linker's redirectable stub; default false. With
         * {@code true}, {@link JitLinker#redefine} is refused, as it could not reach earlier callers.
         *
         * @param direct whether calls between sets bind directly
         * @return this builder
         */
        public Builder directCalls(boolean direct) {
            this.directCalls = direct;
            return this;
        }

        /**
         * Whether a load rewrites {@code mov foo@GOTPCREL(%rip)} to {@code lea foo(%rip)}, and calls
         * and jumps through the GOT to direct ones, where {@code foo} is the set's own (the psABI's
         * {@code GOTPCRELX} relaxation), saving the GOT slot; default true.
         *
         * @param relax whether loads relax GOT references to the set's own symbols
         * @return this builder
         */
        public Builder relaxGot(boolean relax) {
            this.relaxGot = relax;
            return this;
        }

        /**
         * A plugin called at every load and close, after the built-in ones.
         *
         * @param plugin the plugin
         * @return this builder
         */
        public Builder plugin(LinkPlugin plugin) {
            plugins.add(Objects.requireNonNull(plugin, "plugin"));
            return this;
        }

        /**
         * Options for the memory manager the linker makes (ignored when one is given).
         *
         * @param options memory-manager options
         * @return this builder
         */
        public Builder memoryOptions(MemoryManager.Options options) {
            this.memoryOptions = options;
            return this;
        }

        /**
         * A memory manager to share between linkers; the linker does not close it.
         *
         * @param memory the shared memory manager
         * @return this builder
         */
        public Builder memoryManager(MemoryManager memory) {
            this.memory = memory;
            return this;
        }

        /**
         * Makes the linker, opening the host libraries given.
         *
         * @return the linker
         * @throws LinkException if a host library cannot be opened
         */
        public JitLinker build() {
            return new JitLinker(this);
        }
    }
}
