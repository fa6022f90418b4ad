package dev.jdyld.jit;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** The calling thread's stack as glibc knows it, for tests that look at its mapping. */
final class NativeThreadStack {
    private static final Linker LINKER = Linker.nativeLinker();
    /* pthread_t pthread_self(void); */
    private static final MethodHandle PTHREAD_SELF = handle("pthread_self", FunctionDescriptor.of(JAVA_LONG));
    /* int pthread_getattr_np(pthread_t, pthread_attr_t *); */
    private static final MethodHandle PTHREAD_GETATTR_NP = handle("pthread_getattr_np",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS));
    /* int pthread_attr_getstack(const pthread_attr_t *, void **stackaddr, size_t *stacksize); */
    private static final MethodHandle PTHREAD_ATTR_GETSTACK = handle("pthread_attr_getstack",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    /* int pthread_attr_destroy(pthread_attr_t *); */
    private static final MethodHandle PTHREAD_ATTR_DESTROY = handle("pthread_attr_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));

    private NativeThreadStack() {}

    private static MethodHandle handle(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow(name), descriptor);
    }

    /** The highest address of the calling thread's stack (its top: stacks grow down from it). */
    static long top() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attributes = arena.allocate(64, 8); // sizeof(pthread_attr_t) is 56 on x86-64
            MemorySegment address = arena.allocate(JAVA_LONG);
            MemorySegment size = arena.allocate(JAVA_LONG);
            if ((int) PTHREAD_GETATTR_NP.invokeExact((long) PTHREAD_SELF.invokeExact(), attributes) != 0) {
                throw new AssertionError("pthread_getattr_np failed");
            }
            int result = (int) PTHREAD_ATTR_GETSTACK.invokeExact(attributes, address, size);
            int ignored = (int) PTHREAD_ATTR_DESTROY.invokeExact(attributes);
            if (result != 0) {
                throw new AssertionError("pthread_attr_getstack failed");
            }
            return address.get(JAVA_LONG, 0) + size.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
