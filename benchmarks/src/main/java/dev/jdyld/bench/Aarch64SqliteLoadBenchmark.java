package dev.jdyld.bench;

import dev.jdyld.core.ObjectFile;
import dev.jdyld.jit.Executor;
import dev.jdyld.jit.JitLinker;
import dev.jdyld.jit.Target;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Warm load of the SQLite program compiled for AArch64 ({@code aarch64-linux-gnu-gcc}) against
 * Debian's arm64 {@code libsqlite3.a} ({@code .ci/arm64-archives}), linked in the JVM into the
 * AArch64 executor (under qemu-user on x86-64): select, resolve, plan, map there, relocate here,
 * protect there, then close. {@link SqliteLoadBenchmark} is the same program for x86-64 in process.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class Aarch64SqliteLoadBenchmark {
    static final Path SQLITE = Path.of("/usr/aarch64-linux-gnu/lib/libsqlite3.a");

    private Path dir;
    private JitLinker linker;
    private List<ObjectFile> inputs;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        dir = Fixtures.tempDir("jdyld-aarch64-sqlite-bench");
        Path object = Fixtures.sqliteProgram(dir, "aarch64-linux-gnu-gcc", "main.o");
        inputs = List.of(ObjectFile.read(object), ObjectFile.read(SQLITE));
        // As the gcc driver links libgcc: AArch64's long double arithmetic (__multf3, ...) is there.
        linker = JitLinker.builder().executor(Executor.childProcess(Target.AARCH64)).hostLibrary("libgcc_s.so.1")
                .runInitializers(false).build();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        linker.close();
        Fixtures.delete(dir);
    }

    @Benchmark
    public long loadAndClose() {
        var set = linker.loadObjects(inputs);
        long main = set.address("main");
        set.close();
        return main;
    }
}
