package dev.jdyld.link;

import dev.jdyld.runtime.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A loaded set's lifetime as the downcall handles of its functions see it: a call holds it open,
 * closing is refused while a call runs, and a call after closing throws
 * {@link IllegalStateException}. That is what binding the target to a shared FFM arena gives, but
 * closing a shared arena makes every JVM thread stop at a handshake (tens of microseconds), which
 * would dominate loading and closing a small set; here a call takes and gives back one count with
 * an atomic update, as a shared arena's acquire and release do, and closing is one compare-and-set.
 *
 * <p>Segments of the set's data, and calls that follow a name into the set, do need a shared
 * arena; {@link #arena()} makes it on first use, and {@link #close} closes it too. Closing has an
 * intermediate step: new calls are held off, the arena is closed (which refuses while a segment
 * of it is in use), then the lifetime ends or, if the arena refused, reopens. A call that starts
 * in between waits for the outcome, so it either runs on an open set or fails on a closed one.
 */
public final class SetLifetime {
    private static final int CLOSING = -1;
    private static final int CLOSED = -2;
    private static final MethodHandle ACQUIRE;
    private static final MethodHandle RELEASE;
    /** Guarded templates per descriptor and options: {@code (SetLifetime, MemorySegment, args...)}. */
    private static final Map<List<Object>, MethodHandle> TEMPLATES = new ConcurrentHashMap<>();
    /** Beyond this many distinct signatures the cache starts over rather than grow without bound. */
    private static final int MAX_TEMPLATES = 512;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            ACQUIRE = lookup.findVirtual(SetLifetime.class, "acquire", MethodType.methodType(void.class));
            RELEASE = lookup.findVirtual(SetLifetime.class, "release", MethodType.methodType(void.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Calls running (0 or more) while open; {@link #CLOSING} or {@link #CLOSED} after. */
    private final AtomicInteger state = new AtomicInteger();
    private final String name;
    /** Made on first use; guarded by this object's monitor. */
    private Arena arena;

    /**
     * An open lifetime.
     *
     * @param name the set's name, for the message of a call after closing
     */
    public SetLifetime(String name) {
        this.name = name;
    }

    /** Holds the set open for a call; throws {@link IllegalStateException} if it is closed. */
    public void acquire() {
        while (true) {
            int calls = state.get();
            if (calls >= 0) {
                if (state.compareAndSet(calls, calls + 1)) {
                    return;
                }
            } else if (calls == CLOSED) {
                throw new IllegalStateException("set " + name + " is closed");
            } else {
                Thread.onSpinWait(); // closing: the closer decides in a moment
            }
        }
    }

    /** Ends a call begun with {@link #acquire()}. */
    public void release() {
        state.decrementAndGet();
    }

    /**
     * The set's shared arena, made on first use.
     *
     * @return the arena, open
     * @throws IllegalStateException if the lifetime is closed
     */
    public Arena arena() {
        while (true) {
            synchronized (this) {
                int calls = state.get();
                if (calls >= 0) {
                    if (arena == null) {
                        arena = Arena.ofShared();
                    }
                    return arena;
                }
                if (calls == CLOSED) {
                    throw new IllegalStateException("set " + name + " is closed");
                }
            }
            Thread.onSpinWait(); // closing: the closer decides in a moment
        }
    }

    /**
     * Ends the lifetime and closes the arena, if one was made; does nothing if closed already.
     *
     * @param busy the message of the exception thrown when a call runs or a segment is in use
     * @throws IllegalStateException with {@code busy} if a call runs or a segment of the arena is in
     *                               use (a downcall holds it); the lifetime stays open
     */
    public void close(String busy) {
        if (!state.compareAndSet(0, CLOSING)) {
            if (state.get() == CLOSED) {
                return;
            }
            throw new IllegalStateException(busy);
        }
        synchronized (this) {
            try {
                if (arena != null) {
                    arena.close();
                }
            } catch (IllegalStateException e) {
                state.set(0);
                throw new IllegalStateException(busy, e);
            }
            state.set(CLOSED);
        }
    }

    /** Whether {@link #close} ran. */
    public boolean isClosed() {
        return state.get() == CLOSED;
    }

    /**
     * A downcall handle for the function at {@code address} whose every call holds this lifetime
     * open. The guarded handle is made once per signature; a set's handle only binds its lifetime
     * and address to it.
     *
     * @param address    the function's address
     * @param descriptor its C signature
     * @param options    FFM linker options
     * @return the handle, of the descriptor's method type
     */
    @SuppressWarnings("restricted")
    public MethodHandle downcall(long address, FunctionDescriptor descriptor, Linker.Option... options) {
        List<Object> key = new ArrayList<>(options.length + 1);
        key.add(descriptor);
        key.addAll(Arrays.asList(options));
        MethodHandle template = TEMPLATES.get(key);
        if (template == null) {
            if (TEMPLATES.size() >= MAX_TEMPLATES) {
                TEMPLATES.clear();
            }
            template = TEMPLATES.computeIfAbsent(key, k -> guarded(descriptor, options));
        }
        return MethodHandles.insertArguments(template, 0, this, MemorySegment.ofAddress(address));
    }

    /** {@code (lifetime, target, args...)}: acquire, call, release whether the call returns or throws. */
    private static MethodHandle guarded(FunctionDescriptor descriptor, Linker.Option... options) {
        MethodHandle call = MethodHandles.dropArguments(Native.downcall(descriptor, options), 0, SetLifetime.class);
        Class<?> result = call.type().returnType();
        MethodHandle cleanup;
        if (result == void.class) {
            cleanup = MethodHandles.dropArguments(RELEASE, 0, Throwable.class);
        } else {
            // (Throwable, result, lifetime) -> result, releasing first
            MethodHandle passResult = MethodHandles.dropArguments(
                    MethodHandles.dropArguments(MethodHandles.identity(result), 0, Throwable.class), 2, SetLifetime.class);
            cleanup = MethodHandles.foldArguments(passResult, 2, RELEASE);
        }
        return MethodHandles.foldArguments(MethodHandles.tryFinally(call, cleanup), ACQUIRE);
    }
}
