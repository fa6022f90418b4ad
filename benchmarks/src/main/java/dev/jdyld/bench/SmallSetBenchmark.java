package dev.jdyld.bench;

import dev.jdyld.jit.JitLinker;
import dev.jdyld.jit.LoadedSet;
import dev.jdyld.core.ObjectFile;
import dev.jdyld.memory.MemoryManager;
import dev.jdyld.memory.WindowUsage;
import org.openjdk.jmh.annotations.AuxCounters;
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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The cost of a tiny set: {@code int f(int x) { return x + 1; }} (gcc {@code -O2 -fPIC}) loaded
 * from memory, called once through {@link LoadedSet#function} and closed, on one thread and on two
 * threads sharing one linker (each thread loads into a scope of its own, as independent users of
 * one linker would). {@code footprint} loads {@value #FOOTPRINT_SETS} sets at once and reports,
 * as secondary results, the native bytes committed and the Java heap retained per open set.
 *
 * <p>{@code mapping=plain} is the default memory manager, {@code mapping=dual} the dual-mapped one.
 * Eight warm-up iterations: the load path is large, and on a busy two-core machine C2 takes ten
 * seconds or more to compile it.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 8, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class SmallSetBenchmark {
    static final String SOURCE = "int f(int x) { return x + 1; }\n";
    static final FunctionDescriptor INT_INT = FunctionDescriptor.of(JAVA_INT, JAVA_INT);
    static final int FOOTPRINT_SETS = 2_000;

    @Param({"plain", "dual"})
    public String mapping;

    ObjectFile object;
    JitLinker linker;
    private final AtomicInteger threads = new AtomicInteger();

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        Path dir = Fixtures.tempDir("jdyld-small-bench");
        Path source = Fixtures.write(dir.resolve("f.c"), SOURCE);
        Path compiled = dir.resolve("f.o");
        Fixtures.run(List.of("gcc", "-O2", "-fPIC", "-c", source.toString(), "-o", compiled.toString()));
        object = new ObjectFile("f.o", Files.readAllBytes(compiled));
        Fixtures.delete(dir);
        linker = JitLinker.builder()
                .memoryOptions(MemoryManager.Options.DEFAULT.withDualMapping(mapping.equals("dual"))).build();
        for (int i = 0; i < FOOTPRINT_SETS; i++) {
            linker.scope("footprint" + i); // made now, so that the footprint counts only what sets retain
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        linker.close();
    }

    /** A scope per benchmark thread: every set defines {@code f}, and a scope has one definition per name. */
    @State(Scope.Thread)
    public static class PerThread {
        dev.jdyld.jit.Scope scope;
        List<ObjectFile> inputs;

        @Setup(Level.Trial)
        public void setUp(SmallSetBenchmark shared) {
            scope = shared.linker.scope("thread" + shared.threads.getAndIncrement());
            inputs = List.of(shared.object);
        }
    }

    static int loadCallClose(PerThread thread) throws Throwable {
        try (LoadedSet set = thread.scope.loadObjects(thread.inputs)) {
            MethodHandle f = set.function("f", INT_INT);
            return (int) f.invokeExact(41);
        }
    }

    /** Load, call and close on one thread. */
    @Benchmark
    @Threads(1)
    public int loadCallClose1Thread(PerThread thread) throws Throwable {
        return loadCallClose(thread);
    }

    /** Load, call and close on two threads at once, one linker; the score is the two threads' sum. */
    @Benchmark
    @Threads(2)
    public int loadCallClose2Threads(PerThread thread) throws Throwable {
        return loadCallClose(thread);
    }

    /** Per open set: committed native bytes and retained heap, as secondary results. */
    @AuxCounters(AuxCounters.Type.EVENTS)
    @State(Scope.Thread)
    public static class Footprint {
        /** Native bytes the memory manager committed, divided by the sets open. */
        public double committedBytesPerSet;
        /** Java heap retained (after full GCs), divided by the sets open. */
        public double heapBytesPerSet;
    }

    /**
     * Loads {@value #FOOTPRINT_SETS} sets into one scope each, measures, closes them: one
     * invocation in one measured iteration (JMH sums event counters over iterations), so the
     * secondary results are per-set figures.
     */
    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @Warmup(iterations = 2, batchSize = 1)
    @Measurement(iterations = 1, batchSize = 1)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public int footprint(Footprint footprint) throws Throwable {
        MemoryMXBean heap = ManagementFactory.getMemoryMXBean();
        long heapBefore = retainedHeap(heap);
        long committedBefore = committed();
        List<LoadedSet> sets = new ArrayList<>(FOOTPRINT_SETS);
        List<ObjectFile> inputs = List.of(object);
        for (int i = 0; i < FOOTPRINT_SETS; i++) {
            sets.add(linker.scope("footprint" + i).loadObjects(inputs));
        }
        long heapAfter = retainedHeap(heap);
        footprint.committedBytesPerSet = (double) (committed() - committedBefore) / FOOTPRINT_SETS;
        footprint.heapBytesPerSet = (double) (heapAfter - heapBefore) / FOOTPRINT_SETS;
        int sum = 0;
        for (LoadedSet set : sets) {
            sum += (int) set.function("f", INT_INT).invokeExact(1);
            set.close();
        }
        return sum;
    }

    private long committed() {
        return linker.memoryManager().usage().stream().mapToLong(WindowUsage::committed).sum();
    }

    private static long retainedHeap(MemoryMXBean heap) {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return heap.getHeapMemoryUsage().getUsed();
    }
}
