package dev.jdyld.jit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's embedding example is the code users copy: this test takes it from README.md as it
 * stands, compiles it against the linker, runs it in a child JVM and compares what it prints with
 * the output the README shows.
 */
class EmbeddingExampleTest {
    @TempDir
    Path dir;

    @Test
    void theReadmeExampleCompilesRunsAndPrintsWhatTheReadmeSays() throws Exception {
        String readme = Files.readString(Path.of("..", "README.md"));
        String source = block(readme, "<!-- example: EmbeddingExample -->", "java");
        String expected = block(readme, "<!-- output: EmbeddingExample -->", "");
        Path file = dir.resolve("EmbeddingExample.java");
        Files.writeString(file, source);

        // The javac next to this JVM's java: the test runs on the JDK the project builds with.
        Path java = Path.of(ProcessHandle.current().info().command().orElseThrow());
        Path javac = java.resolveSibling("javac");
        Toolchain.run(List.of(javac.toString(), "-d", dir.toString(), "-cp", System.getProperty("java.class.path"),
                file.toString()));

        Process child = new ProcessBuilder(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED", "-cp",
                dir + File.pathSeparator + System.getProperty("java.class.path"), "EmbeddingExample"))
                .redirectErrorStream(true).start();
        String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(child.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(output).isEqualTo(expected);
        assertThat(child.exitValue()).isZero();
    }

    /** The fenced code block that follows {@code marker}. */
    private static String block(String readme, String marker, String language) {
        int at = readme.indexOf(marker);
        assertThat(at).as("README has " + marker).isNotNegative();
        Matcher matcher = Pattern.compile("```" + language + "\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        assertThat(matcher.find(at)).isTrue();
        return matcher.group(1);
    }
}
