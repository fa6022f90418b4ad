package dev.jdyld.jit;

import dev.jdyld.core.DuplicateSymbolException;
import dev.jdyld.core.LinkException;
import dev.jdyld.core.ObjectFile;
import dev.jdyld.core.SetLayout;
import dev.jdyld.link.HostArchitecture;
import dev.jdyld.link.binding.Redirections;
import dev.jdyld.link.arch.Architecture;
import dev.jdyld.memory.MemoryManager;
import dev.jdyld.executor.HostLookup;
import dev.jdyld.executor.TargetProcess;
import dev.jdyld.runtime.child.ChildTarget;
import dev.jdyld.runtime.HostSymbols;
import dev.jdyld.runtime.InProcessTarget;
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
    final Architecture arch;
    /** Where the code runs: this process, or a child-process executor of this linker's own. */
    final TargetProcess target;
    final HostLookup host;
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

    JitLinker(JitLinkerBuilder builder) {
        this.ownsMemory = builder.memory == null;
        this.runInitializers = builder.runInitializers;
        this.directCalls = builder.directCalls;
        this.relaxGot = builder.relaxGot;
        this.executableStack = builder.executableStack;
        this.arch = HostArchitecture.of(builder.executor.target().machine());
        if (builder.executor.isChildProcess()) {
            if (!ownsMemory) {
                throw new IllegalArgumentException("a memory manager cannot be shared with a child-process executor:"
                        + " the child's memory is its own");
            }
            ChildTarget child = ChildTarget.start(builder.executor.target().machine(), builder.memoryOptions,
                    arch.multiarchTriple(), builder.libraries, builder.executor.callTimeout().toMillis(),
                    new dev.jdyld.runtime.ElfImages.Target(arch.machine(), arch.threadPointerOffsetRelocation()));
            child.symbolizer(this::describeAddress);
            this.target = child;
        } else {
            HostSymbols symbols = new HostSymbols(arch.multiarchTriple());
            for (String library : builder.libraries) {
                symbols.addLibrary(library);
            }
            this.target = new InProcessTarget(ownsMemory ? new MemoryManager(builder.memoryOptions) : builder.memory,
                    symbols, arch);
        }
        this.host = target.host();
        this.memory = target.memory();
        if (runInitializers) {
            plugins.add(new UnwindRegistration(target));
        }
        plugins.addAll(builder.plugins);
        this.redirections = new Redirections<>(this, arch, target, builder.lazyFailures);
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
    public static JitLinkerBuilder builder() {
        return new JitLinkerBuilder();
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
     * search order for later loads; names as for {@link JitLinkerBuilder#hostLibrary}.
     *
     * @param name a {@code dlopen} name, a path, or a short name like {@code m}
     */
    public void addHostLibrary(String name) {
        checkOpen();
        host.addLibrary(name);
    }

    /**
     * Where calls of {@code symbol} from later sets of the main scope go when the linker made a
     * redirectable stub for it (so that a redefinition reaches them): for disassemblers to name.
     *
     * @param symbol the name
     * @return the stub's address, or empty when calls bind to the definition itself
     */
    public OptionalLong stubAddress(String symbol) {
        synchronized (this) {
            var binding = main.find(symbol);
            return binding != null && redirections.isRedirected(binding)
                    ? OptionalLong.of(redirections.stubAddress(binding)) : OptionalLong.empty();
        }
    }

    /**
     * Ends the linker's child-process executor now (SIGKILL), as its call timeout would: a call
     * running there throws {@link dev.jdyld.core.ExecutorCrashedException}, later calls
     * {@link dev.jdyld.core.ExecutorException}. For a REPL's Ctrl-C. A call in the JVM's own process
     * cannot be stopped: with {@link Executor#inProcess()} this returns false and does nothing.
     *
     * @return whether there was an executor to end
     */
    public boolean killExecutor() {
        return target.kill();
    }

    /**
     * The host libraries opened for this linker (where its code runs), in search order, as given.
     *
     * @return the libraries' names
     */
    public List<String> hostLibraries() {
        return host.libraryNames();
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

    /**
     * The function of an open set an address is in, for a child executor's crash reports:
     * {@code fib+0x12 in set prog.o}; null when no set's code holds it.
     */
    private String describeAddress(long address) {
        List<LoadedSet> sets;
        synchronized (this) {
            sets = openSets();
        }
        for (LoadedSet set : sets) {
            String name = SetAddresses.describe(set.slab, set.layout, set.name, address);
            if (name != null) {
                return name;
            }
        }
        return null;
    }

    /** Refuses, with a child executor, what needs the loaded code in this process: JVM memory. */
    void checkInThisProcess(String what) {
        if (!target.inThisProcess()) {
            throw new UnsupportedOperationException(what + ": loaded code in a child-process executor cannot read this"
                    + " JVM's memory; define the data in an object, or use Executor.inProcess()");
        }
    }

    /** Every set of every scope that is open. Caller holds the lock. */
    List<LoadedSet> openSets() {
        return scopes.values().stream().flatMap(scope -> scope.sets().stream()).toList();
    }
}
