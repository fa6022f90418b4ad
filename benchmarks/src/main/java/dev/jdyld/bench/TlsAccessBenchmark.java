package dev.jdyld.bench;

import dev.jdyld.jit.JitLinker;
import dev.jdyld.jit.LoadedSet;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Cost of one general-dynamic TLS access: the same C code (one {@code __tls_get_addr} call per
 * access, through a non-inlinable function) loaded by jdyld, whose emitted fast path finds the
 * block with {@code pthread_getspecific}, and linked natively into a shared library loaded with
 * {@code dlopen}, where glibc's {@code __tls_get_addr} does the work. Target: jdyld within 2x.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class TlsAccessBenchmark {
    static final int ACCESSES = 10_000;
    static final String SOURCE = """
            __thread long counter = 1;
            __attribute__((noinline)) long bump(void) { return ++counter; }
            long (*volatile bump_pointer)(void) = bump;
            long run(int n) { long sum = 0; for (int i = 0; i < n; i++) sum += bump_pointer(); return sum; }
            """;

    private Path dir;
    private JitLinker linker;
    private Arena arena;
    private MethodHandle jdyldRun;
    private MethodHandle nativeRun;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        dir = Fixtures.tempDir("jdyld-tls-bench");
        Path source = Fixtures.write(dir.resolve("tls.c"), SOURCE);
        Path object = dir.resolve("tls.o");
        Path library = dir.resolve("libtls.so");
        Fixtures.run(List.of("gcc", "-O2", "-fPIC", "-c", source.toString(), "-o", object.toString()));
        Fixtures.run(List.of("gcc", "-O2", "-fPIC", "-shared", source.toString(), "-o", library.toString()));
        linker = JitLinker.create();
        LoadedSet set = linker.load(object);
        FunctionDescriptor run = FunctionDescriptor.of(JAVA_LONG, JAVA_INT);
        jdyldRun = set.function("run", run);
        arena = Arena.ofShared();
        nativeRun = Linker.nativeLinker().downcallHandle(
                SymbolLookup.libraryLookup(library, arena).findOrThrow("run"), run);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        linker.close();
        arena.close();
        Fixtures.delete(dir);
    }

    @Benchmark
    @OperationsPerInvocation(ACCESSES)
    public long jdyldLoaded() throws Throwable {
        return (long) jdyldRun.invokeExact(ACCESSES);
    }

    @Benchmark
    @OperationsPerInvocation(ACCESSES)
    public long nativeDlopen() throws Throwable {
        return (long) nativeRun.invokeExact(ACCESSES);
    }
}
