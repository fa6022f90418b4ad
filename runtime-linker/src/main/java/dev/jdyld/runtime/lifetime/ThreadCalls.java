package dev.jdyld.runtime.lifetime;

import dev.jdyld.runtime.support.ExecutableStacks;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What each thread is running of loaded code: the calls it entered through jdyld (handles,
 * {@code runMain}, constructors and destructors), innermost last, each with the lifetime of the
 * set it runs in, the symbol it was entered at and the address called. It answers three questions:
 * which calls run in a set (for the message of a refused close, saying whether they are on this
 * thread), which threads are inside loaded code now (so that a closed set's memory is
 * {@linkplain Retirement retired} until they left), and whether a Java call is on this thread's
 * stack to take a failure that native code cannot (a lazy symbol that could not be materialized).
 *
 * <p>A thread's record is its own: only it writes its entries, and a call writes nothing another
 * thread writes: a set is held by the entries that name it, found by a closer's scan, not by a
 * shared count (whose cache line two threads calling one set would pass back and forth at every
 * call). Entering is fenced after the entry is written, and the call then reads the set's state;
 * closing marks the state, fenced, then scans the entries: so of a call and a close that race,
 * at least one sees the other (a call sees the close and does not start, or the close sees the call
 * and is refused). {@link #shared}'s generation is odd while the thread is inside an outermost call,
 * for {@linkplain Retirement retirements}; it is written before the fence, so a thread that enters
 * after a closer re-pointed a stub reaches the new code and one that entered before is in the
 * closer's snapshot, and leaving an outermost call is fenced before the check for retirements
 * that wait for this thread.
 */
public final class ThreadCalls {
    private static final ThreadLocal<ThreadCalls> CURRENT = ThreadLocal.withInitial(ThreadCalls::register);
    /** Every thread that ever entered a call, until it is seen dead outside of one. */
    private static final Set<ThreadCalls> ALL = ConcurrentHashMap.newKeySet();
    private static final VarHandle SHARED = MethodHandles.arrayElementVarHandle(long[].class);
    /**
     * Where the two words other threads read lie in {@link #shared}: the middle of a 128-byte array,
     * so that no other thread's record shares their cache line (records of threads are allocated
     * side by side, and every call writes these words: false sharing made two threads' calls 40%
     * slower).
     */
    private static final int GENERATION = 7;
    private static final int DEPTH = 8;

    private final Thread thread;
    /**
     * At {@link #GENERATION}: odd while inside an outermost call; at {@link #DEPTH}: the entries in
     * use. Written by this thread only (release); read by closers and by other threads' messages.
     */
    private final long[] shared = new long[16];
    private SetLifetime[] lifetimes = new SetLifetime[8];
    private String[] symbols = new String[8];
    private long[] targets = new long[8];
    /** Per depth: the enclosing call's failure, put back when the call at that depth returns. */
    private Throwable[] outerFailures = new Throwable[8];
    /** Entries in use, as this thread knows it; the copy others read is {@link #shared}'s. */
    private int depth;
    private long generation;
    /** The first failure native code could not report, for the innermost Java call to throw. */
    private Throwable failure;
    /** Whether the thread's stack was made executable (for code with GNU C nested functions). */
    private boolean stackExecutable;

    private ThreadCalls(Thread thread) {
        this.thread = thread;
    }

    private static ThreadCalls register() {
        ThreadCalls calls = new ThreadCalls(Thread.currentThread());
        ALL.add(calls);
        return calls;
    }

    /** The calling thread's record. */
    public static ThreadCalls current() {
        return CURRENT.get();
    }

    /**
     * The thread enters {@code target} in the set of {@code lifetime} at {@code symbol}; a failure
     * recorded from now on belongs to this call until it returns. Fenced: what the caller reads next
     * (the set's state, a stub's slot) is read after the entry is visible to other threads.
     */
    public void enter(SetLifetime lifetime, String symbol, long target) {
        int d = depth;
        if (d == lifetimes.length) {
            lifetimes = Arrays.copyOf(lifetimes, d * 2);
            symbols = Arrays.copyOf(symbols, d * 2);
            targets = Arrays.copyOf(targets, d * 2);
            outerFailures = Arrays.copyOf(outerFailures, d * 2);
        }
        lifetimes[d] = lifetime;
        symbols[d] = symbol;
        targets[d] = target;
        outerFailures[d] = failure;
        failure = null;
        if (d == 0) {
            SHARED.setRelease(shared, GENERATION, ++generation);
        }
        depth = d + 1;
        SHARED.setRelease(shared, DEPTH, (long) depth);
        VarHandle.fullFence();
    }

    /**
     * The innermost call returned (or threw). Returns the failure native code left for it, or
     * null, and puts back the enclosing call's. When the thread is out of loaded code then, runs
     * (after a fence) the retirements that waited only for it and threads that have left.
     */
    public Throwable exit() {
        int d = depth - 1;
        lifetimes[d] = null;
        symbols[d] = null;
        Throwable mine = failure;
        failure = outerFailures[d];
        outerFailures[d] = null;
        depth = d;
        SHARED.setRelease(shared, DEPTH, (long) d);
        if (d == 0) {
            SHARED.setRelease(shared, GENERATION, ++generation);
            VarHandle.fullFence();
            Retirement.threadLeftLoadedCode();
        }
        return mine;
    }

    /** The address the innermost call goes to. */
    public long innermostTarget() {
        return targets[depth - 1];
    }

    /**
     * {@link #enter} for entries that are not calls through a handle (constructors, destructors):
     * {@code what} names them in messages.
     */
    public void enter(SetLifetime lifetime, String what) {
        enter(lifetime, what, 0);
    }

    /**
     * Makes the thread's stack executable, once, until the thread ends: it is about to run code of
     * {@code what} that writes trampolines there.
     */
    public void needExecutableStack(String what) {
        if (!stackExecutable) {
            ExecutableStacks.makeThisThreadsExecutable(what);
            stackExecutable = true;
        }
    }

    /** Whether a Java call into loaded code is on this thread's stack. */
    public boolean inCall() {
        return depth > 0;
    }

    /**
     * Records a failure that native code cannot take for the innermost Java call on this thread;
     * the first one wins. Returns false when no Java call is on the stack.
     */
    public boolean fail(Throwable t) {
        if (depth == 0) {
            return false;
        }
        if (failure == null) {
            failure = t;
        }
        return true;
    }

    private boolean isCurrent() {
        return thread == Thread.currentThread();
    }

    /** Whether any thread has an entry into the set of {@code lifetime}; read after a fence of the caller's. */
    static boolean anyCallInto(SetLifetime lifetime) {
        for (ThreadCalls record : ALL) {
            int d = (int) (long) SHARED.getAcquire(record.shared, DEPTH);
            SetLifetime[] stack = record.lifetimes; // read after the depth: a grown array was published before it
            for (int i = 0; i < Math.min(d, stack.length); i++) {
                if (stack[i] == lifetime) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * The calls running in the set of {@code lifetime} on every thread, for messages: {@code symbol}
     * on this thread, or {@code symbol} on thread {@code name}. A racy read of other threads' stacks:
     * good for a message, not for a decision.
     */
    static List<String> describeCallsInto(SetLifetime lifetime) {
        List<String> calls = new ArrayList<>();
        for (ThreadCalls record : ALL) {
            SetLifetime[] stack = record.lifetimes;
            String[] names = record.symbols;
            int d = (int) Math.min((long) SHARED.getAcquire(record.shared, DEPTH), Math.min(stack.length, names.length));
            for (int i = 0; i < d; i++) {
                if (stack[i] == lifetime) {
                    calls.add(names[i] + (record.isCurrent() ? " on this thread" : " on thread " + record.thread.getName()));
                }
            }
        }
        return calls;
    }

    /** Threads inside an outermost call now, with the generation they are in; prunes dead threads. */
    static List<Inside> inside() {
        List<Inside> inside = new ArrayList<>();
        for (ThreadCalls record : ALL) {
            long g = (long) SHARED.getVolatile(record.shared, GENERATION);
            if ((g & 1) != 0) {
                inside.add(new Inside(record, g));
            } else if (!record.thread.isAlive()) {
                ALL.remove(record);
            }
        }
        return inside;
    }

    /** A thread that was inside loaded code in generation {@code generation}. */
    record Inside(ThreadCalls record, long generation) {
        /** Whether it has left that call since (or died: a thread cannot run code any more). */
        boolean left() {
            return (long) SHARED.getVolatile(record.shared, GENERATION) != generation || !record.thread.isAlive();
        }
    }
}
