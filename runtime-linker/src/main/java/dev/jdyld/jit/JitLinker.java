package dev.jdyld.jit;

import dev.jdyld.core.DuplicateSymbolException;
import dev.jdyld.core.LinkException;
import dev.jdyld.core.ObjectFile;
import dev.jdyld.core.SetLayout;
import dev.jdyld.link.HostArchitecture;
import dev.jdyld.link.Redirections;
import dev.jdyld.link.arch.Architecture;
import dev.jdyld.memory.MemoryManager;
import dev.jdyld.runtime.HostSymbols;
import dev.jdyld.runtime.lifetime.SetLifetime;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.function.Consumer;
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
 * symbols and registering the finished set take the linker's lock, and no lock is held while
 * loaded code or a plugin runs.
 *
 * <p>A load, a close or the linker's {@link #close()} called from a constructor, destructor or
 * plugin of a load or close in progress on the same thread is refused at once with an
 * {@link IllegalStateException} where it would otherwise wait for itself; see {@link LoadedSet}
 * for what holds a set open.
 */
public final class JitLinker implements AutoCloseable {
    final MemoryManager memory;
    final boolean ownsMemory;
    final boolean runInitializers;
    /** Calls between sets bind straight to their targets: no redirectable stubs, no {@code redefine}. */
    final boolean directCalls;
    final boolean relaxGot;
    /** Sets whose code needs an executable stack may load; the threads that run them get one. */
    final boolean executableStack;
    final Architecture arch = HostArchitecture.get();
    final HostSymbols host = new HostSymbols(arch.multiarchTriple());
    final List<LinkPlugin> plugins = new ArrayList<>();
    /** Everything below is guarded by this linker's lock. */
    private final Map<String, Scope> scopes = new LinkedHashMap<>();
    private final Scope main;
    /** Upcall stubs of Java-defined functions live in it until the linker is closed. */
    final Arena definitions = Arena.ofShared();
    /** Data segments defined from Java, kept reachable for as long as loaded code may use them. */
    final List<MemorySegment> definedData = new ArrayList<>();
    /** Redirectable stubs and lazy calls. */
    final Redirections<LoadedSet> redirections;
    /** Held by calls that follow a name to a definition from Java: the upcall stubs live until it closes. */
    final SetLifetime javaDefinitions = new SetLifetime("linker", false);
    /** Loading and closing sets. */
    final Lifecycle lifecycle = new Lifecycle(this);

    private JitLinker(Builder builder) {
        this.ownsMemory = builder.memory == null;
        this.runInitializers = builder.runInitializers;
        this.directCalls = builder.directCalls;
        this.relaxGot = builder.relaxGot;
        this.executableStack = builder.executableStack;
        if (runInitializers) {
            plugins.add(new UnwindRegistration());
        }
        plugins.addAll(builder.plugins);
        for (String library : builder.libraries) {
            host.addLibrary(library);
        }
        this.memory = ownsMemory ? new MemoryManager(builder.memoryOptions) : builder.memory;
        this.redirections = new Redirections<>(this, arch, memory, builder.lazyFailures);
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
     * Bytes of static TLS the process has left now for sets with local- or initial-exec code: the
     * largest block that would still fit (found by loading probes, about a millisecond). glibc
     * fixes the reserve at process start; raise it with
     * {@code GLIBC_TUNABLES=glibc.rtld.optional_static_tls=BYTES}.
     *
     * @return bytes left, a multiple of 16
     */
    public static long staticTlsReserveLeft() {
        return dev.jdyld.runtime.StaticTlsModule.reserveLeft(hostElfTarget());
    }

    /** The machine facts of the process's own architecture that the ELF images jdyld writes need. */
    static dev.jdyld.runtime.ElfImages.Target hostElfTarget() {
        Architecture host = HostArchitecture.get();
        return new dev.jdyld.runtime.ElfImages.Target(host.machine(), host.threadPointerOffsetRelocation());
    }

    /**
     * The memory manager this linker maps sets with.
     *
     * @return the memory manager
     */
    public MemoryManager memoryManager() {
        return memory;
    }

    /**
     * Closes the linker: refuses new loads, waits for loads and closes in progress on other threads,
     * then closes every set still open (latest first), all of them or, when one cannot be closed,
     * none: the linker then stays open and usable. Its stubs, upcall stubs of Java definitions and
     * a memory manager it made are given back when the last set's memory is (see {@link LoadedSet}:
     * pending thread-local destructors and retired sets may outlive the close). Idempotent.
     *
     * @throws IllegalStateException when a set cannot be closed (a call runs in it, a segment of its
     *         data is in use by a running native call), when a call through a handle runs in a
     *         function defined from Java, when called from a constructor, destructor or plugin of
     *         a load or close in progress on this thread, or when interrupted while waiting; the
     *         linker stays open
     * @throws LinkException when a plugin fails to close (the sets are closed then)
     */
    @Override
    public void close() {
        lifecycle.closeLinker();
    }

    void checkOpen() {
        lifecycle.checkOpen();
    }

    /** Every set of every scope that is open. Caller holds the lock. */
    List<LoadedSet> openSets() {
        return scopes.values().stream().flatMap(scope -> scope.sets().stream()).toList();
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
        private boolean executableStack;
        private Consumer<LinkException> lazyFailures = failure -> System.err.println("jdyld: " + failure.getMessage());

        private Builder() {}

        /**
         * What happens to a lazy symbol's failure (its materializer threw, or loaded nothing that
         * defines it) when no Java call is there to throw it: the symbol was called by loaded code
         * on a thread that did not enter it through a jdyld handle (a thread the C code started, or a
         * raw downcall). The C caller gets 0 either way, as it cannot unwind; when a handle's call
         * is on the thread's stack, that call throws the {@link LinkException} when it returns and
         * this handler is not called. By default the message is printed on stderr, as ORC's
         * default error reporter does.
         *
         * @param handler takes the failure, on the thread of the failed call; must not throw
         * @return this builder
         */
        public Builder onLazyFailure(Consumer<LinkException> handler) {
            this.lazyFailures = Objects.requireNonNull(handler, "handler");
            return this;
        }

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
         * Whether sets whose code needs an executable stack may load (default false: such a load
         * fails with a {@link LinkException} naming the object and why). An object asks for one with
         * an executable {@code .note.GNU-stack} section (gcc emits it for a GNU C nested function
         * whose address is taken, called through a trampoline written on the stack), or by having no
         * such section at all (as GNU ld reads it; hand-written assembly often has none).
         *
         * <p>With {@code true}, every thread that runs such a set's code gets an executable stack
         * for the rest of its life: the thread {@link LoadedSet#runMain} makes, Java threads when
         * they first call into the set (or load it: its constructors run on the loading thread), and
         * threads the set's code starts with {@code pthread_create}. That is the security cost an
         * executable {@code PT_GNU_STACK} has for a native program, for those threads only: a stack
         * buffer overflow on them can run injected code. Other threads, the JVM's included, keep
         * stacks that are not executable. {@link SetLayout#executableStack()} says whether and why a
         * set needs one.
         *
         * @param allow whether sets that need an executable stack may load
         * @return this builder
         */
        public Builder executableStack(boolean allow) {
            this.executableStack = allow;
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
