package dev.jdyld.runtime.child;

import dev.jdyld.core.ExecutorException;
import dev.jdyld.runtime.ffi.Native;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The {@code jdyld-executor} program for a machine, built from {@code src/main/c/executor} by the
 * build into the jar ({@code jdyld-executor-amd64}; {@code jdyld-executor-aarch64} where the cross
 * compiler is installed), put into a memory file once per JVM and started as {@code /proc/PID/fd/N}:
 * nothing is written to the file system, and the JVM never runs a stale copy. An executor for
 * another machine than this one's runs under qemu-user.
 */
final class ExecutorBinary {
    private ExecutorBinary() {}

    /** The machine of this JVM's process, as {@code os.arch} names it. */
    static final String HOST = System.getProperty("os.arch");
    /** Where Debian's cross libraries for qemu-user's {@code -L} are, by machine. */
    private static final Map<String, String> SYSROOT = Map.of("aarch64", "/usr/aarch64-linux-gnu");

    private static final Map<String, String> LOADED = new ConcurrentHashMap<>();

    /** The host machine's executor. */
    static String path() {
        return path(HOST);
    }

    /** The executor for {@code machine} ({@code amd64}, {@code aarch64}), in a memory file. */
    static String path(String machine) {
        return LOADED.computeIfAbsent(machine, ExecutorBinary::load);
    }

    /**
     * The command that starts the executor for {@code machine}: the program itself on its own
     * machine, else {@code qemu-<machine> -L SYSROOT} in front of it.
     */
    static List<String> command(String machine) {
        String program = path(machine);
        if (machine.equals(HOST)) {
            return List.of(program);
        }
        Path qemu = Path.of("/usr/bin/qemu-" + machine);
        if (!Files.isExecutable(qemu)) {
            throw new ExecutorException("an executor for " + machine + " on " + HOST + " runs under " + qemu
                    + ", which is not installed (apt-get install qemu-user)");
        }
        return List.of(qemu.toString(), "-L", SYSROOT.getOrDefault(machine, "/usr/" + machine + "-linux-gnu"), program);
    }

    /** What the executor's own reserve of static TLS is, unless the environment already says. */
    private static final String STATIC_TLS_TUNABLE = "glibc.rtld.optional_static_tls";
    private static final long STATIC_TLS_RESERVE = 65536;

    /**
     * The JVM's environment for the executor (qemu-user passes it on), with a static TLS reserve of
     * 64 KiB: glibc fixes it when the process starts, and sets whose thread-locals are in static
     * TLS (all of them on AArch64) take it from there.
     */
    static java.lang.foreign.MemorySegment environment(java.lang.foreign.Arena arena) {
        java.util.Map<String, String> variables = new java.util.TreeMap<>(System.getenv());
        String tunables = variables.getOrDefault("GLIBC_TUNABLES", "");
        if (!tunables.contains(STATIC_TLS_TUNABLE + "=")) {
            variables.put("GLIBC_TUNABLES", (tunables.isEmpty() ? "" : tunables + ":") + STATIC_TLS_TUNABLE + "="
                    + STATIC_TLS_RESERVE);
        }
        java.lang.foreign.MemorySegment environment = arena.allocate(java.lang.foreign.ValueLayout.JAVA_LONG, variables.size() + 1L);
        int i = 0;
        for (java.util.Map.Entry<String, String> variable : variables.entrySet()) {
            environment.setAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG, i++, Native.nulTerminated(arena, variable.getKey() + "=" + variable.getValue())
                    .address());
        }
        environment.setAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG, i, 0L);
        return environment;
    }

    private static String load(String machine) {
        String resource = "jdyld-executor-" + machine;
        byte[] program;
        try (InputStream in = ExecutorBinary.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new ExecutorException(resource + " is not in the runtime-linker jar: it is built from"
                        + " runtime-linker/src/main/c/executor by `mvn install` (which needs cc"
                        + (machine.equals(HOST) ? "" : ", and " + machine + "-linux-gnu-gcc for " + machine) + ")");
            }
            program = in.readAllBytes();
        } catch (IOException e) {
            throw new ExecutorException("cannot read " + resource + " from the jar: " + e.getMessage(), e);
        }
        int fd = Native.memoryFile("jdyld-executor-" + machine, program);
        if (fd < 0) {
            throw new ExecutorException("cannot put " + resource + " into a memory file");
        }
        return "/proc/" + ProcessHandle.current().pid() + "/fd/" + fd;
    }
}
