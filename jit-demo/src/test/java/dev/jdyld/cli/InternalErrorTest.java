package dev.jdyld.cli;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Whatever goes wrong, the CLI prints one line starting {@code jdyld:} and exits 1: an input
 * error names the input, and a bug of jdyld itself says so, never with a stack trace.
 */
class InternalErrorTest {
    @TempDir
    Path dir;

    @AfterEach
    void removeHook() throws Exception {
        setLoadStageHook(null);
    }

    /**
     * The linker's failure-injection seam ({@code LoadStage.setHook}), by reflection: its package
     * is not exported to the CLI's module, and tests run on the class path where it is reachable.
     */
    private static void setLoadStageHook(java.util.function.Consumer<Object> hook) throws Exception {
        Class.forName("dev.jdyld.runtime.LoadStage").getMethod("setHook", java.util.function.Consumer.class).invoke(null, hook);
    }

    private record Outcome(int status, String out, String err) {}

    private static Outcome execute(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream originalOut = System.out;
        PrintStream originalErr = System.err;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            return new Outcome(Main.execute(args), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(originalOut);
            System.setErr(originalErr);
        }
    }

    private Path compile() throws Exception {
        Path c = Files.writeString(dir.resolve("prog.c"), "int main(void) { return 3; }\n");
        return NativeToolchain.compile(List.of(c), dir, List.of("-O2")).files().get(0);
    }

    @Test
    void anUnexpectedExceptionIsOneLineNamingTheFileAndAskingForAReport() throws Exception {
        Path object = compile();
        setLoadStageHook(stage -> {
            if (stage.toString().equals("PLAN")) {
                throw new IllegalStateException("injected\nsecond line");
            }
        });
        Outcome outcome = execute("layout", object.toString());
        assertThat(outcome.status()).isEqualTo(1);
        assertThat(outcome.err()).isEqualTo("jdyld: " + object + ": internal error: "
                + "java.lang.IllegalStateException: injected second line, please report\n");
    }

    @Test
    void everyMutatedObjectThroughLayoutGivesOneJdyldLineAndExitOne() throws Exception {
        byte[] original = Files.readAllBytes(compile());
        Random random = new Random(11);
        Path mutated = dir.resolve("mutated.o");
        int failures = 0;
        for (int round = 0; round < 300; round++) {
            byte[] bytes = original.clone();
            for (int flips = 1 + random.nextInt(8); flips > 0; flips--) {
                bytes[random.nextInt(Math.min(bytes.length, 1024))] ^= (byte) (1 << random.nextInt(8));
            }
            Files.write(mutated, bytes);
            Outcome outcome = execute("layout", mutated.toString());
            if (outcome.status() != 0) {
                failures++;
                assertThat(outcome.err()).as("round %d", round).startsWith("jdyld: ").endsWith("\n")
                        .doesNotContain("internal error").hasLineCount(1);
                assertThat(outcome.status()).isEqualTo(1);
            }
        }
        assertThat(failures).as("most mutations are refused").isGreaterThan(100);
    }
}
