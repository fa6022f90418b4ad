package dev.jdyld.jit;

import dev.jdyld.link.SymbolBinding;
import dev.jdyld.link.arch.Architecture;
import dev.jdyld.memory.MemoryManager;
import dev.jdyld.runtime.Indirections;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.List;

/**
 * A linker's redirectable stubs and lazy calls: which binding each stub belongs to, where it
 * points, materializing a lazy symbol on its first call, and handles that follow a binding. The
 * stubs are made on first use: a linker whose sets never call each other maps none. Methods that
 * say so are called with the linker's lock held.
 */
final class Redirections implements AutoCloseable {
    private static final MethodHandle CALL_TARGET;

    static {
        try {
            CALL_TARGET = MethodHandles.lookup().findVirtual(Redirections.class, "callTarget",
                    MethodType.methodType(MemorySegment.class, SymbolBinding.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final JitLinker linker;
    private final Architecture arch;
    private final MemoryManager memory;
    /** Guarded by the linker's lock: the stubs, and the binding of each by index. */
    private Indirections indirections;
    private final List<SymbolBinding<LoadedSet>> redirected = new ArrayList<>();

    Redirections(JitLinker linker, Architecture arch, MemoryManager memory) {
        this.linker = linker;
        this.arch = arch;
        this.memory = memory;
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
        synchronized (linker) {
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
        Arena lifetime = definition.set() != null ? definition.set().arena() : linker.definitions;
        return MemorySegment.ofAddress(definition.address()).reinterpret(lifetime, null);
    }

    /** Unmaps the stubs; the linker calls it once no set is open. */
    @Override
    public void close() {
        if (indirections != null) {
            indirections.close();
        }
    }
}
