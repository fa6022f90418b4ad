package dev.jdyld.runtime.child;

import dev.jdyld.core.LinkException;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
        List<MemoryLayout> arguments = descriptor.argumentLayouts();
        Class<?>[] carriers = new Class<?>[arguments.size()];
        int integers = 0;
        int vectors = 0;
        for (int i = 0; i < carriers.length; i++) {
            carriers[i] = carrier(arguments.get(i), descriptor);
            if (carriers[i] == float.class || carriers[i] == double.class) {
                vectors++;
            } else {
                integers++;
            }
        }
        if (integers > 6 || vectors > 8) {
            throw new LinkException("cannot define " + descriptor + " for the executor: its arguments do not all fit the"
                    + " SysV argument registers");
        }
        Class<?> result = descriptor.returnLayout().isPresent() ? carrier(descriptor.returnLayout().get(), descriptor)
                : void.class;
        int index = entries.size();
        byte[] reply = child.request(Protocol.UPCALL_THUNK, new Protocol.Writer().u32(index).bytes(), 0);
        entries.add(new Entry(target, carriers, result));
        return new Protocol.Reader(reply, "UPCALL_THUNK reply").u64();
    }

    private static Class<?> carrier(MemoryLayout layout, FunctionDescriptor descriptor) {
        if (layout instanceof AddressLayout) {
            return MemorySegment.class;
        }
        if (layout instanceof ValueLayout value) {
            return value.carrier();
        }
        throw new LinkException("cannot define " + descriptor + " for the executor: " + layout + " is a struct by value");
    }

    /** Runs the call {@code payload} describes; its reply: rax, xmm0. */
    @SuppressWarnings("restricted")
    byte[] answer(byte[] payload) {
        Protocol.Reader in = new Protocol.Reader(payload, "UPCALL");
        int index = in.u32();
        in.u32();
        long[] integers = new long[6];
        long[] vectors = new long[8];
        for (int i = 0; i < 6; i++) {
            integers[i] = in.u64();
        }
        for (int i = 0; i < 8; i++) {
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
                if (carrier == double.class) {
                    arguments[i] = Double.longBitsToDouble(vectors[nextVector++]);
                } else if (carrier == float.class) {
                    arguments[i] = Float.intBitsToFloat((int) vectors[nextVector++]);
                } else {
                    arguments[i] = integer(carrier, integers[nextInteger++]);
                }
            }
            Object value = entry.target().invokeWithArguments(arguments);
            if (value instanceof Double d) {
                xmm0 = Double.doubleToRawLongBits(d);
            } else if (value instanceof Float f) {
                xmm0 = Float.floatToRawIntBits(f) & 0xffff_ffffL;
            } else if (value != null) {
                rax = switch (value) {
                    case Long v -> v;
                    case Integer v -> v;
                    case Short v -> v;
                    case Byte v -> v;
                    case Character v -> v;
                    case Boolean v -> v ? 1 : 0;
                    case MemorySegment v -> v.address();
                    default -> 0;
                };
            }
        } catch (Throwable t) {
            if (pending.get() == null) {
                pending.set(t);
            }
        }
        return new Protocol.Writer().u64(rax).u64(xmm0).bytes();
    }

    @SuppressWarnings("restricted")
    private static Object integer(Class<?> carrier, long value) {
        if (carrier == long.class) {
            return value;
        } else if (carrier == int.class) {
            return (int) value;
        } else if (carrier == short.class) {
            return (short) value;
        } else if (carrier == byte.class) {
            return (byte) value;
        } else if (carrier == char.class) {
            return (char) value;
        } else if (carrier == boolean.class) {
            return (value & 0xff) != 0;
        }
        return MemorySegment.ofAddress(value); // an address in the executor
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
