package dev.jdyld.runtime.child;

import dev.jdyld.core.ExecutorException;
import dev.jdyld.runtime.ffi.Native;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The {@code jdyld-executor} program for this machine, built from {@code src/main/c/executor} by the
 * build into the jar, put into a memory file once per JVM and started as {@code /proc/PID/fd/N}:
 * nothing is written to the file system, and the JVM never runs a stale copy.
 */
final class ExecutorBinary {
    private ExecutorBinary() {}

    private static final String RESOURCE = "jdyld-executor-" + System.getProperty("os.arch");

    private static final class Holder {
        static final String PATH = load();
    }

    static String path() {
        try {
            return Holder.PATH;
        } catch (ExceptionInInitializerError | NoClassDefFoundError e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new ExecutorException(cause.getMessage(), cause);
        }
    }

    private static String load() {
        byte[] program;
        try (InputStream in = ExecutorBinary.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new ExecutorException(RESOURCE + " is not in the runtime-linker jar: it is built from"
                        + " runtime-linker/src/main/c/executor by `mvn install` (which needs cc)");
            }
            program = in.readAllBytes();
        } catch (IOException e) {
            throw new ExecutorException("cannot read " + RESOURCE + " from the jar: " + e.getMessage(), e);
        }
        int fd;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bytes = arena.allocate(program.length);
            MemorySegment.copy(MemorySegment.ofArray(program), 0, bytes, 0, program.length);
            fd = Native.memoryFile("jdyld-executor", bytes);
        }
        if (fd < 0) {
            throw new ExecutorException("cannot put " + RESOURCE + " into a memory file");
        }
        return "/proc/" + ProcessHandle.current().pid() + "/fd/" + fd;
    }
}
