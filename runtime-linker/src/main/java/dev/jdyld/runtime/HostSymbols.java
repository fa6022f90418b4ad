package dev.jdyld.link;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The dynamic loader's calls ({@code dlopen}, {@code dlsym}, {@code dlerror}), bound once, and
 * the host search order: the process's global scope first ({@code RTLD_DEFAULT}), then the
 * host libraries given to the linker, in order, then the JDK's view of the C library.
 */
final class HostSymbols {
    static final int RTLD_LAZY = 0x1;
    static final int RTLD_NOW = 0x2;
    static final int RTLD_GLOBAL = 0x100;
    static final long RTLD_DEFAULT = 0;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup C = LINKER.defaultLookup();
    /* void *dlopen(const char *filename, int flags); */
    private static final MethodHandle DLOPEN = LINKER.downcallHandle(C.findOrThrow("dlopen"),
            FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_INT));
    /* void *dlsym(void *handle, const char *symbol); */
    private static final MethodHandle DLSYM = LINKER.downcallHandle(C.findOrThrow("dlsym"),
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, ADDRESS));
    /* char *dlerror(void); */
    private static final MethodHandle DLERROR = LINKER.downcallHandle(C.findOrThrow("dlerror"),
            FunctionDescriptor.of(JAVA_LONG));
    /* size_t strlen(const char *s); */
    private static final MethodHandle STRLEN = LINKER.downcallHandle(C.findOrThrow("strlen"),
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));

    private final List<Long> libraries = new ArrayList<>();
    private final List<String> libraryNames = new ArrayList<>();

    private static final List<String> LIBRARY_DIRECTORIES = List.of(
            "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/usr/local/lib", "/usr/lib");

    /**
     * Opens a host library ({@code RTLD_NOW | RTLD_GLOBAL}) and adds it to the search order.
     * {@code name} is what {@code dlopen} takes ({@code libstdc++.so.6}, a path), or a short name
     * as for the compiler's {@code -l} ({@code m}, {@code stdc++}), which finds
     * {@code lib<name>.so.<version>} in the system library directories.
     */
    synchronized void addLibrary(String name) {
        long handle = dlopen(name);
        String firstError = handle == 0 ? dlerror() : null;
        if (handle == 0 && !name.contains("/") && !name.contains(".so")) {
            for (String candidate : shortNameCandidates(name)) {
                handle = dlopen(candidate);
                if (handle != 0) {
                    break;
                }
            }
        }
        if (handle == 0) {
            throw new LinkException("cannot open host library " + name + ": " + firstError);
        }
        libraries.add(handle);
        libraryNames.add(name);
    }

    private static List<String> shortNameCandidates(String name) {
        List<String> candidates = new ArrayList<>();
        String prefix = "lib" + name + ".so.";
        for (String directory : LIBRARY_DIRECTORIES) {
            java.io.File[] files = new java.io.File(directory).listFiles(
                    (dir, file) -> file.startsWith(prefix) && file.substring(prefix.length()).matches("[0-9.]+"));
            if (files != null) {
                java.util.Arrays.sort(files);
                for (java.io.File file : files) {
                    candidates.add(file.getPath());
                }
            }
        }
        candidates.add("lib" + name + ".so");
        return candidates;
    }

    private static long dlopen(String name) {
        try (Arena arena = Arena.ofConfined()) {
            return (long) DLOPEN.invokeExact(arena.allocateFrom(name), RTLD_NOW | RTLD_GLOBAL);
        } catch (Throwable t) {
            throw new AssertionError("dlopen downcall failed", t);
        }
    }

    List<String> libraryNames() {
        return List.copyOf(libraryNames);
    }

    /** Address of {@code name} in the host, or 0 when the host does not define it. */
    long find(String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cName = arena.allocateFrom(name);
            long address = (long) DLSYM.invokeExact(RTLD_DEFAULT, cName);
            if (address != 0) {
                return address;
            }
            for (long handle : libraries) {
                address = (long) DLSYM.invokeExact(handle, cName);
                if (address != 0) {
                    return address;
                }
            }
        } catch (Throwable t) {
            throw new AssertionError("dlsym downcall failed", t);
        }
        Optional<MemorySegment> fromJdk = C.find(name);
        return fromJdk.map(MemorySegment::address).orElse(0L);
    }

    @SuppressWarnings("restricted")
    private static String dlerror() {
        try {
            long message = (long) DLERROR.invokeExact();
            if (message == 0) {
                return "unknown error";
            }
            long length = (long) STRLEN.invokeExact(message);
            return MemorySegment.ofAddress(message).reinterpret(length + 1).getString(0);
        } catch (Throwable t) {
            throw new AssertionError("dlerror downcall failed", t);
        }
    }
}
