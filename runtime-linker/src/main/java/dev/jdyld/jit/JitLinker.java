package dev.jdyld.jit;

import dev.jdyld.link.HostArchitecture;
import dev.jdyld.link.LinkedSet;
import dev.jdyld.link.SetLinker;
import dev.jdyld.link.EarlierSets;
import dev.jdyld.link.arch.Architecture;
import dev.jdyld.memory.MemoryManager;
import dev.jdyld.runtime.HostSymbols;
import dev.jdyld.runtime.UnwindRegistration;

import dev.jdyld.runtime.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;

/**
 * Loads sets of relocatable ELF objects into memory and links them against each other, against
 * sets loaded earlier by this linker, and against the host process.
 *
 * <pre>{@code
 * try (JitLinker linker = JitLinker.builder().hostLibrary("libm.so.6").build();
 *      LoadedSet set = linker.load(Path.of("add.o"))) {
 *     MethodHandle add = set.function("add", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
 *     int three = (int) add.invokeExact(1, 2);
 * }
 * }</pre>
 *
 * <p>A load is atomic: when it throws a {@link LinkException}, no mapping, symbol or
 * registration of it remains, and the set is not visible to later loads.
 */
public final class JitLinker implements AutoCloseable {
    private final MemoryManager memory;
    private final boolean ownsMemory;
    private final boolean runInitializers;
    private final Architecture arch = HostArchitecture.get();
    private final HostSymbols host = new HostSymbols(arch.multiarchTriple());
    private final List<LinkPlugin> plugins = new ArrayList<>();
    private final Set<LoadedSet> sets = new LinkedHashSet<>();
    /** Upcall stubs of Java-defined functions live in it until the linker is closed. */
    private final Arena definitions = Arena.ofShared();
    /** Data segments defined from Java, kept reachable for as long as loaded code may use them. */
    private final List<MemorySegment> definedData = new ArrayList<>();
    private boolean closed;

    private JitLinker(Builder builder) {
        this.ownsMemory = builder.memory == null;
        this.runInitializers = builder.runInitializers;
        if (runInitializers) {
            plugins.add(new UnwindRegistration());
        }
        plugins.addAll(builder.plugins);
        for (String library : builder.libraries) {
            host.addLibrary(library);
        }
        this.memory = ownsMemory ? new MemoryManager(builder.memoryOptions) : builder.memory;
    }

    public static JitLinker create() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Defines a C function {@code name} that calls {@code target} (an FFM upcall): loaded code
     * calls it like any host function. The upcall stub lives until the linker is closed. An
     * exception thrown by {@code target} is handled as FFM handles one leaving an upcall.
     *
     * @throws IllegalArgumentException if {@code name} is already defined from Java
     */
    public synchronized void defineFunction(String name, MethodHandle target, FunctionDescriptor descriptor) {
        checkOpen();
        MemorySegment stub = Native.upcall(target, descriptor, definitions);
        define(name, stub.address());
    }

    /**
     * Defines a data symbol {@code name} at {@code segment}'s address (an absolute symbol, as
     * ORC's {@code absoluteSymbols}). The segment must stay valid while sets that use it are open.
     *
     * @throws IllegalArgumentException if {@code name} is already defined from Java
     */
    public synchronized void defineData(String name, MemorySegment segment) {
        checkOpen();
        if (!segment.isNative()) {
            throw new IllegalArgumentException("defineData(" + name + "): a heap segment has no stable address");
        }
        define(name, segment.address());
        definedData.add(segment);
    }

    private void define(String name, long address) {
        if (!host.define(name, address)) {
            throw new IllegalArgumentException("symbol " + name + " is already defined from Java");
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("linker is closed");
        }
    }

    /** Loads files as one set. */
    public LoadedSet load(Path... files) {
        return load(List.of(files));
    }

    /** Loads files (objects and static archives) as one set. */
    public LoadedSet load(List<Path> files) {
        List<ObjectFile> inputs = new ArrayList<>(files.size());
        for (Path file : files) {
            inputs.add(ObjectFile.read(file));
        }
        return loadObjects(inputs);
    }

    /**
     * Loads in-memory inputs as one set: relocatable objects, and static archives ({@code .a})
     * from which the members that define still-undefined symbols are pulled in. The set is
     * registered (its symbols visible to lookups and later loads) only once it is linked, its
     * permissions final, its plugins run and its constructors done.
     */
    public synchronized LoadedSet loadObjects(List<ObjectFile> inputs) {
        checkOpen();
        if (inputs.isEmpty()) {
            throw new LinkException("no objects to load");
        }
        LinkedSet linked = new SetLinker(arch, memory, host, new EarlierSets() {
            @Override
            public long find(String name) {
                return findInSets(name);
            }

            @Override
            public boolean keepsGroup(String signature) {
                return sets.stream().anyMatch(set -> set.comdatGroups().contains(signature));
            }
        }).link(inputs);
        LoadedSet set = new LoadedSet(this, linked, List.copyOf(plugins));
        set.start(runInitializers);
        for (String name : set.imports()) {
            LoadedSet definer = setExporting(name);
            if (definer != null) {
                set.dependsOn(definer);
            }
        }
        sets.add(set);
        return set;
    }

    /** The address of a symbol exported by any open set of this linker. */
    public synchronized OptionalLong lookup(String symbol) {
        long address = findInSets(symbol);
        return address == 0 ? OptionalLong.empty() : OptionalLong.of(address);
    }

    private long findInSets(String symbol) {
        LoadedSet set = setExporting(symbol);
        return set == null ? 0 : set.exports().get(symbol);
    }

    /** The first open set, in load order, that exports {@code symbol}: the one loads bind to. */
    private LoadedSet setExporting(String symbol) {
        for (LoadedSet set : sets) {
            if (set.exports().containsKey(symbol)) {
                return set;
            }
        }
        return null;
    }

    synchronized void unregister(LoadedSet set) {
        sets.remove(set);
    }

    /** The memory manager this linker maps sets with. */
    public MemoryManager memoryManager() {
        return memory;
    }

    /**
     * Refuses further loads, closes every set still open (latest first, so dependents close before
     * what they use), then gives back the address space of a memory manager it made. Idempotent.
     */
    @Override
    public synchronized void close() {
        closed = true;
        for (LoadedSet set : List.copyOf(sets).reversed()) {
            set.closeWithDependents();
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

        /** A plugin called at every load and close, after the built-in ones. */
        public Builder plugin(LinkPlugin plugin) {
            plugins.add(java.util.Objects.requireNonNull(plugin, "plugin"));
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
