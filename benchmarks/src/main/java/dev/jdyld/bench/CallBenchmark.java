package dev.jdyld.bench;

import dev.jdyld.jit.JitLinker;
import dev.jdyld.jit.LoadedSet;
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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * What the lifetime guarantees cost. A call through a handle holds the set it enters (an atomic
 * count of the set) and records itself on the thread (a thread-local record, one fenced store on
 * the outermost call); the floor is a plain FFM downcall to the same code, which nothing guards.
 * Closing a set that a linker stub led to scans the threads that are inside calls, and retires
 * the memory instead of unmapping it when one is.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class CallBenchmark {
    static final FunctionDescriptor LONG_LONG = FunctionDescriptor.of(JAVA_LONG, JAVA_LONG);

    /** One set with {@code long add1(long)}, and the three kinds of handle to it. */
    @State(Scope.Benchmark)
    public static class Calls {
        Path dir;
        JitLinker linker;
        MethodHandle plain;
        MethodHandle ofSet;
        MethodHandle following;

        @Setup(Level.Trial)
        public void setUp() throws Exception {
            dir = Fixtures.tempDir("jdyld-call-bench");
            linker = JitLinker.create();
            LoadedSet set = linker.loadObjects(List.of(compile(dir, "add1", "long add1(long x) { return x + 1; }")));
            plain = Linker.nativeLinker().downcallHandle(MemorySegment.ofAddress(set.address("add1")), LONG_LONG);
            ofSet = set.function("add1", LONG_LONG);
            following = linker.function("add1", LONG_LONG);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            linker.close();
            Fixtures.delete(dir);
        }
    }

    @Benchmark
    public long plainDowncall(Calls calls) throws Throwable {
        return (long) calls.plain.invokeExact(41L);
    }

    @Benchmark
    public long setHandle(Calls calls) throws Throwable {
        return (long) calls.ofSet.invokeExact(41L);
    }

    @Benchmark
    public long followingHandle(Calls calls) throws Throwable {
        return (long) calls.following.invokeExact(41L);
    }

    /** Both threads call the same set: its count is one contended cache line. */
    @Benchmark
    @Threads(2)
    public long setHandleTwoThreads(Calls calls) throws Throwable {
        return (long) calls.ofSet.invokeExact(41L);
    }

    @Benchmark
    @Threads(2)
    public long plainDowncallTwoThreads(Calls calls) throws Throwable {
        return (long) calls.plain.invokeExact(41L);
    }

    /**
     * Per invocation: {@code f} loaded, a caller bound to it through the linker's stub, then {@code f}
     * redefined, so that the first set is a stub target no name leads to any more.
     */
    @State(Scope.Thread)
    public static class Closing {
        Path dir;
        JitLinker linker;
        ObjectFile first;
        ObjectFile second;
        ObjectFile caller;
        ObjectFile alone;
        LoadedSet stubTarget;
        LoadedSet plainSet;
        List<LoadedSet> loaded;

        @Setup(Level.Trial)
        public void setUp() throws Exception {
            dir = Fixtures.tempDir("jdyld-close-bench");
            linker = JitLinker.create();
            first = compile(dir, "f1", "long f(long x) { return x + 1; }");
            second = compile(dir, "f2", "long f(long x) { return x + 2; }");
            caller = compile(dir, "g", "long f(long); long g(long x) { return f(x); }");
            alone = compile(dir, "h", "long h(long x) { return x + 3; }");
        }

        @Setup(Level.Invocation)
        public void load() {
            stubTarget = linker.loadObjects(List.of(first));
            LoadedSet callerSet = linker.loadObjects(List.of(caller));
            LoadedSet redefined = linker.redefine(List.of(second));
            plainSet = linker.loadObjects(List.of(alone));
            loaded = List.of(plainSet, callerSet, redefined, stubTarget);
        }

        @TearDown(Level.Invocation)
        public void closeTheRest() {
            loaded.forEach(LoadedSet::close);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            linker.close();
            Fixtures.delete(dir);
        }
    }

    /** Closing a set no stub led to: unmapped at once. */
    @Benchmark
    public void closeSet(Closing closing) {
        closing.plainSet.close();
    }

    /** Closing a set a stub led to, with no thread inside a call: scanned, then unmapped at once. */
    @Benchmark
    public void closeStubTarget(Closing closing) {
        closing.stubTarget.close();
    }

    static ObjectFile compile(Path dir, String name, String source) throws Exception {
        Path c = Fixtures.write(dir.resolve(name + ".c"), source);
        Path o = dir.resolve(name + ".o");
        Fixtures.run(List.of("gcc", "-O2", "-fPIC", "-c", c.toString(), "-o", o.toString()));
        return new ObjectFile(name + ".o", Files.readAllBytes(o));
    }
}
