package dev.jdyld.runtime.support;

import dev.jdyld.core.LinkException;

/**
 * Executable stacks for exactly the threads that run code which needs one ({@code
 * executable_stack.c}): a GNU C nested function whose address is taken is called through a
 * trampoline written on the stack. A thread's stack is made executable when it first runs such a
 * set's code, and goes back when the thread ends; threads such code starts get one through its
 * {@code pthread_create}, which resolves to {@link #pthreadCreateAddress()}.
 */
public final class ExecutableStacks {
    private ExecutableStacks() {}

    /**
     * Makes the calling thread's stack (the part its guard pages do not cover) executable until the
     * thread ends; once per thread.
     *
     * @throws LinkException naming {@code setName} when the stack cannot be made executable
     */
    public static void makeThisThreadsExecutable(String setName) {
        int error = (int) SupportLibrary.call("jdyld_stack_make_executable", SupportLibrary.JDYLD_STACK_MAKE_EXECUTABLE,
                0, 0, 0, 0, 0);
        if (error != 0) {
            throw new LinkException("cannot make the stack of thread " + Thread.currentThread().getName()
                    + " executable for set " + setName + " (errno " + error + ")");
        }
    }

    /** What {@code pthread_create} of a set that needs an executable stack resolves to. */
    public static long pthreadCreateAddress() {
        return SupportLibrary.JDYLD_PTHREAD_CREATE_EXECUTABLE_STACK;
    }
}
