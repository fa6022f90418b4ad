package dev.jdyld.runtime.lifetime;

import dev.jdyld.runtime.ffi.LoadedCode;
import dev.jdyld.runtime.ffi.Native;

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
 * Downcall handles into loaded code whose every call is entered and left: {@code calls =
 * enter(context)} before the call (it records the call on the thread's {@link ThreadCalls} and
 * holds the set the call goes to, or throws), the call to the address it recorded, then
 * {@link ThreadCalls#exit} whether the call returned or threw. When that hands back a failure that
 * native code could not report (a lazy symbol that could not be materialized during the call), a
 * call that returned throws it.
 *
 * <p>The guarded handle is generated once per signature and kind of entry; a handle binds only its
 * context to it.
 */
public final class GuardedCalls {
    private static final MethodHandle RETHROW;
    private static final MethodHandle ADDRESS;
    private static final MethodHandle EXIT;
    /** Templates per kind, descriptor and options: {@code (Object context, args...)}. */
    private static final Map<List<Object>, MethodHandle> TEMPLATES = new ConcurrentHashMap<>();
    /** Beyond this many distinct signatures the cache starts over rather than grow without bound. */
    private static final int MAX_TEMPLATES = 512;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            RETHROW = lookup.findStatic(GuardedCalls.class, "rethrow", MethodType.methodType(void.class, Throwable.class, Throwable.class));
            ADDRESS = lookup.findStatic(GuardedCalls.class, "address", MethodType.methodType(MemorySegment.class, ThreadCalls.class));
            EXIT = lookup.findVirtual(ThreadCalls.class, "exit", MethodType.methodType(Throwable.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * How a kind of handle enters a call: {@code (Object context)ThreadCalls}, a static method
     * {@code enter} of its class, which records the call (its lifetime and target) with
     * {@link SetLifetime#tryEnter} and returns the thread's record, or throws.
     *
     * @param enter the method handle
     */
    public record Entry(MethodHandle enter) {}

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
        MethodHandle call = LoadedCode.downcall(descriptor, options);               // (MemorySegment, args...)R
        MethodHandle withToken = MethodHandles.filterArguments(call, 0, ADDRESS); // (ThreadCalls, args...)R
        // (Throwable thrown, ThreadCalls)void: exit, then throw what exit handed back if the call returned
        MethodHandle exitAndCheck = MethodHandles.filterArguments(RETHROW, 1, EXIT);
        Class<?> result = call.type().returnType();
        MethodHandle cleanup;
        if (result == void.class) {
            cleanup = exitAndCheck;
        } else {
            // (Throwable, R, ThreadCalls)R: exitAndCheck, then pass the result on
            MethodHandle passResult = MethodHandles.dropArguments(
                    MethodHandles.dropArguments(MethodHandles.identity(result), 0, Throwable.class), 2, ThreadCalls.class);
            cleanup = MethodHandles.foldArguments(passResult, MethodHandles.dropArguments(exitAndCheck, 1, result));
        }
        MethodHandle guarded = MethodHandles.tryFinally(withToken, cleanup);    // (ThreadCalls, args...)R
        return MethodHandles.filterArguments(guarded, 0, entry.enter());         // (Object context, args...)R
    }

    @SuppressWarnings("restricted")
    private static MemorySegment address(ThreadCalls calls) {
        return MemorySegment.ofAddress(calls.innermostTarget());
    }

    @SuppressWarnings("unused") // the cleanup of every guarded call
    private static void rethrow(Throwable thrown, Throwable failure) throws Throwable {
        if (thrown == null && failure != null) {
            throw failure;
        }
    }

    /** A function at a fixed address of one set. */
    public record FixedTarget(SetLifetime lifetime, String symbol, long address) {
        /** How calls of a fixed target are entered. */
        public static final Entry ENTRY = entry(MethodHandles.lookup());

        @SuppressWarnings("unused")
        private static ThreadCalls enter(Object target) {
            FixedTarget fixed = (FixedTarget) target;
            ThreadCalls calls = ThreadCalls.current();
            fixed.lifetime.enter(calls, fixed.symbol, fixed.address);
            return calls;
        }
    }

    /**
     * The entry whose handle is the static method {@code ThreadCalls enter(Object)} of the lookup's class.
     *
     * @param lookup a lookup of the class declaring it
     * @return the entry
     */
    public static Entry entry(MethodHandles.Lookup lookup) {
        Class<?> type = lookup.lookupClass();
        try {
            return new Entry(lookup.findStatic(type, "enter", MethodType.methodType(ThreadCalls.class, Object.class)));
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("no enter method in " + type, e);
        }
    }
}
