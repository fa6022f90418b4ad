package dev.jdyld.runtime.lifetime;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A loaded set's lifetime as calls into it see it: a call holds it open, closing is refused while a
 * call runs, and a call after closing throws {@link IllegalStateException} naming the set. That is
 * what binding the target to a shared FFM arena gives, but closing a shared arena makes every JVM
 * thread stop at a handshake (tens of microseconds), which would dominate loading and closing a
 * small set. Here a call is an entry in its thread's {@link ThreadCalls}, written by that thread
 * only, and the set's state is read-mostly: a call enters (fenced) and checks the state; a close
 * marks the state closing (fenced) and looks for entries into the set, refusing if it finds one. A
 * call writes no memory that another thread's call writes, so threads calling one set do not
 * contend.
 *
 * <p>Segments of the set's data do need a shared arena; {@link #arena()} makes it on first use, and
 * closing closes it too. Closing has an intermediate step, so that several sets close together or
 * not at all: {@link #beginClose} holds off new calls, {@link #closeArena} closes the arena (which
 * refuses while a segment of it is in use), then {@link #commitClose} ends the lifetime or
 * {@link #abortClose} reopens it. A call that starts in between waits for the outcome, so it either
 * runs on an open set or fails on a closed one.
 */
public final class SetLifetime {
    private static final int OPEN = 0;
    private static final int CLOSING = 1;
    private static final int CLOSED = 2;

    private final AtomicInteger state = new AtomicInteger(OPEN);
    /** What it is the lifetime of, for messages: {@code set NAME}. */
    private final String name;
    private volatile boolean reachedThroughStub;
    /** Whether the set's code needs an executable stack on every thread that runs it. */
    private final boolean executableStack;
    /** Made on first use; guarded by this object's monitor. */
    private Arena arena;

    /**
     * An open lifetime.
     *
     * @param name            what it is the lifetime of, for messages ({@code set NAME})
     * @param executableStack whether threads that call into the set need an executable stack
     */
    public SetLifetime(String name, boolean executableStack) {
        this.name = name;
        this.executableStack = executableStack;
    }

    /** What it is the lifetime of ({@code set NAME}). */
    public String name() {
        return name;
    }

    /** A linker stub leads into the set: closed, its memory is retired until no thread can be in it. */
    public void reachedThroughStub() {
        reachedThroughStub = true;
    }

    /** Whether a linker stub ever led into the set. */
    public boolean wasReachedThroughStub() {
        return reachedThroughStub;
    }

    /**
     * The calling thread enters {@code target}, in the set, at {@code symbol}: the call is recorded
     * on the thread, which holds the set.
     *
     * @param calls  the calling thread's record
     * @param symbol where the call enters, for messages
     * @param target the address called
     * @return whether the call was entered; false, with nothing recorded, when the lifetime is over
     */
    public boolean tryEnter(ThreadCalls calls, String symbol, long target) {
        if (executableStack) {
            calls.needExecutableStack(name);
        }
        calls.enter(this, symbol, target); // fenced: the state is read after the entry is visible
        while (true) {
            int now = state.get();
            if (now == OPEN) {
                return true;
            }
            if (now == CLOSED) {
                calls.exit();
                return false;
            }
            Thread.onSpinWait(); // closing: the closer finds this entry and reopens, or it decided before
        }
    }

    /**
     * {@link #tryEnter}, or {@link IllegalStateException} naming the set when it is closed.
     *
     * @param calls  the calling thread's record
     * @param symbol where the call enters, for messages
     * @param target the address called
     */
    public void enter(ThreadCalls calls, String symbol, long target) {
        if (!tryEnter(calls, symbol, target)) {
            throw new IllegalStateException(name + " is closed");
        }
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
                int now = state.get();
                if (now == OPEN) {
                    if (arena == null) {
                        arena = Arena.ofShared();
                    }
                    return arena;
                }
                if (now == CLOSED) {
                    throw new IllegalStateException(name + " is closed");
                }
            }
            Thread.onSpinWait(); // closing: the closer decides in a moment
        }
    }

    /**
     * Holds off new calls if none runs. Returns false, changing nothing, while calls run.
     *
     * @return whether the lifetime is now closing (or closed already)
     */
    public boolean beginClose() {
        if (state.get() == CLOSED) {
            return true;
        }
        if (!state.compareAndSet(OPEN, CLOSING)) { // an atomic update: the entries are read after it
            return false;
        }
        if (ThreadCalls.anyCallInto(this)) {
            state.set(OPEN);
            return false;
        }
        return true;
    }

    /**
     * After {@link #beginClose}: closes the arena, if one was made. Returns false when a segment of
     * it is in use by a running native call; the arena then stays open.
     *
     * @return whether the arena is closed (or there was none)
     */
    public synchronized boolean closeArena() {
        if (arena == null || !arena.scope().isAlive()) {
            return true;
        }
        try {
            arena.close();
            return true;
        } catch (IllegalStateException e) {
            return false;
        }
    }

    /** After {@link #beginClose}: the lifetime is over. */
    public synchronized void commitClose() {
        state.set(CLOSED);
    }

    /**
     * After {@link #beginClose}: reopens. An arena that {@link #closeArena} closed is replaced on next
     * use (segments taken from it before stay closed).
     */
    public synchronized void abortClose() {
        if (state.get() == CLOSING) {
            if (arena != null && !arena.scope().isAlive()) {
                arena = null;
            }
            state.set(OPEN);
        }
    }

    /**
     * Ends the lifetime and closes the arena, if one was made; does nothing if closed already.
     *
     * @throws IllegalStateException naming the set and the running calls if a call runs in it, or
     *                               if a segment of its arena is in use; the lifetime stays open
     */
    public void close() {
        if (!beginClose()) {
            throw busy(true);
        }
        if (!closeArena()) {
            abortClose();
            throw busy(false);
        }
        commitClose();
    }

    /**
     * Why {@link #beginClose} ({@code calls}) or {@link #closeArena} refused, as an exception naming
     * the set and, for calls, each with its thread.
     */
    public IllegalStateException busy(boolean calls) {
        List<String> running = calls ? ThreadCalls.describeCallsInto(this) : List.of();
        return new IllegalStateException(!calls
                ? name + " cannot be closed: a segment of its data is in use by a running native call"
                : name + " cannot be closed while code runs in it"
                        + (running.isEmpty() ? "" : ": " + String.join(", ", running))
                        + "; close it when " + (running.size() == 1 ? "that call has" : "the calls have") + " returned");
    }

    /** Whether the lifetime ended. */
    public boolean isClosed() {
        return state.get() == CLOSED;
    }
}
