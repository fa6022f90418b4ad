package dev.jdyld.runtime;

/**
 * C++ names as people read them, through the C++ runtime's own demangler ({@code __cxa_demangle}
 * of {@code libstdc++.so.6}, bound in {@link Native}): {@code _ZdlPvm} is
 * {@code operator delete(void*, unsigned long)}. Demangling never fails: a name that is not a valid
 * mangled name, or any name when libstdc++ cannot be opened, stays as it is, since error messages
 * and profiler maps must not fail because a name could not be made prettier.
 */
public final class Demangler {
    private Demangler() {}

    /** The demangled form of an Itanium C++ ABI name ({@code _Z...}); any other name unchanged. */
    public static String demangle(String name) {
        if (!name.startsWith("_Z")) {
            return name;
        }
        String readable = Native.cxaDemangle(name);
        return readable == null ? name : readable;
    }
}
