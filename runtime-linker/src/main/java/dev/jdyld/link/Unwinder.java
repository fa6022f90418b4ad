package dev.jdyld.link;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The host's unwinder ({@code libgcc_s.so.1}, the one libstdc++ throws with): a set's
 * {@code .eh_frame} sections are registered so that exceptions thrown in loaded code are caught,
 * through host frames too, and backtraces unwind through loaded code; they are deregistered
 * before the set's memory goes away.
 */
final class Unwinder {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBGCC_S = SymbolLookup.libraryLookup("libgcc_s.so.1", Arena.global());
    /* void __register_frame(void *begin);  begin: a .eh_frame list ended by a zero length word */
    private static final MethodHandle REGISTER_FRAME = LINKER.downcallHandle(LIBGCC_S.findOrThrow("__register_frame"),
            FunctionDescriptor.ofVoid(JAVA_LONG));
    /* void __deregister_frame(void *begin); */
    private static final MethodHandle DEREGISTER_FRAME = LINKER.downcallHandle(
            LIBGCC_S.findOrThrow("__deregister_frame"), FunctionDescriptor.ofVoid(JAVA_LONG));

    private Unwinder() {}

    static void register(long ehFrame) {
        try {
            REGISTER_FRAME.invokeExact(ehFrame);
        } catch (Throwable t) {
            throw new AssertionError("__register_frame downcall failed", t);
        }
    }

    static void deregister(long ehFrame) {
        try {
            DEREGISTER_FRAME.invokeExact(ehFrame);
        } catch (Throwable t) {
            throw new AssertionError("__deregister_frame downcall failed", t);
        }
    }
}
