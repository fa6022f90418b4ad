package dev.jdyld.runtime.lifetime;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What each Java thread is running of loaded code: the calls it entered through jdyld (handles,
 * {@code runMain}, constructors and destructors), innermost last, each with the set it runs in and
 * the symbol it was entered at. It answers three questions: which calls run in a set (for the
 * message of a refused close, saying whether they are on this thread), which threads are inside
 * loaded code now (so that a closed set's memory is {@linkplain Retirement retired} until they
 * left), and whether a Java call is on this thread's stack to take a failure that native code
 * cannot (a lazy symbol that could not be materialized).
 *
 * <p>A thread's record is its own: only it writes its entries. {@link #generation} is odd while
 * the thread is inside an outermost call and is written with a full fence, so a thread that enters
 * after a closer re-pointed a stub reaches the new code, and one that entered before is seen by
 * the closer's snapshot.
 */
public final class ThreadCalls {
    private static final ThreadLocal<ThreadCalls> CURRENT = ThreadLocal.withInitial(ThreadCalls::register);
    /** Every thread that ever entered a call, until it is seen dead outside of one. */
    private static final Set<ThreadCalls> ALL = ConcurrentHashMap.newKeySet();

    private final Thread thread;
    private volatile long generation;
    private Object[] owners = new Object[8];
    private String[] symbols = new String[8];
    /** Per depth: the enclosing call's failure, put back when the call at that depth returns. */
    private Throwable[] outerFailures = new Throwable[8];
    /** Written by this thread only; volatile so that other threads' messages see a recent stack. */
    private volatile int depth;
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
     * The thread enters loaded code of {@code owner} at {@code symbol}; a failure recorded from now
     * on belongs to this call until it returns.
     */
    public void enter(Object owner, String symbol) {
        int d = depth;
        if (d == owners.length) {
            owners = java.util.Arrays.copyOf(owners, d * 2);
            symbols = java.util.Arrays.copyOf(symbols, d * 2);
            outerFailures = java.util.Arrays.copyOf(outerFailures, d * 2);
        }
        owners[d] = owner;
        symbols[d] = symbol;
        outerFailures[d] = failure;
        failure = null;
        if (d == 0) {
            generation++; // volatile: a full fence before the call loads any stub slot
        }
        depth = d + 1;
    }

    /**
     * The innermost call returned (or threw). Returns the failure native code left for it, or
     * null, and puts back the enclosing call's.
     */
    public Throwable exit() {
        int d = depth - 1;
        owners[d] = null;
        symbols[d] = null;
        Throwable mine = failure;
        failure = outerFailures[d];
        outerFailures[d] = null;
        depth = d;
        if (d == 0) {
            generation++;
            Retirement.threadLeftLoadedCode();
        }
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

    /** Whether this record's thread is the calling thread. */
    public boolean isCurrent() {
        return thread == Thread.currentThread();
    }

    /**
     * The calls running in {@code owner} on every thread, for messages: {@code symbol} on this thread,
     * or {@code symbol} on thread {@code name}. A racy read of other threads' stacks: good for a message,
     * not for a decision.
     */
    public static List<String> describeCallsInto(Object owner) {
        List<String> calls = new ArrayList<>();
        for (ThreadCalls record : ALL) {
            Object[] stack = record.owners;
            String[] names = record.symbols;
            int d = Math.min(record.depth, Math.min(stack.length, names.length));
            for (int i = 0; i < d; i++) {
                if (stack[i] == owner) {
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
            long g = record.generation;
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
            return record.generation != generation || !record.thread.isAlive();
        }
    }
}
