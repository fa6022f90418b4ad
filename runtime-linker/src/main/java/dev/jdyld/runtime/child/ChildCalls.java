package dev.jdyld.runtime.child;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Handles that call a function in the executor: the arguments go into the SysV argument registers
 * ({@link Registers}), the result comes back from {@code rax} or {@code xmm0}.
 */
final class ChildCalls {
    private ChildCalls() {}

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
        Class<?>[] carriers = Registers.arguments(descriptor, "cannot call in the executor");
        Class<?> result = Registers.result(descriptor, "cannot call in the executor");
        MethodHandle invoker = MethodHandles.insertArguments(INVOKE, 0, target, address, carriers, result)
                .asCollector(Object[].class, carriers.length);
        return invoker.asType(MethodType.methodType(result, carriers));
    }

    private static Object invoke(ChildTarget target, long address, Class<?>[] carriers, Class<?> result, Object[] arguments) {
        long[] integers = new long[Registers.INTEGER];
        long[] vectors = new long[Registers.VECTOR];
        int nextInteger = 0;
        int nextVector = 0;
        for (int i = 0; i < arguments.length; i++) {
            if (Registers.isVector(carriers[i])) {
                vectors[nextVector++] = Registers.bits(arguments[i]);
            } else {
                integers[nextInteger++] = Registers.bits(arguments[i]);
            }
        }
        int kind = result == double.class ? Protocol.RETURN_DOUBLE
                : result == float.class ? Protocol.RETURN_FLOAT : Protocol.RETURN_INTEGER;
        long[] registers = target.call(address, kind, integers, vectors);
        return Registers.value(result, Registers.isVector(result) ? registers[1] : registers[0]);
    }
}
