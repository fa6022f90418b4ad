package dev.jdyld.runtime.lifetime;

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
 * <p>A thread's record is its own: only it writes its entries. {@link #generation} is odd while
 * the thread is inside an outermost call. A thread that enters after a closer re-pointed a stub
 * must reach the new code, and one that entered before must be seen by the closer's snapshot, so
 * the generation's store must be ordered before the call loads any stub slot: a handle's call takes
 * its set's count with an atomic update right after {@link #push} (a full fence), and entries that
 * hold no count use {@link #enter}, which fences itself. Leaving is ordered the same way before
 * the check for retirements that wait for this thread.
 */
public final class ThreadCalls {
    private static final ThreadLocal<ThreadCalls> CURRENT = ThreadLocal.withInitial(ThreadCalls::register);
    /** Every thread that ever entered a call, until it is seen dead outside of one. */
    private static final Set<ThreadCalls> ALL = ConcurrentHashMap.newKeySet();
    private static final VarHandle GENERATION;
    private static final VarHandle DEPTH;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            GENERATION = lookup.findVarHandle(ThreadCalls.class, "generation", long.class);
            DEPTH = lookup.findVarHandle(ThreadCalls.class, "depth", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Thread thread;
    /** Odd while inside an outermost call; written by this thread only, read by closers (acquire). */
    private long generation;
    private SetLifetime[] lifetimes = new SetLifetime[8];
    private String[] symbols = new String[8];
    private long[] targets = new long[8];
    /** Per depth: the enclosing call's failure, put back when the call at that depth returns. */
    private Throwable[] outerFailures = new Throwable[8];
    /** Entries in use; written by this thread only (release), read racily by other threads' messages. */
    private int depth;
    /** The first failure native code could not report, for the innermost Java call to throw. */
    private Throwable failure;

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
     * recorded from now on belongs to this call until it returns. Not fenced: the caller's atomic
     * update of the set's count, right after, orders it before the call.
     */
    public void push(SetLifetime lifetime, String symbol, long target) {
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
            GENERATION.setRelease(this, generation + 1);
        }
        DEPTH.setRelease(this, d + 1);
    }

    /**
     * The innermost call returned (or threw). Returns the failure native code left for it, or
     * null, and puts back the enclosing call's. Not fenced: see {@link #leftLoadedCode()}.
     */
    public Throwable pop() {
        int d = depth - 1;
        lifetimes[d] = null;
        symbols[d] = null;
        Throwable mine = failure;
        failure = outerFailures[d];
        outerFailures[d] = null;
        DEPTH.setRelease(this, d);
        if (d == 0) {
            GENERATION.setRelease(this, generation + 1);
        }
        return mine;
    }

    /** The lifetime of the innermost call. */
    public SetLifetime innermostLifetime() {
        return lifetimes[depth - 1];
    }

    /** The address the innermost call goes to. */
    public long innermostTarget() {
        return targets[depth - 1];
    }

    /**
     * After {@link #pop} and an atomic update that orders it: when the thread is out of loaded code,
     * runs the retirements that waited only for it and threads that have left.
     */
    public void leftLoadedCode() {
        if (depth == 0) {
            Retirement.threadLeftLoadedCode();
        }
    }

    /** {@link #push} for entries that take no count of the set (constructors, destructors): fenced itself. */
    public void enter(SetLifetime lifetime, String symbol) {
        push(lifetime, symbol, 0);
        VarHandle.fullFence();
    }

    /** Leaves an entry made with {@link #enter}; returns the failure native code left for it, or null. */
    public Throwable exit() {
        Throwable mine = pop();
        VarHandle.fullFence();
        leftLoadedCode();
        return mine;
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
            int d = Math.min((int) DEPTH.getAcquire(record), Math.min(stack.length, names.length));
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
            long g = (long) GENERATION.getVolatile(record);
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
            return (long) GENERATION.getVolatile(record) != generation || !record.thread.isAlive();
        }
    }
}
