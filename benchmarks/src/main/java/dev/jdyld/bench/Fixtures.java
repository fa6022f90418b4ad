package dev.jdyld.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** Compiles benchmark fixtures with the machine's gcc at setup time. */
public final class Fixtures {
    private Fixtures() {}

    public static Path tempDir(String prefix) throws IOException {
        return Files.createTempDirectory(prefix);
    }

    public static Path write(Path file, String text) throws IOException {
        return Files.writeString(file, text);
    }

    public static void run(List<String> command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (process.waitFor() != 0) {
            throw new IOException(command + " failed:\n" + output);
        }
    }

    /**
     * The SQLite program the load figures use (open an in-memory database, run one statement,
     * close it), written to {@code dir} and compiled {@code -O2 -c} by {@code compiler}
     * ({@code gcc}, {@code aarch64-linux-gnu-gcc}) into {@code objectName}.
     */
    public static Path sqliteProgram(Path dir, String compiler, String objectName) throws IOException, InterruptedException {
        Path source = write(dir.resolve(objectName.replace(".o", ".c")), """
                #include <sqlite3.h>
                int main(void) { sqlite3 *db; sqlite3_open(":memory:", &db);
                  sqlite3_exec(db, "select 1", 0, 0, 0); return sqlite3_close(db); }
                """);
        Path object = dir.resolve(objectName);
        run(List.of(compiler, "-O2", "-c", source.toString(), "-o", object.toString()));
        return object;
    }

    public static void delete(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(file);
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
