package dev.jdyld.runtime;

import dev.jdyld.runtime.ffi.Native;
import dev.jdyld.runtime.support.DynamicLoader;
import dev.jdyld.core.LinkException;

import java.io.File;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The host search order, after the scopes' own definitions: the process's global scope
 * ({@code RTLD_DEFAULT}), then the host libraries given to the linker, in order, then the JDK's
 * view of the C library.
 */
public final class HostSymbols implements dev.jdyld.executor.HostLookup {
    private final List<String> libraryDirectories;
    private final List<Long> libraries = new ArrayList<>();
    private final List<String> libraryNames = new ArrayList<>();

    /** A search order whose short library names ({@code -l} style) are looked up in the directories of {@code multiarchTriple}. */
    public HostSymbols(String multiarchTriple) {
        this.libraryDirectories = directories(multiarchTriple);
    }

    private static List<String> directories(String multiarchTriple) {
        return List.of("/lib/" + multiarchTriple, "/usr/lib/" + multiarchTriple, "/lib64", "/usr/lib64", "/usr/local/lib",
                "/usr/lib");
    }

    /**
     * What to {@code dlopen} for a host library, in order: the name itself, then, for a short
     * name ({@code m}), {@code lib<name>.so.<version>} in the system library directories.
     */
    public static List<String> libraryCandidates(String multiarchTriple, String name) {
        List<String> candidates = new ArrayList<>();
        candidates.add(name);
        if (!name.contains("/") && !name.contains(".so")) {
            candidates.addAll(shortNameCandidates(directories(multiarchTriple), name));
        }
        return candidates;
    }

    /**
     * Opens a host library ({@code RTLD_NOW | RTLD_GLOBAL}) and adds it to the search order.
     * {@code name} is what {@code dlopen} takes ({@code libstdc++.so.6}, a path), or a short name
     * as for the compiler's {@code -l} ({@code m}, {@code stdc++}), which finds
     * {@code lib<name>.so.<version>} in the system library directories.
     */
    public synchronized void addLibrary(String name) {
        DynamicLoader.Opened opened = DynamicLoader.open(name, Native.RTLD_NOW | Native.RTLD_GLOBAL);
        long handle = opened.handle();
        String firstError = opened.error();
        if (handle == 0 && !name.contains("/") && !name.contains(".so")) {
            for (String candidate : shortNameCandidates(libraryDirectories, name)) {
                handle = Native.dlopen(candidate);
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

    private static List<String> shortNameCandidates(List<String> libraryDirectories, String name) {
        List<String> candidates = new ArrayList<>();
        String prefix = "lib" + name + ".so.";
        for (String directory : libraryDirectories) {
            File[] files = new File(directory).listFiles(
                    (dir, file) -> file.startsWith(prefix) && file.substring(prefix.length()).matches("[0-9.]+"));
            if (files != null) {
                Arrays.sort(files);
                for (File file : files) {
                    candidates.add(file.getPath());
                }
            }
        }
        candidates.add("lib" + name + ".so");
        return candidates;
    }

    /** Functions of libm that programs commonly call, to recognise a forgotten {@code -lm}. */
    private static final java.util.Set<String> MATH = java.util.Set.of("sin", "cos", "tan", "asin", "acos", "atan",
            "atan2", "sinh", "cosh", "tanh", "exp", "exp2", "log", "log2", "log10", "pow", "sqrt", "cbrt", "hypot",
            "floor", "ceil", "round", "lround", "trunc", "fmod", "fabs", "sinf", "cosf", "expf", "logf", "powf", "sqrtf");

    /**
     * When unresolved names look like a host library's that is not open (C++ runtime, Fortran
     * runtime, libm, the unwinder), what to add; null otherwise.
     */
    public synchronized String missingLibraryHint(List<String> unresolved) {
        return missingLibraryHint(libraryNames, unresolved);
    }

    /** As {@link #missingLibraryHint(List)}, given the libraries that are open. */
    public static String missingLibraryHint(List<String> libraryNames, List<String> unresolved) {
        record Library(String soname, String what, java.util.function.Predicate<String> defines) {}
        List<Library> candidates = List.of(
                new Library("libstdc++.so.6", "C++ runtime symbols",
                        HostSymbols::isCxxRuntimeName),
                new Library("libgfortran.so.5", "Fortran runtime symbols", name -> name.startsWith("_gfortran_")),
                new Library("libm.so.6", "math functions", MATH::contains),
                new Library("libgcc_s.so.1", "unwinder symbols", name -> name.startsWith("_Unwind_")));
        List<String> hints = new ArrayList<>();
        for (Library library : candidates) {
            String stem = library.soname().substring(3, library.soname().indexOf(".so"));
            boolean open = libraryNames.stream().anyMatch(given -> given.equals(stem) || given.contains("lib" + stem + "."));
            if (!open && unresolved.stream().anyMatch(library.defines())) {
                hints.add(library.what() + " are defined in " + library.soname() + ", which was not given as a host library"
                        + " (hostLibrary(\"" + library.soname() + "\"), or --lib " + library.soname() + " on the command line)");
            }
        }
        return hints.isEmpty() ? null : String.join("; ", hints);
    }

    /**
     * Names libstdc++ defines: members of namespace std, also under the mangling's abbreviations
     * ({@code So} is {@code std::ostream}, as in {@code _ZNSolsEi}, its {@code operator<<(int)}),
     * their type info and vtables, type info of fundamental types ({@code _ZTIi}), operator new
     * and delete, and the C++ ABI's classes and entry points.
     */
    private static final java.util.regex.Pattern CXX_RUNTIME_NAME = java.util.regex.Pattern.compile(
            "_ZN[KVr]*S[tabsiod].*|_ZSt.*|_ZT[IVST]S[tabsiod].*|_ZT[IS]P?K?[a-z]|_Z(nw|na|dl|da).*"
                    + "|_ZT[IV]N10__cxxabiv1.*|__cxa_.*|__gxx_.*");

    private static boolean isCxxRuntimeName(String name) {
        return CXX_RUNTIME_NAME.matcher(name).matches();
    }

    /** The host libraries added, as given to {@link #addLibrary}, in search order. */
    public synchronized List<String> libraryNames() {
        return List.copyOf(libraryNames);
    }

    /** Address of {@code name} in the host, or 0 when the host does not define it. */
    public long find(String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cName = Native.nulTerminated(arena, name);
            long address = Native.dlsym(Native.RTLD_DEFAULT, cName);
            if (address != 0) {
                return address;
            }
            for (long handle : handles()) {
                address = Native.dlsym(handle, cName);
                if (address != 0) {
                    return address;
                }
            }
        }
        return Native.defaultLookup(name);
    }

    private synchronized List<Long> handles() {
        return List.copyOf(libraries);
    }
}
