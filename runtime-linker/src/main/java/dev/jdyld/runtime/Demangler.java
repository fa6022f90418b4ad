package dev.jdyld.runtime;

import dev.jdyld.runtime.ffi.Native;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * C++ names as people read them, through the C++ runtime's own demangler ({@code __cxa_demangle}
 * of {@code libstdc++.so.6}, the one downcall into that library): {@code _ZdlPvm} is
 * {@code operator delete(void*, unsigned long)}. Demangling never fails: a name that is not a valid
 * mangled name, or any name when libstdc++ cannot be opened, stays as it is, since error messages
 * and profiler maps must not fail because a name could not be made prettier.
 */
public final class Demangler {
    private Demangler() {}

    private static final class CxxRuntime {
        /* char *__cxa_demangle(const char *mangled, char *buffer, size_t *length, int *status); */
        static final MemorySegment CXA_DEMANGLE = findCxaDemangle();
    }

    /** The demangled form of an Itanium C++ ABI name ({@code _Z...}); any other name unchanged. */
    public static String demangle(String name) {
        if (!name.startsWith("_Z")) {
            return name;
        }
        String readable = cxaDemangle(name);
        return readable == null ? name : readable;
    }

    /** The C++ runtime's demangler, or null when there is no libstdc++ to take it from. */
    @SuppressWarnings("restricted")
    private static MemorySegment findCxaDemangle() {
        // RTLD_LOCAL (no RTLD_GLOBAL): making a name readable for a message or a profiler must not
        // make the C++ runtime's symbols resolvable for code loaded later, as a host library would.
        long library = Native.dlopen("libstdc++.so.6", Native.RTLD_NOW);
        if (library == 0) {
            return null;
        }
        try (Arena arena = Arena.ofConfined()) {
            long function = Native.dlsym(library, Native.nulTerminated(arena, "__cxa_demangle"));
            return function == 0 ? null
                    : MemorySegment.ofAddress(function);
        }
    }

    /**
     * {@code __cxa_demangle(mangled, NULL, NULL, &status)}: the name as C++ spells it, or null when
     * {@code mangled} is not a valid mangled name or libstdc++ cannot be opened.
     */
    private static String cxaDemangle(String mangled) {
        MemorySegment demangle = CxxRuntime.CXA_DEMANGLE;
        if (demangle == null) {
            return null;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment status = arena.allocate(JAVA_INT);
            long text = Native.call("__cxa_demangle", demangle, Native.nulTerminated(arena, mangled).address(), 0, 0,
                    status.address(), 0, 0);
            if (text == 0) {
                return null;
            }
            try {
                return status.get(JAVA_INT, 0) == 0 ? Native.cString(text) : null;
            } finally {
                Native.free(text); // __cxa_demangle allocates the result with malloc
            }
        }
    }
}
