package dev.jdyld.jit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs a test's {@code main} in a child JVM with a time limit, for what could crash or hang the
 * JVM if it regressed: the suite's own JVM never runs it. The child gets the suite's class path,
 * native access and static-TLS tunable, and writes any crash report into {@code dir}.
 */
final class ChildJvm {
    /** How the child ended: its exit code (-1 if it had to be killed), everything it printed, and whether it crashed. */
    record Result(int exitCode, String output, boolean timedOut, boolean crashReport) {
        /** The child ended by itself, without a JVM crash report, with exit code 0. */
        Result assertCleanExit() {
            assertThat(timedOut).as("the child ended in time; output:%n%s", output).isFalse();
            assertThat(crashReport).as("no JVM crash report; output:%n%s", output).isFalse();
            assertThat(output).as("output").doesNotContain("A fatal error has been detected");
            assertThat(exitCode).as("exit code; output:%n%s", output).isZero();
            return this;
        }
    }

    private ChildJvm() {}

    static Result run(Path dir, Duration limit, Class<?> main, String... args) {
        String java = ProcessHandle.current().info().command().orElseThrow();
        Path crashReport = dir.resolve("hs_err_child.log");
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "-XX:ErrorFile=" + crashReport, "-XX:+AdjustStackSizeForTLS",
                "-cp", System.getProperty("java.class.path"), main.getName()));
        command.addAll(List.of(args));
        try {
            ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("child-output.txt").toFile());
            builder.environment().put("GLIBC_TUNABLES", "glibc.rtld.optional_static_tls=65536");
            Process child = builder.start();
            boolean ended = child.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS);
            if (!ended) {
                child.descendants().forEach(ProcessHandle::destroyForcibly);
                child.destroyForcibly();
                child.waitFor(10, TimeUnit.SECONDS);
            }
            String output = Files.readString(dir.resolve("child-output.txt"), StandardCharsets.UTF_8);
            return new Result(ended ? child.exitValue() : -1, output, !ended, Files.exists(crashReport));
        } catch (IOException e) {
            throw new AssertionError("cannot run a child JVM", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
