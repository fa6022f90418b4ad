package dev.jdyld.runtime.lifetime;

import dev.jdyld.runtime.Native;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Downcall handles into loaded code whose every call is entered and left: {@code token =
 * enter(context)} before the call (it holds the set the call goes to and records the call on the
 * thread, or throws), the call to {@code address(token)}, then {@code exit(token)} whether the call
 * returned or threw. When {@code exit} hands back a failure that native code could not report (a
 * lazy symbol that could not be materialized during the call), a call that returned throws it.
 *
 * <p>The guarded handle is generated once per signature and kind of entry; a handle binds only its
 * context to it.
 */
public final class GuardedCalls {
    private static final MethodHandle RETHROW;
    /** Templates per kind, descriptor and options: {@code (Object context, args...)}. */
    private static final Map<List<Object>, MethodHandle> TEMPLATES = new ConcurrentHashMap<>();
    /** Beyond this many distinct signatures the cache starts over rather than grow without bound. */
    private static final int MAX_TEMPLATES = 512;

    static {
        try {
            RETHROW = MethodHandles.lookup().findStatic(GuardedCalls.class, "rethrow",
                    MethodType.methodType(void.class, Throwable.class, Throwable.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * How a kind of handle enters and leaves a call: three handles of types {@code (Object)Object},
     * {@code (Object)MemorySegment} and {@code (Object)Throwable}, as static methods of its class.
     *
     * @param enter   context to token: holds the target and records the call, or throws
     * @param address token to the function to call
     * @param exit    token to the failure to throw, or null; releases what enter took
     */
    public record Entry(MethodHandle enter, MethodHandle address, MethodHandle exit) {}

    private GuardedCalls() {}

    /**
     * A handle {@code (args...)} for the descriptor that enters through {@code entry} with {@code context}.
     *
     * @param entry      how calls are entered and left
     * @param context    what {@code entry.enter} is called with
     * @param descriptor the C signature
     * @param options    FFM linker options
     * @return the handle, of the descriptor's method type
     */
    public static MethodHandle handle(Entry entry, Object context, FunctionDescriptor descriptor, Linker.Option... options) {
        List<Object> key = new ArrayList<>(options.length + 2);
        key.add(entry);
        key.add(descriptor);
        key.addAll(Arrays.asList(options));
        MethodHandle template = TEMPLATES.get(key);
        if (template == null) {
            if (TEMPLATES.size() >= MAX_TEMPLATES) {
                TEMPLATES.clear();
            }
            template = TEMPLATES.computeIfAbsent(key, k -> template(entry, descriptor, options));
        }
        return template.bindTo(context);
    }

    /** {@code (Object context, args...)}: enter, call, exit whether the call returns or throws. */
    private static MethodHandle template(Entry entry, FunctionDescriptor descriptor, Linker.Option... options) {
        MethodHandle call = Native.downcall(descriptor, options);               // (MemorySegment, args...)R
        MethodHandle withToken = MethodHandles.filterArguments(call, 0, entry.address()); // (Object token, args...)R
        // (Throwable thrown, Object token)void: exit, then throw what exit handed back if the call returned
        MethodHandle exitAndCheck = MethodHandles.filterArguments(RETHROW, 1, entry.exit());
        Class<?> result = call.type().returnType();
        MethodHandle cleanup;
        if (result == void.class) {
            cleanup = exitAndCheck;
        } else {
            // (Throwable, R, Object token)R: exitAndCheck, then pass the result on
            MethodHandle passResult = MethodHandles.dropArguments(
                    MethodHandles.dropArguments(MethodHandles.identity(result), 0, Throwable.class), 2, Object.class);
            cleanup = MethodHandles.foldArguments(passResult, MethodHandles.dropArguments(exitAndCheck, 1, result));
        }
        MethodHandle guarded = MethodHandles.tryFinally(withToken, cleanup);    // (Object token, args...)R
        return MethodHandles.filterArguments(guarded, 0, entry.enter());         // (Object context, args...)R
    }

    @SuppressWarnings("unused") // the cleanup of every guarded call
    private static void rethrow(Throwable thrown, Throwable failure) throws Throwable {
        if (thrown == null && failure != null) {
            throw failure;
        }
    }

    /** A function at a fixed address of one set: the context and token are this. */
    public record FixedTarget(SetLifetime lifetime, String symbol, MemorySegment function) {
        /** How calls of a fixed target are entered. */
        public static final Entry ENTRY = entry(MethodHandles.lookup());

        @SuppressWarnings("unused")
        private static Object enter(Object target) {
            FixedTarget fixed = (FixedTarget) target;
            fixed.lifetime.enter(fixed.symbol);
            return fixed;
        }

        @SuppressWarnings("unused")
        private static MemorySegment address(Object target) {
            return ((FixedTarget) target).function;
        }

        @SuppressWarnings("unused")
        private static Throwable exit(Object target) {
            return ((FixedTarget) target).lifetime.exit();
        }
    }

    /**
     * The entry whose handles are the static methods {@code enter}, {@code address} and {@code exit}
     * of the lookup's class, with the types {@link Entry} names.
     *
     * @param lookup a lookup of the class declaring them
     * @return the entry
     */
    public static Entry entry(MethodHandles.Lookup lookup) {
        Class<?> type = lookup.lookupClass();
        try {
            return new Entry(
                    lookup.findStatic(type, "enter", MethodType.methodType(Object.class, Object.class)),
                    lookup.findStatic(type, "address", MethodType.methodType(MemorySegment.class, Object.class)),
                    lookup.findStatic(type, "exit", MethodType.methodType(Throwable.class, Object.class)));
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("no enter/address/exit methods in " + type, e);
        }
    }
}
