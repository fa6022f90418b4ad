package dev.jdyld.link.binding;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.Location;
import dev.jdyld.link.arch.Architecture;
import dev.jdyld.executor.TargetProcess;
import dev.jdyld.runtime.Indirections;
import dev.jdyld.runtime.lifetime.GuardedCalls;
import dev.jdyld.runtime.lifetime.ThreadCalls;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * A linker's redirectable stubs and lazy calls: which binding each stub belongs to, where it
 * points, materializing a lazy symbol on its first call, and handles that follow a binding. The
 * stubs are made on first use: a linker whose sets never call each other maps none. Methods that
 * say so are called with the linker's lock held.
 *
 * @param <S> the linker's loaded sets
 */
public final class Redirections<S> implements AutoCloseable {
    private final Object lock;
    private final Architecture arch;
    private final TargetProcess target;
    private final Consumer<LinkException> lazyFailures;
    /** Guarded by the lock: the stubs, and the binding of each by index. */
    private Indirections indirections;
    private final List<SymbolBinding<S>> redirected = new ArrayList<>();

    /**
     * @param lock         the linker's lock
     * @param lazyFailures takes a lazy symbol's failure that no Java call on the thread can throw
     *                     (loaded code on a thread that did not come from a jdyld handle called it)
     */
    public Redirections(Object lock, Architecture arch, TargetProcess target, Consumer<LinkException> lazyFailures) {
        this.lock = lock;
        this.arch = arch;
        this.target = target;
        this.lazyFailures = lazyFailures;
    }

    /** The binding's redirectable stub, made on first use. Caller holds the lock. */
    public long stubAddress(SymbolBinding<S> binding) {
        redirect(binding);
        return indirections.stubAddress(binding.indirection());
    }

    /** Gives the binding a redirectable stub if it has none. Caller holds the lock. */
    public void redirect(SymbolBinding<S> binding) {
        if (binding.indirection() >= 0) {
            return;
        }
        if (indirections == null) {
            indirections = new Indirections(arch, target, index -> resolveLazily((int) index), this::lazyFailed);
        }
        int index = indirections.add(0);
        redirected.add(binding);
        binding.indirection(index);
        retarget(binding);
    }

    /** The bindings with a redirectable stub, in the order they got it. Caller holds the lock. */
    public List<SymbolBinding<S>> redirected() {
        return java.util.Collections.unmodifiableList(redirected);
    }

    public boolean isRedirected(SymbolBinding<S> binding) {
        return binding.indirection() >= 0;
    }

    /**
     * Points the binding's stub (if it has one) at its current definition; a set a stub leads to
     * is retired, not unmapped at once, when it closes. Caller holds the lock.
     */
    public void retarget(SymbolBinding<S> binding) {
        int index = binding.indirection();
        if (index < 0) {
            return;
        }
        SymbolBinding.Definition<S> definition = binding.definition();
        if (definition.kind() == SymbolBinding.Kind.SET) {
            definition.lifetime().reachedThroughStub();
        }
        indirections.retarget(index, switch (definition.kind()) {
            case SET, JAVA -> definition.address();
            case LAZY -> indirections.lazyThunkAddress(index);
            case UNDEFINED -> indirections.returnZeroAddress(index);
        });
    }

    /** A lazy call from loaded code: materializes the binding and returns where the call goes on. */
    private long resolveLazily(int index) {
        SymbolBinding<S> binding;
        synchronized (lock) {
            binding = redirected.get(index);
        }
        return materialize(binding).address();
    }

    private void lazyFailed(Throwable failure) {
        lazyFailures.accept(failure instanceof LinkException link ? link
                : new LinkException(Location.NONE, "materializing a lazy symbol failed: " + failure, failure));
    }

    /**
     * The binding's definition, materializing it first if it is lazy: exactly once however many
     * threads call at the same time (they wait for the first), again after a failure.
     */
    private static <T> SymbolBinding.Definition<T> materialize(SymbolBinding<T> binding) {
        synchronized (binding) {
            SymbolBinding.Definition<T> definition = binding.definition();
            if (definition.kind() == SymbolBinding.Kind.LAZY) {
                binding.materializer().get();
                definition = binding.definition();
            }
            if (definition.kind() == SymbolBinding.Kind.UNDEFINED || definition.kind() == SymbolBinding.Kind.LAZY) {
                throw new IllegalStateException("symbol " + binding.name() + " is no longer defined: the set that defined it was closed");
            }
            return definition;
        }
    }

    /**
     * A downcall handle whose every call goes to the binding's current definition and holds what
     * defines it (the set, or the linker for a definition from Java) for the call.
     */
    public MethodHandle handleFollowing(SymbolBinding<S> binding, FunctionDescriptor descriptor, Linker.Option... options) {
        return GuardedCalls.handle(Following.ENTRY, new Following<>(this, binding), descriptor, options);
    }

    /** The context of a handle that follows a binding. */
    private record Following<S>(Redirections<S> redirections, SymbolBinding<S> binding) {
        static final GuardedCalls.Entry ENTRY = GuardedCalls.entry(MethodHandles.lookup());

        @SuppressWarnings("unused")
        private static ThreadCalls enter(Object context) {
            Following<?> following = (Following<?>) context;
            ThreadCalls calls = ThreadCalls.current();
            following.redirections.enter(following.binding, calls);
            return calls;
        }
    }

    /**
     * Enters the binding's current definition (materializing a lazy one) on the calling thread: holds
     * it, or, when it was closed meanwhile and nothing replaced it, throws {@link IllegalStateException}.
     */
    private void enter(SymbolBinding<?> binding, ThreadCalls calls) {
        while (true) {
            SymbolBinding.Definition<?> definition = binding.definition();
            if (definition.lifetime() == null) {
                definition = materialize(binding);
            }
            if (definition.lifetime().tryEnter(calls, binding.name(), definition.address())) {
                return;
            }
            if (binding.definition() == definition) {
                throw new IllegalStateException("symbol " + binding.name() + " is no longer defined: "
                        + definition.lifetime().name() + " was closed");
            }
        }
    }

    /** Unmaps the stubs; the linker calls it once no set that could call through them is mapped. */
    @Override
    public void close() {
        if (indirections != null) {
            indirections.close();
        }
    }
}
