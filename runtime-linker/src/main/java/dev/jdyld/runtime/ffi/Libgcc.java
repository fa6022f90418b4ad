package dev.jdyld.runtime.ffi;

import dev.jdyld.core.LinkException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;

/** The unwinder's calls ({@code libgcc_s.so.1}, what libstdc++ throws with), through {@link Native}'s call stub. */
public final class Libgcc {
    private Libgcc() {}

    /** The unwinder libstdc++ throws with; loaded when a set first registers unwind tables. */
    private static final class Unwinder {
        static final SymbolLookup LIBGCC_S = library("libgcc_s.so.1", "registering unwind tables (.eh_frame)");
        /* void __register_frame(void *begin);  begin: a .eh_frame list ended by a zero length word */
        static final MemorySegment REGISTER_FRAME = LIBGCC_S.findOrThrow("__register_frame");
        /* void __deregister_frame(void *begin); */
        static final MemorySegment DEREGISTER_FRAME = LIBGCC_S.findOrThrow("__deregister_frame");
    }

    public static void registerFrame(long ehFrame) {
        Native.call("__register_frame", unwinder(true), ehFrame);
    }

    public static void deregisterFrame(long ehFrame) {
        Native.call("__deregister_frame", unwinder(false), ehFrame);
    }

    private static MemorySegment unwinder(boolean register) {
        try {
            return register ? Unwinder.REGISTER_FRAME : Unwinder.DEREGISTER_FRAME;
        } catch (ExceptionInInitializerError | NoClassDefFoundError e) {
            // The holder failed to load libgcc_s: say so each time it is needed, not once obscurely.
            throw new LinkException("libgcc_s.so.1 cannot be loaded; it is needed for registering unwind"
                    + " tables (.eh_frame): " + (e.getCause() != null ? e.getCause().getMessage() : e.getMessage()), e);
        }
    }

    private static SymbolLookup library(String name, String neededFor) {
        try {
            return SymbolLookup.libraryLookup(name, Arena.global());
        } catch (IllegalArgumentException e) {
            throw new LinkException(name + " cannot be loaded; it is needed for " + neededFor + ": " + e.getMessage(), e);
        }
    }

}
