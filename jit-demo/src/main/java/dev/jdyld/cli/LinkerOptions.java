package dev.jdyld.cli;

import dev.jdyld.jit.JitLinker;
import dev.jdyld.memory.MemoryManager;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/** Options shared by the commands that load objects: host libraries and memory-manager modes. */
final class LinkerOptions {
    @Option(names = {"--lib", "-l"}, paramLabel = "NAME", description = {
            "Host library to dlopen for symbol resolution (repeatable): a dlopen name like",
            "libstdc++.so.6, a path, or a short name like m."})
    List<String> libraries = new ArrayList<>();

    @Option(names = "--dual-mapping", description = {
            "Write code through a separate read-write view of a memory file; the executable view",
            "is never writable (for systems that forbid making written pages executable)."})
    boolean dualMapping;

    @Option(names = "--huge-pages", description = "Align each set's code to 2 MiB and advise transparent huge pages for it.")
    boolean hugePages;

    @Option(names = "--perf-map", description = "Append loaded functions to /tmp/perf-<pid>.map for perf report.")
    boolean perfMap;

    @Option(names = "--jitdump", paramLabel = "DIR", description = {
            "Write jit-<pid>.dump in DIR for perf inject --jit (record with perf record -k 1)."})
    java.nio.file.Path jitdump;

    @Option(names = "--no-relax", description = {
            "Keep every load through the GOT as compiled: no GOTPCRELX relaxation (mov to lea, indirect",
            "to direct call or jump) for the set's own symbols."})
    boolean noRelax;

    @Option(names = "--gdb", description = "Register loaded code with GDB's JIT interface (break, bt and disassemble by name).")
    boolean gdb;

    JitLinker.Builder builder() {
        JitLinker.Builder builder = JitLinker.builder().memoryOptions(
                MemoryManager.Options.DEFAULT.withDualMapping(dualMapping).withHugePages(hugePages));
        libraries.forEach(builder::hostLibrary);
        builder.relaxGot(!noRelax);
        if (gdb) {
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
