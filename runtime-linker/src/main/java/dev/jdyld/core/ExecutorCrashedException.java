package dev.jdyld.core;

import java.util.List;

/**
 * Loaded code running in a child-process executor died of a signal (a segmentation fault, an
 * illegal instruction, {@code abort()}, a stack overflow, a call that outlived its timeout). The
 * JVM goes on; the executor is gone, with every set that lived in it.
 */
public final class ExecutorCrashedException extends ExecutorException {
    /** The signal number. */
    private final int signal;
    /** {@code si_addr}. */
    private final long faultAddress;
    /** Frames, innermost first. */
    private final List<String> backtrace;

    /**
     * A crash report.
     *
     * @param what         the one-line report: signal, function, set
     * @param signal       the signal number the executor died of
     * @param faultAddress the address the fault concerned ({@code si_addr}), 0 when the signal has none
     * @param backtrace    the crashing thread's frames, innermost first, symbolized where jdyld knows the code
     */
    public ExecutorCrashedException(String what, int signal, long faultAddress, List<String> backtrace) {
        super(what);
        this.signal = signal;
        this.faultAddress = faultAddress;
        this.backtrace = List.copyOf(backtrace);
    }

    /**
     * The signal the executor died of, e.g. 11 for SIGSEGV.
     *
     * @return the signal number
     */
    public int signal() {
        return signal;
    }

    /**
     * The faulting address ({@code si_addr}): the bad pointer of a SIGSEGV or SIGBUS, the
     * instruction of a SIGILL or SIGFPE; 0 when the signal carries none.
     *
     * @return the address
     */
    public long faultAddress() {
        return faultAddress;
    }

    /**
     * The frames of the crashing thread, innermost first: {@code fib+0x12 in set prog.o}, or
     * an address where the code is not jdyld's.
     *
     * @return the frames
     */
    public List<String> backtrace() {
        return backtrace;
    }
}
