package dev.jdyld.runtime;

import dev.jdyld.jit.LinkException;

import java.io.File;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The host search order: symbols defined from Java first (upcall stubs, data segments), then the
 * process's global scope ({@code RTLD_DEFAULT}), then the host libraries given to the linker, in
 * order, then the JDK's view of the C library.
 */
public final class HostSymbols {
    private final List<String> libraryDirectories;
    private final List<Long> libraries = new ArrayList<>();
    private final List<String> libraryNames = new ArrayList<>();
    private final java.util.Map<String, Long> javaDefinitions = new java.util.concurrent.ConcurrentHashMap<>();

    /** A search order whose short library names ({@code -l} style) are looked up in the directories of {@code multiarchTriple}. */
    public HostSymbols(String multiarchTriple) {
        this.libraryDirectories = List.of("/lib/" + multiarchTriple, "/usr/lib/" + multiarchTriple, "/lib64",
                "/usr/lib64", "/usr/local/lib", "/usr/lib");
    }

    /**
     * Opens a host library ({@code RTLD_NOW | RTLD_GLOBAL}) and adds it to the search order.
     * {@code name} is what {@code dlopen} takes ({@code libstdc++.so.6}, a path), or a short name
     * as for the compiler's {@code -l} ({@code m}, {@code stdc++}), which finds
     * {@code lib<name>.so.<version>} in the system library directories.
     */
    public synchronized void addLibrary(String name) {
        long handle = Native.dlopen(name);
        String firstError = handle == 0 ? Native.dlerror() : null;
        if (handle == 0 && !name.contains("/") && !name.contains(".so")) {
            for (String candidate : shortNameCandidates(name)) {
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

    private List<String> shortNameCandidates(String name) {
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

    public synchronized List<String> libraryNames() {
        return List.copyOf(libraryNames);
    }

    /** Defines {@code name} at {@code address}, ahead of the host's own symbols; false if it is defined from Java already. */
    public boolean define(String name, long address) {
        return javaDefinitions.putIfAbsent(name, address) == null;
    }

    /** Address of {@code name} in the host, or 0 when the host does not define it. */
    public long find(String name) {
        Long defined = javaDefinitions.get(name);
        if (defined != null) {
            return defined;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cName = arena.allocateFrom(name);
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
