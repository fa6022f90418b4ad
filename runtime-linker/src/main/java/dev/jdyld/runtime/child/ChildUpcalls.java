package dev.jdyld.runtime.child;

import dev.jdyld.core.LinkException;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * Java code that loaded code in the executor calls: each has an index and a thunk there (made by
 * the executor, {@code JDX_UPCALL_THUNK}); a call arrives as {@code JDX_UPCALL} with the argument
 * registers, on the JVM thread whose request is waiting, and is answered with {@code rax} and
 * {@code xmm0}. An exception cannot unwind through C: the C caller gets 0, and the Java call that
 * led into the loaded code throws it when it returns.
 */
final class ChildUpcalls {
    private record Entry(MethodHandle target, Class<?>[] carriers, Class<?> result) {}

    private final ChildProcess child;
    private final List<Entry> entries = new ArrayList<>();
    /** A Java definition's exception, thrown by the request that led to it; per thread. */
    private final ThreadLocal<Throwable> pending = new ThreadLocal<>();

    ChildUpcalls(ChildProcess child) {
        this.child = child;
    }

    /** The address in the executor that calls {@code target}. */
    synchronized long define(MethodHandle target, FunctionDescriptor descriptor) {
        Class<?>[] carriers = Registers.arguments(descriptor, "cannot define for the executor");
        Class<?> result = Registers.result(descriptor, "cannot define for the executor");
        int index = entries.size();
        byte[] reply = child.request(Protocol.UPCALL_THUNK, new Protocol.Writer().u32(index).bytes(), 0);
        entries.add(new Entry(target, carriers, result));
        return new Protocol.Reader(reply, "UPCALL_THUNK reply").u64();
    }

    /** Runs the call {@code payload} describes; its reply: rax, xmm0. */
    byte[] answer(byte[] payload) {
        Protocol.Reader in = new Protocol.Reader(payload, "UPCALL");
        int index = in.u32();
        in.u32();
        long[] integers = new long[Registers.INTEGER];
        long[] vectors = new long[Registers.VECTOR];
        for (int i = 0; i < integers.length; i++) {
            integers[i] = in.u64();
        }
        for (int i = 0; i < vectors.length; i++) {
            vectors[i] = in.u64();
        }
        long rax = 0;
        long xmm0 = 0;
        try {
            Entry entry;
            synchronized (this) {
                entry = entries.get(index);
            }
            Object[] arguments = new Object[entry.carriers().length];
            int nextInteger = 0;
            int nextVector = 0;
            for (int i = 0; i < arguments.length; i++) {
                Class<?> carrier = entry.carriers()[i];
                arguments[i] = Registers.value(carrier, Registers.isVector(carrier) ? vectors[nextVector++]
                        : integers[nextInteger++]);
            }
            Object value = entry.target().invokeWithArguments(arguments);
            if (value != null && Registers.isVector(entry.result())) {
                xmm0 = Registers.bits(value);
            } else if (value != null) {
                rax = Registers.bits(value);
            }
        } catch (Throwable t) {
            if (pending.get() == null) {
                pending.set(t);
            }
        }
        return new Protocol.Writer().u64(rax).u64(xmm0).bytes();
    }

    /** Throws what a Java definition threw during the request this thread just made. */
    void rethrowPending() {
        Throwable t = pending.get();
        if (t == null) {
            return;
        }
        pending.remove();
        if (t instanceof RuntimeException e) {
            throw e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new LinkException("a Java function called from loaded code threw " + t, t);
    }
}
