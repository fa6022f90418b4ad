package dev.jdyld.bench;

import dev.jdyld.jit.JitLinker;
import dev.jdyld.core.ObjectFile;
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
 * Warm load of a program against Debian's {@code libsqlite3.a}: read nothing from disk (inputs
 * are in memory), select archive members, resolve, plan, map, copy, relocate, protect, then close.
 * Compare with {@code llvm-jitlink-14 -noexec -show-times main.o libsqlite3.a} (link time).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class SqliteLoadBenchmark {
    private Path dir;
    private JitLinker linker;
    private List<ObjectFile> inputs;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        dir = Fixtures.tempDir("jdyld-sqlite-bench");
        Path object = Fixtures.sqliteProgram(dir, "gcc", "main.o");
        inputs = List.of(ObjectFile.read(object), ObjectFile.read(Path.of("/usr/lib/x86_64-linux-gnu/libsqlite3.a")));
        linker = JitLinker.builder().runInitializers(false).build();
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
