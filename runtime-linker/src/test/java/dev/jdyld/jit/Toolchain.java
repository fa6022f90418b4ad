package dev.jdyld.jit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the machine's gcc, as and binutils for tests: fixtures are compiled at test time. Public
 * for the engine's own tests in other packages.
 */
public final class Toolchain {
    private Toolchain() {}

    /** Compiles C source to an object in {@code dir}. */
    static Path compile(Path dir, String name, String source, String... flags) {
        Path c = dir.resolve(name + ".c");
        Path o = dir.resolve(name + ".o");
        write(c, source);
        List<String> command = new ArrayList<>(List.of("gcc", "-c"));
        command.addAll(List.of(flags));
        command.addAll(List.of(c.toString(), "-o", o.toString()));
        run(command);
        return o;
    }

    /**
     * Assembles x86-64 assembly to an object in {@code dir}, marked as needing no executable stack
     * ({@code --noexecstack}: the empty {@code .note.GNU-stack} gcc emits), as gcc's output is.
     */
    public static Path assemble(Path dir, String name, String source) {
        Path s = dir.resolve(name + ".s");
        Path o = dir.resolve(name + ".o");
        write(s, source);
        run(List.of("as", "--noexecstack", s.toString(), "-o", o.toString()));
        return o;
    }

    static String run(List<String> command) {
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(120, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("timed out: " + command);
            }
            if (process.exitValue() != 0) {
                throw new AssertionError(command + " failed with " + process.exitValue() + ":\n" + output);
            }
            return output;
        } catch (IOException e) {
            throw new AssertionError("cannot run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    static void write(Path file, String text) {
        try {
            Files.writeString(file, text);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
