package dev.jdyld.cli;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The C library's stdio, for the REPL: loaded code writes through C's {@code stdout} buffer and
 * the REPL through Java's, so C's is flushed before the REPL prints.
 */
final class CStdio {
    private CStdio() {}

    private static final class Handles {
        /* int fflush(FILE *stream); */
        static final MethodHandle FFLUSH = Linker.nativeLinker().downcallHandle(
                Linker.nativeLinker().defaultLookup().findOrThrow("fflush"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    /** {@code fflush(NULL)}: every C output stream. */
    static void flushAll() {
        try {
            int unused = (int) Handles.FFLUSH.invokeExact(MemorySegment.NULL);
        } catch (Throwable t) {
            throw new IllegalStateException("fflush failed", t);
        }
    }
}
