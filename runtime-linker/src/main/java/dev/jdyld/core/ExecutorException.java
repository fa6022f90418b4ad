package dev.jdyld.core;

/**
 * The process the code runs in failed, or is gone: the executor could not be started, refused a
 * request, or ended (its exit status or signal is in the message). A linker whose executor is gone
 * throws this for every later call; a new linker starts a new executor.
 */
public class ExecutorException extends LinkException {
    /**
     * A failure of the executor.
     *
     * @param what what went wrong, one line
     */
    public ExecutorException(String what) {
        super(what);
    }

    /**
     * A failure of the executor, caused by another.
     *
     * @param what  what went wrong, one line
     * @param cause the underlying failure
     */
    public ExecutorException(String what, Throwable cause) {
        super(what, cause);
    }
}
