package dev.jdyld.runtime.child;

/** Signal names as a shell prints them, and the decoding of a {@code waitpid} status. */
final class Signals {
    private Signals() {}

    static final int SIGILL = 4;
    static final int SIGTRAP = 5;
    static final int SIGABRT = 6;
    static final int SIGBUS = 7;
    static final int SIGFPE = 8;
    static final int SIGKILL = 9;
    static final int SIGSEGV = 11;
    static final int SIGSYS = 31;

    /** {@code strsignal}'s text, as a shell reports a child's death: "Segmentation fault". */
    static String describe(int signal) {
        return switch (signal) {
            case SIGILL -> "Illegal instruction";
            case SIGTRAP -> "Trace/breakpoint trap";
            case SIGABRT -> "Aborted";
            case SIGBUS -> "Bus error";
            case SIGFPE -> "Floating point exception";
            case SIGKILL -> "Killed";
            case SIGSEGV -> "Segmentation fault";
            case SIGSYS -> "Bad system call";
            default -> "Signal " + signal;
        };
    }
}

/** {@code WIFEXITED} and friends, for the status {@code waitpid} gives. */
final class WaitStatus {
    private WaitStatus() {}

    static boolean exited(int status) {
        return (status & 0x7f) == 0;
    }

    static int exitCode(int status) {
        return (status >> 8) & 0xff;
    }

    static boolean signaled(int status) {
        return ((status & 0x7f) + 1) >> 1 > 0 && (status & 0x7f) != 0x7f;
    }

    static int terminatingSignal(int status) {
        return status & 0x7f;
    }
}
