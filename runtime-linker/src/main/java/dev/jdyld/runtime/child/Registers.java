package dev.jdyld.runtime.child;

import dev.jdyld.core.LinkException;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * Java values in SysV argument registers and back, for calls that cross to the executor and from
 * it: integers, pointers and booleans in the six integer registers, {@code float} and
 * {@code double} in the eight vector registers (a float in the low half). Structs by value and
 * arguments beyond the registers are refused when a handle is made, never mis-passed.
 */
final class Registers {
    private Registers() {}

    static final int INTEGER = 6;
    static final int VECTOR = 8;

    /** The Java carriers of {@code descriptor}'s arguments; {@code what} names the call in a refusal. */
    static Class<?>[] arguments(FunctionDescriptor descriptor, String what) {
        List<MemoryLayout> layouts = descriptor.argumentLayouts();
        Class<?>[] carriers = new Class<?>[layouts.size()];
        int integers = 0;
        int vectors = 0;
        for (int i = 0; i < carriers.length; i++) {
            carriers[i] = carrier(layouts.get(i), descriptor, what);
            if (isVector(carriers[i])) {
                vectors++;
            } else {
                integers++;
            }
        }
        if (integers > INTEGER || vectors > VECTOR) {
            throw new LinkException(what + " " + descriptor + ": more than " + INTEGER + " integer or " + VECTOR
                    + " floating-point arguments would go on the stack");
        }
        return carriers;
    }

    /** The Java carrier of {@code descriptor}'s result, {@code void.class} for none. */
    static Class<?> result(FunctionDescriptor descriptor, String what) {
        return descriptor.returnLayout().isPresent() ? carrier(descriptor.returnLayout().get(), descriptor, what)
                : void.class;
    }

    private static Class<?> carrier(MemoryLayout layout, FunctionDescriptor descriptor, String what) {
        if (layout instanceof AddressLayout) {
            return MemorySegment.class;
        }
        if (layout instanceof ValueLayout value) {
            return value.carrier();
        }
        throw new LinkException(what + " " + descriptor + ": " + layout + " is a struct passed by value,"
                + " which calls to and from the executor do not marshal");
    }

    static boolean isVector(Class<?> carrier) {
        return carrier == float.class || carrier == double.class;
    }

    /** A value's bits in its register. */
    static long bits(Object value) {
        return switch (value) {
            case Double v -> Double.doubleToRawLongBits(v);
            case Float v -> Float.floatToRawIntBits(v) & 0xffff_ffffL;
            case Long v -> v;
            case Integer v -> v;
            case Short v -> v;
            case Byte v -> v;
            case Character v -> v;
            case Boolean v -> v ? 1 : 0;
            case MemorySegment v -> v.address();
            default -> throw new IllegalArgumentException("cannot pass " + value.getClass() + " in a register");
        };
    }

    /** The value of {@code carrier} a register's bits hold ({@code null} for void). */
    @SuppressWarnings("restricted")
    static Object value(Class<?> carrier, long bits) {
        if (carrier == void.class) {
            return null;
        } else if (carrier == double.class) {
            return Double.longBitsToDouble(bits);
        } else if (carrier == float.class) {
            return Float.intBitsToFloat((int) bits);
        } else if (carrier == long.class) {
            return bits;
        } else if (carrier == int.class) {
            return (int) bits;
        } else if (carrier == short.class) {
            return (short) bits;
        } else if (carrier == char.class) {
            return (char) bits;
        } else if (carrier == byte.class) {
            return (byte) bits;
        } else if (carrier == boolean.class) {
            return (bits & 0xff) != 0;
        }
        return MemorySegment.ofAddress(bits); // an address in the executor: zero length, not to be read here
    }
}
