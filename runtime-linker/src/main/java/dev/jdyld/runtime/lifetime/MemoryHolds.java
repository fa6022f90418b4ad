package dev.jdyld.runtime.lifetime;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Why a set's memory is still mapped: the set itself while it is open, each thread-local destructor
 * its code registered on a thread that has not run it yet, a retirement waiting for threads to
 * leave it. The memory is released exactly once, by whoever gives back the last hold: the closer,
 * an exiting thread, or the last thread to leave a call.
 */
public final class MemoryHolds {
    private final AtomicInteger holds = new AtomicInteger(1);
    private final Runnable release;

    /**
     * Holds made with the owner's own hold taken.
     *
     * @param release unmaps the memory; runs once, when the last hold is given back
     */
    public MemoryHolds(Runnable release) {
        this.release = release;
    }

    /**
     * Takes a hold; refused (false) once the memory was released.
     *
     * @return whether the hold was taken
     */
    public boolean hold() {
        while (true) {
            int n = holds.get();
            if (n == 0) {
                return false;
            }
            if (holds.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    /** Gives a hold back; the last one releases the memory on this thread. */
    public void release() {
        int n = holds.decrementAndGet();
        if (n == 0) {
            release.run();
        } else if (n < 0) {
            throw new IllegalStateException("memory hold released more often than taken");
        }
    }

    /** Holds outstanding (0 once the memory is released). */
    public int count() {
        return holds.get();
    }
}
