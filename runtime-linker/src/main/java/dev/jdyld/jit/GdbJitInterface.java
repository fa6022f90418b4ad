package dev.jdyld.jit;

import dev.jdyld.runtime.ElfImages;
import dev.jdyld.runtime.ffi.LoadedCode;
import dev.jdyld.runtime.ffi.Native;
import dev.jdyld.core.LinkException;
import dev.jdyld.core.Location;
import dev.jdyld.core.SetLayout;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * GDB's JIT interface: each finalized set is announced to a debugger with an in-memory ELF image
 * of its symbols at their load addresses (a {@code jit_code_entry} linked into
 * {@code __jit_debug_descriptor}, then a call of {@code __jit_debug_register_code}, on which gdb
 * keeps a breakpoint), and withdrawn before it closes; so {@code break}, {@code bt} and
 * {@code disassemble} know the loaded functions by name.
 *
 * <p>gdb finds the two symbols by name in a library it knows: the JVM has none, so the first use
 * writes a tiny shared object defining them ({@link ElfImages#jitDebugLibrary}) to a temporary
 * file and {@code dlopen}s it.
 */
final class GdbJitInterface implements LinkPlugin {
    /** The images gdb reads are for the process\'s own machine. */
    private static final ElfImages.Target TARGET = JitLinker.hostElfTarget();
    private static final int JIT_REGISTER_FN = 1;
    private static final int JIT_UNREGISTER_FN = 2;
    /** struct jit_descriptor { uint32_t version; uint32_t action_flag; entry *relevant_entry; entry *first_entry; } */
    private static final long ACTION = 4;
    private static final long RELEVANT = 8;
    private static final long FIRST = 16;
    /** struct jit_code_entry { entry *next; entry *prev; const char *symfile_addr; uint64_t symfile_size; } */
    private static final long ENTRY_SIZE = 32;

    private static MemorySegment descriptor;
    private static long registerCode;
    private static final Map<LoadedSet, Registration> REGISTERED = new HashMap<>();

    private record Registration(Arena arena, java.util.List<MemorySegment> entries) {}

    @Override
    public void afterFinalize(LoadedSet set) {
        synchronized (GdbJitInterface.class) {
            if (descriptor == null) {
                loadLibrary();
            }
            Arena arena = Arena.ofShared();
            java.util.List<MemorySegment> entries = new java.util.ArrayList<>();
            entries.add(register(arena, ElfImages.symbolFile(TARGET, set.layout())));
            for (dev.jdyld.core.ObjectFile object : set.objects()) {
                byte[] debug = ElfImages.debugObject(object, set.layout().sections());
                if (debug != null) {
                    entries.add(register(arena, debug));
                }
            }
            REGISTERED.put(set, new Registration(arena, entries));
        }
    }

    /** Links a symbol file into the descriptor's list and tells the debugger. */
    private static MemorySegment register(Arena arena, byte[] image) {
        MemorySegment symfile = arena.allocate(image.length, 16);
        symfile.copyFrom(MemorySegment.ofArray(image));
        MemorySegment entry = arena.allocate(ENTRY_SIZE, 8);
        MemorySegment first = descriptor.get(ADDRESS, FIRST);
        entry.set(ADDRESS, 0, first);
        entry.set(ADDRESS, 8, MemorySegment.NULL);
        entry.set(ADDRESS, 16, symfile);
        entry.set(JAVA_LONG, 24, image.length);
        if (first.address() != 0) {
            first.reinterpret(ENTRY_SIZE).set(ADDRESS, 8, entry);
        }
        descriptor.set(ADDRESS, FIRST, entry);
        notifyDebugger(entry, JIT_REGISTER_FN);
        return entry;
    }

    @Override
    public void beforeClose(LoadedSet set) {
        synchronized (GdbJitInterface.class) {
            Registration registration = REGISTERED.remove(set);
            if (registration == null) {
                return;
            }
            for (MemorySegment entry : registration.entries()) {
                MemorySegment next = entry.get(ADDRESS, 0);
                MemorySegment previous = entry.get(ADDRESS, 8);
                if (previous.address() != 0) {
                    previous.reinterpret(ENTRY_SIZE).set(ADDRESS, 0, next);
                } else {
                    descriptor.set(ADDRESS, FIRST, next);
                }
                if (next.address() != 0) {
                    next.reinterpret(ENTRY_SIZE).set(ADDRESS, 8, previous);
                }
                notifyDebugger(entry, JIT_UNREGISTER_FN);
            }
            registration.arena().close();
        }
    }

    private static void notifyDebugger(MemorySegment entry, int action) {
        descriptor.set(JAVA_INT, ACTION, action);
        descriptor.set(ADDRESS, RELEVANT, entry);
        LoadedCode.callVoid(registerCode); // gdb stops here, reads the descriptor, and continues
    }

    @SuppressWarnings("restricted")
    private static void loadLibrary() {
        Path library;
        try {
            library = Files.createTempFile("jdyld-jit-debug-", ".so");
            Files.write(library, ElfImages.jitDebugLibrary(TARGET));
            library.toFile().deleteOnExit();
        } catch (IOException e) {
            throw new LinkException(Location.NONE, "cannot write the GDB JIT interface library: " + e.getMessage(), e);
        }
        long handle = Native.dlopen(library.toString());
        if (handle == 0) {
            throw new LinkException(Location.file(library.toString()), "cannot open the GDB JIT interface library: "
                    + Native.dlerror());
        }
        try (Arena names = Arena.ofConfined()) {
            registerCode = Native.dlsym(handle, Native.nulTerminated(names, "__jit_debug_register_code"));
            long address = Native.dlsym(handle, Native.nulTerminated(names, "__jit_debug_descriptor"));
            descriptor = MemorySegment.ofAddress(address).reinterpret(24);
        }
    }
}
