package dev.jdyld.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * C++ names as people read them, through the C++ runtime's own demangler ({@code __cxa_demangle}
 * of {@code libstdc++.so.6}, the one binding to that library): {@code _ZdlPvm} is
 * {@code operator delete(void*, unsigned long)}. Without libstdc++ a name stays as it is: error
 * messages must not fail because a name could not be made prettier.
 */
public final class Demangler {
    private Demangler() {}

    private static final class CxxAbi {
        /* char *__cxa_demangle(const char *mangled, char *buffer, size_t *length, int *status); */
        static final MethodHandle CXA_DEMANGLE = bind();

        private static MethodHandle bind() {
            long library = Native.dlopen("libstdc++.so.6");
            if (library == 0) {
                return null;
            }
            try (Arena arena = Arena.ofConfined()) {
                long function = Native.dlsym(library, arena.allocateFrom("__cxa_demangle"));
                return function == 0 ? null : Native.downcall(function,
                        FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));
            }
        }
    }

    /** The demangled form of an Itanium C++ ABI name ({@code _Z...}); any other name unchanged. */
    public static String demangle(String name) {
        MethodHandle demangle = name.startsWith("_Z") ? CxxAbi.CXA_DEMANGLE : null;
        if (demangle == null) {
            return name;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment status = arena.allocate(JAVA_INT);
            long text = (long) demangle.invokeExact(arena.allocateFrom(name), 0L, 0L, status);
            if (text == 0 || status.get(JAVA_INT, 0) != 0) {
                return name; // not a valid mangled name after all
            }
            try {
                return Native.cString(text);
            } finally {
                Native.free(text);
            }
        } catch (Throwable t) {
            throw new AssertionError("__cxa_demangle downcall failed", t);
        }
    }
}
