package dev.jdyld.bench;

import dev.jdyld.core.ObjectFile;
import dev.jdyld.jit.Executor;
import dev.jdyld.jit.JitLinker;
import dev.jdyld.jit.LoadedSet;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * What isolation costs: a call of {@code int f(int)} through a set's handle, and a tiny set loaded,
 * called once and closed, with the code in the JVM's process ({@code executor=in-process}) and in a
 * child-process executor ({@code executor=child}), where each call is a round trip over the socket.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class ExecutorBenchmark {
    @Param({"in-process", "child"})
    public String executor;

    private ObjectFile object;
    private JitLinker linker;
    private LoadedSet set;
    private dev.jdyld.jit.Scope tinySets;
    private MethodHandle f;
    private int x;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        Path dir = Fixtures.tempDir("jdyld-executor-bench");
        Path source = Fixtures.write(dir.resolve("f.c"), SmallSetBenchmark.SOURCE);
        Path compiled = dir.resolve("f.o");
        Fixtures.run(List.of("gcc", "-O2", "-fPIC", "-c", source.toString(), "-o", compiled.toString()));
        object = new ObjectFile("f.o", Files.readAllBytes(compiled));
        Fixtures.delete(dir);
        linker = JitLinker.builder()
                .executor(executor.equals("child") ? Executor.childProcess() : Executor.inProcess()).build();
        set = linker.loadObjects(List.of(object));
        f = set.function("f", SmallSetBenchmark.INT_INT);
        tinySets = linker.scope("tiny"); // its own f, apart from the main scope's
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        set.close();
        linker.close();
    }

    /** One call of {@code int f(int)}. */
    @Benchmark
    public int call() throws Throwable {
        return (int) f.invokeExact(x++);
    }

    /** A tiny set loaded, called once and closed. */
    @Benchmark
    public int loadCallClose() throws Throwable {
        try (LoadedSet tiny = tinySets.loadObjects(List.of(object))) {
            return (int) tiny.function("f", SmallSetBenchmark.INT_INT).invokeExact(x++);
        }
    }
}
