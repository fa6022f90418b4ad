package dev.jdyld.runtime.lifetime;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Memory of a closed set that code may still be running in, released only once no thread can be.
 *
 * <p>A call through a handle holds the set it was entered at, but C code can leave that set: a
 * call through a linker stub that was re-pointed by a {@code redefine} after the call loaded it
 * runs on in the earlier set, which nothing in Java holds. So a set that was ever the target of a
 * linker stub is retired when it closes, not unmapped: its release waits until every thread that
 * was inside a call entered through jdyld at that moment has left that call (a grace period, as
 * RCU's: threads that enter later reach the stub's new target). A set no stub ever led to is
 * released at once. Threads that loaded code started itself ({@code pthread_create}) are not seen;
 * what they may still run is the embedder's to end before closing.
 */
public final class Retirement {
    private static final List<Retired> PENDING = new ArrayList<>();
    private static final AtomicInteger PENDING_COUNT = new AtomicInteger();

    private Retirement() {}

    private record Retired(Runnable release, List<ThreadCalls.Inside> waitingFor) {
        boolean due() {
            for (ThreadCalls.Inside inside : waitingFor) {
                if (!inside.left()) {
                    return false;
                }
            }
            return true;
        }
    }

    /**
     * Runs {@code release} once every thread now inside loaded code has left its call: now, on this
     * thread, when none is (or only this thread is not), else on the last thread to leave.
     */
    public static void after(Runnable release) {
        List<ThreadCalls.Inside> inside = ThreadCalls.inside();
        if (inside.isEmpty()) {
            release.run();
            return;
        }
        synchronized (PENDING) {
            PENDING.add(new Retired(release, inside));
            PENDING_COUNT.incrementAndGet();
        }
        releaseDue(true);
    }

    /** How many releases wait for threads to leave loaded code. */
    public static int pending() {
        return PENDING_COUNT.get();
    }

    /** A thread left its outermost call: run the releases that waited only for threads that have left. */
    static void threadLeftLoadedCode() {
        if (PENDING_COUNT.get() > 0) {
            releaseDue(false);
        }
    }

    /**
     * Runs the releases that are due. A failure is thrown to a closer ({@code toCaller}); a thread
     * that only returned from its call has nothing to do with it, so there it is reported on stderr.
     */
    private static void releaseDue(boolean toCaller) {
        List<Runnable> due = new ArrayList<>();
        synchronized (PENDING) {
            PENDING.removeIf(retired -> {
                if (retired.due()) {
                    due.add(retired.release());
                    return true;
                }
                return false;
            });
            PENDING_COUNT.set(PENDING.size());
        }
        RuntimeException failure = null;
        for (Runnable release : due) {
            try {
                release.run();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null && toCaller) {
            throw failure;
        }
        if (failure != null) {
            System.err.println("jdyld: releasing the memory of a closed set failed: " + failure);
        }
    }
}
