package dev.jdyld.jit;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.SetLayout;
import dev.jdyld.memory.MemoryManager;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Options for a {@link JitLinker}; {@link JitLinker#builder()} makes one.
 */
public final class JitLinkerBuilder {
    final List<String> libraries = new ArrayList<>();
    final List<LinkPlugin> plugins = new ArrayList<>();
    MemoryManager memory;
    MemoryManager.Options memoryOptions = MemoryManager.Options.DEFAULT;
    boolean runInitializers = true;
    boolean directCalls;
    boolean relaxGot = true;
    boolean executableStack;
    Executor executor = Executor.inProcess();
    Consumer<LinkException> lazyFailures = failure -> System.err.println("jdyld: " + failure.getMessage());

    JitLinkerBuilder() {}

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
    public JitLinkerBuilder onLazyFailure(Consumer<LinkException> handler) {
        this.lazyFailures = Objects.requireNonNull(handler, "handler");
        return this;
    }

    /**
     * A host library to {@code dlopen} and search after the process's global symbols, in order.
     *
     * @param name a {@code dlopen} name ({@code libstdc++.so.6}), a path, or a short name ({@code m})
     * @return this builder
     */
    public JitLinkerBuilder hostLibrary(String name) {
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
    public JitLinkerBuilder runInitializers(boolean run) {
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
    public JitLinkerBuilder directCalls(boolean direct) {
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
    public JitLinkerBuilder relaxGot(boolean relax) {
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
    public JitLinkerBuilder executableStack(boolean allow) {
        this.executableStack = allow;
        return this;
    }

    /**
     * Where the code runs: {@link Executor#inProcess()} (the default) or
     * {@link Executor#childProcess()}, a process of the linker's own that a crash of loaded code
     * ends instead of the JVM. Host libraries are then opened in the child, and a memory manager
     * given with {@link #memoryManager} is not allowed (the child's memory is its own).
     *
     * @param executor where loaded code runs
     * @return this builder
     */
    public JitLinkerBuilder executor(Executor executor) {
        this.executor = Objects.requireNonNull(executor, "executor");
        return this;
    }

    /**
     * A plugin called at every load and close, after the built-in ones.
     *
     * @param plugin the plugin
     * @return this builder
     */
    public JitLinkerBuilder plugin(LinkPlugin plugin) {
        plugins.add(Objects.requireNonNull(plugin, "plugin"));
        return this;
    }

    /**
     * Options for the memory manager the linker makes (ignored when one is given).
     *
     * @param options memory-manager options
     * @return this builder
     */
    public JitLinkerBuilder memoryOptions(MemoryManager.Options options) {
        this.memoryOptions = options;
        return this;
    }

    /**
     * A memory manager to share between linkers; the linker does not close it.
     *
     * @param memory the shared memory manager
     * @return this builder
     */
    public JitLinkerBuilder memoryManager(MemoryManager memory) {
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
