package dev.jdyld.runtime.child;

import dev.jdyld.core.LinkException;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.List;

/**
 * Handles that call a function in the executor: the arguments go into the SysV argument registers
 * (integers and pointers in six, {@code float} and {@code double} in eight), the result comes back
 * from {@code rax} or {@code xmm0}. Structs by value and stack-passed arguments are refused when
 * the handle is made, never mis-passed.
 */
final class ChildCalls {
    private ChildCalls() {}

    private static final int INTEGER_REGISTERS = 6;
    private static final int VECTOR_REGISTERS = 8;
    private static final MethodHandle INVOKE;

    static {
        try {
            INVOKE = MethodHandles.lookup().findStatic(ChildCalls.class, "invoke", MethodType.methodType(Object.class,
                    ChildTarget.class, long.class, Class[].class, Class.class, Object[].class));
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    static MethodHandle handle(ChildTarget target, long address, FunctionDescriptor descriptor) {
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
        if (integers > INTEGER_REGISTERS || vectors > VECTOR_REGISTERS) {
            throw new LinkException("cannot call " + descriptor + " in the executor: more than " + INTEGER_REGISTERS
                    + " integer or " + VECTOR_REGISTERS + " floating-point arguments would go on the stack");
        }
        Class<?> result = descriptor.returnLayout().isPresent() ? carrier(descriptor.returnLayout().get(), descriptor) : void.class;
        MethodHandle invoker = MethodHandles.insertArguments(INVOKE, 0, target, address, carriers, result)
                .asCollector(Object[].class, carriers.length);
        return invoker.asType(MethodType.methodType(result, carriers));
    }

    private static Class<?> carrier(MemoryLayout layout, FunctionDescriptor descriptor) {
        if (layout instanceof AddressLayout) {
            return MemorySegment.class;
        }
        if (layout instanceof ValueLayout value) {
            return value.carrier();
        }
        throw new LinkException("cannot call " + descriptor + " in the executor: " + layout
                + " is passed by value as a struct, which the executor's calls do not marshal");
    }

    @SuppressWarnings("restricted")
    private static Object invoke(ChildTarget target, long address, Class<?>[] carriers, Class<?> result, Object[] arguments) {
        long[] integers = new long[INTEGER_REGISTERS];
        long[] vectors = new long[VECTOR_REGISTERS];
        int nextInteger = 0;
        int nextVector = 0;
        for (int i = 0; i < arguments.length; i++) {
            Object argument = arguments[i];
            if (carriers[i] == double.class) {
                vectors[nextVector++] = Double.doubleToRawLongBits((Double) argument);
            } else if (carriers[i] == float.class) {
                vectors[nextVector++] = Float.floatToRawIntBits((Float) argument) & 0xffff_ffffL;
            } else {
                integers[nextInteger++] = integer(argument);
            }
        }
        int kind = result == double.class ? Protocol.RETURN_DOUBLE
                : result == float.class ? Protocol.RETURN_FLOAT : Protocol.RETURN_INTEGER;
        long[] registers = target.call(address, kind, integers, vectors);
        long rax = registers[0];
        long xmm0 = registers[1];
        if (result == void.class) {
            return null;
        } else if (result == double.class) {
            return Double.longBitsToDouble(xmm0);
        } else if (result == float.class) {
            return Float.intBitsToFloat((int) xmm0);
        } else if (result == MemorySegment.class) {
            return MemorySegment.ofAddress(rax); // an address in the executor: zero length, not to be read here
        } else if (result == long.class) {
            return rax;
        } else if (result == int.class) {
            return (int) rax;
        } else if (result == short.class) {
            return (short) rax;
        } else if (result == char.class) {
            return (char) rax;
        } else if (result == byte.class) {
            return (byte) rax;
        } else if (result == boolean.class) {
            return (rax & 0xff) != 0;
        }
        throw new AssertionError("carrier " + result);
    }

    private static long integer(Object argument) {
        return switch (argument) {
            case Long value -> value;
            case Integer value -> value;
            case Short value -> value;
            case Byte value -> value;
            case Character value -> value;
            case Boolean value -> value ? 1 : 0;
            case MemorySegment segment -> segment.address();
            default -> throw new IllegalArgumentException("cannot pass " + argument.getClass() + " to the executor");
        };
    }
}
