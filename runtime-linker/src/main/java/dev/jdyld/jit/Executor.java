package dev.jdyld.jit;

import java.time.Duration;
import java.util.Objects;

/**
 * Where a linker's code runs: in this JVM's process ({@link #inProcess()}, the default and the
 * fastest), or in a child process of its own ({@link #childProcess()}), where a crash of loaded
 * code ends the child, never the JVM: the call that was running throws
 * {@link dev.jdyld.core.ExecutorCrashedException} with the signal and the function, later calls on
 * that linker throw {@link dev.jdyld.core.ExecutorException}, and a new linker starts a new child.
 *
 * <p>With a child, the linker still links in the JVM, writing the sets in place into memory files
 * the child maps at the same addresses with their final permissions; only small control messages
 * cross the socket pair the two share. Function handles marshal integer, pointer and
 * floating-point arguments (up to the SysV registers: six and eight) and the result; a set's
 * {@code data} is a segment of the JVM's view of the child's memory.
 */
public final class Executor {
    private final boolean child;
    private final Duration callTimeout;
    private final Target target;

    private Executor(boolean child, Duration callTimeout, Target target) {
        this.child = child;
        this.callTimeout = callTimeout;
        this.target = target;
    }

    /**
     * The JVM's own process: calls are plain FFM downcalls.
     *
     * @return the in-process executor
     */
    public static Executor inProcess() {
        return new Executor(false, Duration.ZERO, Target.host());
    }

    /**
     * A child process ({@code jdyld-executor}) started for the linker, ended when the linker is closed.
     *
     * @return a child-process executor without a call timeout
     */
    public static Executor childProcess() {
        return new Executor(true, Duration.ZERO, Target.host());
    }

    /**
     * A child-process executor for {@code target}'s machine: the linker links for it (relocation
     * rules, stubs, TLS of that architecture) and the child runs its code, under qemu-user when
     * this machine is another ({@code jdyld-executor-aarch64} is built where
     * {@code aarch64-linux-gnu-gcc} is installed). Host libraries are that machine's.
     *
     * @param target the machine the code is for
     * @return a child-process executor without a call timeout
     */
    public static Executor childProcess(Target target) {
        return new Executor(true, Duration.ZERO, Objects.requireNonNull(target, "target"));
    }

    /**
     * This child-process executor with a limit on each call into loaded code (and each request):
     * when it passes, the child is killed and the call throws
     * {@link dev.jdyld.core.ExecutorCrashedException}.
     *
     * @param timeout the limit; zero for none
     * @return the changed executor
     * @throws IllegalStateException for the in-process executor, whose calls cannot be stopped
     */
    public Executor callTimeout(Duration timeout) {
        if (!child) {
            throw new IllegalStateException("a call in the JVM's own process cannot be stopped: use Executor.childProcess()");
        }
        return new Executor(true, Objects.requireNonNull(timeout, "timeout"), target);
    }

    /**
     * Whether the code runs in a child process.
     *
     * @return true for {@link #childProcess()}
     */
    public boolean isChildProcess() {
        return child;
    }

    /**
     * The limit on each call in the child; zero for none.
     *
     * @return the timeout
     */
    public Duration callTimeout() {
        return callTimeout;
    }

    /**
     * The machine the code is for and runs on.
     *
     * @return the target; the JVM's own machine for {@link #inProcess()}
     */
    public Target target() {
        return target;
    }

    @Override
    public String toString() {
        return child ? "child process" + (target.isHost() ? "" : " for " + target.machine()) + (callTimeout.isZero() ? "" : " (call timeout " + callTimeout + ")") : "in process";
    }
}
