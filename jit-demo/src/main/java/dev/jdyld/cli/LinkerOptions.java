package dev.jdyld.cli;

import dev.jdyld.core.UnresolvedSymbolException;
import dev.jdyld.jit.JitLinker;
import dev.jdyld.jit.LoadedSet;
import dev.jdyld.jit.Executor;
import dev.jdyld.jit.JitLinkerBuilder;
import dev.jdyld.jit.Target;
import dev.jdyld.memory.MemoryManager;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Options shared by the commands that load objects: host libraries and memory-manager modes. */
final class LinkerOptions {
    static final Main.Option[] OPTIONS = {
            new Main.Option("-l", "--lib", "NAME", "Host library to dlopen for symbol resolution (repeatable): a"
                    + " dlopen name like libstdc++.so.6, a path, or a short name like m."),
            new Main.Option(null, "--dual-mapping", null, "Write code through a separate read-write view of a memory"
                    + " file; the executable view is never writable (for systems that forbid making written pages"
                    + " executable)."),
            new Main.Option(null, "--huge-pages", null, "Align each set's code to 2 MiB and advise transparent huge"
                    + " pages for it."),
            new Main.Option(null, "--perf-map", null, "Append loaded functions to /tmp/perf-<pid>.map for perf report."),
            new Main.Option(null, "--jitdump", "DIR", "Write jit-<pid>.dump in DIR for perf inject --jit (record with"
                    + " perf record -k 1)."),
            new Main.Option(null, "--no-relax", null, "Keep every load through the GOT as compiled: no GOTPCRELX"
                    + " relaxation (mov to lea, indirect to direct call or jump) for the set's own symbols."),
            new Main.Option(null, "--gdb", null, "Register loaded code with GDB's JIT interface (break, bt and"
                    + " disassemble by name)."),
            new Main.Option(null, "--isolate", null, "Run the code in a child process (jdyld-executor): a crash of"
                    + " the code ends the child, reported with its signal and function, never jdyld."),
            new Main.Option(null, "--target", "MACHINE", "Link for MACHINE (x86_64, aarch64) and run the code in a"
                    + " child executor for it (implies --isolate); on another machine it runs under qemu-user."),
    };

    List<String> libraries = new ArrayList<>();
    boolean dualMapping;
    boolean hugePages;
    boolean perfMap;
    Path jitdump;
    boolean noRelax;
    boolean gdb;
    boolean isolate;
    Target target = Target.host();

    /**
     * Loads {@code files} as one set; when they need the C++ runtime and it was not given, adds it and
     * loads again, as {@code g++} links libstdc++ by default (a failed load leaves nothing behind).
     */
    static LoadedSet load(JitLinker linker, List<Path> files) {
        try {
            return linker.load(files);
        } catch (UnresolvedSymbolException e) {
            boolean cxxRuntime = e.symbols().stream().anyMatch(name -> name.startsWith("_Z") || name.startsWith("__cxa_")
                    || name.startsWith("__gxx_"));
            if (!cxxRuntime || linker.hostLibraries().stream().anyMatch(library -> library.contains("stdc++"))) {
                throw e;
            }
            linker.addHostLibrary("libstdc++.so.6");
            return linker.load(files);
        }
    }

    /** {@code options} followed by these. */
    static Main.Option[] with(Main.Option... options) {
        Main.Option[] all = new Main.Option[options.length + OPTIONS.length];
        System.arraycopy(options, 0, all, 0, options.length);
        System.arraycopy(OPTIONS, 0, all, options.length, OPTIONS.length);
        return all;
    }

    /** Applies one of these options; false when {@code longName} is not one of them. */
    boolean set(String longName, String value) {
        switch (longName) {
            case "--lib" -> libraries.add(value);
            case "--dual-mapping" -> dualMapping = true;
            case "--huge-pages" -> hugePages = true;
            case "--perf-map" -> perfMap = true;
            case "--jitdump" -> jitdump = Path.of(value);
            case "--gdb" -> gdb = true;
            case "--no-relax" -> noRelax = true;
            case "--isolate" -> isolate = true;
            case "--target" -> {
                target = Target.of(value); // an unknown name is a usage error
                isolate |= !target.isHost();
            }
            default -> {
                return false;
            }
        }
        return true;
    }

    JitLinkerBuilder builder() {
        JitLinkerBuilder builder = JitLinker.builder().memoryOptions(
                MemoryManager.Options.DEFAULT.withDualMapping(dualMapping).withHugePages(hugePages));
        // What the gcc driver links by default besides libc and libm (which the process has):
        // libgcc_s, for _Unwind_* (C++ and Rust unwinding, backtraces); for every command alike.
        if (libraries.stream().noneMatch(library -> library.contains("gcc_s"))) {
            builder.hostLibrary("libgcc_s.so.1");
        }
        for (String library : libraries) {
            builder.hostLibrary(library);
        }
        builder.relaxGot(!noRelax);
        if (isolate) {
            builder.executor(Executor.childProcess(target));
        }
        // As a native link does: a set that needs an executable stack gets one (run warns, as ld does).
        builder.executableStack(true);
        if (gdb) {
            Main.needShutdownHooks(); // the interface's library is a temporary file, deleted at exit
            builder.plugin(dev.jdyld.jit.LinkPlugin.gdbJitInterface());
        }
        if (perfMap) {
            builder.plugin(dev.jdyld.jit.LinkPlugin.perfMap());
        }
        if (jitdump != null) {
            builder.plugin(dev.jdyld.jit.LinkPlugin.jitdump(jitdump));
        }
        return builder;
    }
}
