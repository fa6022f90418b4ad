package dev.jdyld.jit;

import dev.jdyld.core.ObjectFile;
import dev.jdyld.memory.WindowUsage;
import dev.jdyld.runtime.ThreadLocalStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Loads that do not depend on each other run in parallel, and many threads loading, calling,
 * redefining and closing on one linker see no error and no wrong result. The redefinition loop is
 * bounded by time ({@code -Djdyld.stress.seconds}, default 30), the loop of independent sets by a
 * count; neither asserts anything about time.
 */
class ConcurrencyTest {
    private static final FunctionDescriptor INT_INT = FunctionDescriptor.of(JAVA_INT, JAVA_INT);
    private static final int THREADS = 8;
    private static final CountDownLatch CONSTRUCTOR_ENTERED = new CountDownLatch(1);
    private static final CountDownLatch CONSTRUCTOR_MAY_FINISH = new CountDownLatch(1);

    @TempDir
    Path dir;

    static int blockInConstructor(int unused) {
        CONSTRUCTOR_ENTERED.countDown();
        try {
            return CONSTRUCTOR_MAY_FINISH.await(60, TimeUnit.SECONDS) ? 0 : 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    @Test
    void aLoadCompletesWhileAnotherIsInsideItsConstructor() throws Throwable {
        ObjectFile slow = ObjectFile.read(Toolchain.compile(dir, "slow", """
                int block_in_constructor(int);
                static int blocked = -1;
                __attribute__((constructor)) static void init(void) { blocked = block_in_constructor(0); }
                int slow_done(void) { return blocked; }
                """, "-O2", "-fPIC"));
        ObjectFile quick = ObjectFile.read(Toolchain.compile(dir, "quick", "int quick(int x) { return x + 1; }", "-O2", "-fPIC"));
        try (JitLinker linker = JitLinker.create()) {
            linker.defineFunction("block_in_constructor", MethodHandles.lookup().findStatic(ConcurrencyTest.class,
                    "blockInConstructor", MethodType.methodType(int.class, int.class)), INT_INT);
            ExecutorService executor = Executors.newSingleThreadExecutor();
            try {
                Future<LoadedSet> slowLoad = executor.submit(() -> linker.loadObjects(List.of(slow)));
                assertThat(CONSTRUCTOR_ENTERED.await(60, TimeUnit.SECONDS)).isTrue();
                LoadedSet quickSet = linker.loadObjects(List.of(quick)); // would wait forever if loads serialized
                assertThat((int) quickSet.function("quick", INT_INT).invokeExact(1)).isEqualTo(2);
                assertThat(linker.lookup("slow_done")).as("not registered before its constructors are done").isEmpty();
                CONSTRUCTOR_MAY_FINISH.countDown();
                LoadedSet slowSet = slowLoad.get(60, TimeUnit.SECONDS);
                assertThat((int) slowSet.function("slow_done", FunctionDescriptor.of(JAVA_INT)).invokeExact()).isZero();
            } finally {
                CONSTRUCTOR_MAY_FINISH.countDown();
                executor.shutdownNow();
            }
        }
    }

    @Test
    void eightThreadsLoadCallRedefineAndCloseWithoutErrorsOrWrongResults() throws Throwable {
        long seconds = Long.getLong("jdyld.stress.seconds", 30);
        // Two versions of a function shared by all threads, computing the same values differently.
        ObjectFile sharedA = compile("shared_a", "int shared_triple(int x) { return 3 * x; }");
        ObjectFile sharedB = compile("shared_b", "int shared_triple(int x) { return x + x + x; }");
        List<ObjectFile[]> perThread = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            perThread.add(new ObjectFile[] {
                    compile("f" + t + "_v1", "int f" + t + "(int x) { return x + 1; }"),
                    compile("f" + t + "_v2", "int f" + t + "(int x) { return x + 2; }"),
                    compile("g" + t, "int f" + t + "(int); int shared_triple(int);\n"
                            + "int g" + t + "(int x) { return f" + t + "(x) * 10 + shared_triple(x); }"),
                    compile("lazy" + t, "int lazy" + t + "(int x) { return x * " + (t + 2) + "; }")});
        }
        AtomicInteger sharedMaterialized = new AtomicInteger();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        AtomicInteger iterations = new AtomicInteger();
        try (JitLinker linker = JitLinker.create()) {
            linker.defineLazy("shared_triple", () -> {
                sharedMaterialized.incrementAndGet();
                return List.of(sharedA);
            });
            MethodHandle shared = linker.function("shared_triple", INT_INT);
            ExecutorService threads = Executors.newFixedThreadPool(THREADS);
            List<Future<?>> results = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int thread = t;
                results.add(threads.submit(unchecked(() -> {
                    ObjectFile[] objects = perThread.get(thread);
                    Scope scope = linker.scope("thread" + thread).link(linker.mainScope());
                    scope.defineLazy("lazy" + thread, () -> List.of(objects[3]));
                    MethodHandle lazy = scope.function("lazy" + thread, INT_INT);
                    MethodHandle f = null;
                    int round = 0;
                    while (System.nanoTime() < deadline) {
                        round++;
                        LoadedSet v1 = scope.loadObjects(List.of(objects[0]));
                        LoadedSet caller = scope.loadObjects(List.of(objects[2]));
                        if (f == null) { // taken once: it follows f through every later round's definitions
                            f = scope.function("f" + thread, INT_INT);
                        }
                        MethodHandle g = caller.function("g" + thread, INT_INT);
                        expect((int) g.invokeExact(round), (round + 1) * 10 + 3 * round);
                        LoadedSet v2 = scope.redefine(List.of(objects[1]));
                        expect((int) g.invokeExact(round), (round + 2) * 10 + 3 * round);
                        expect((int) f.invokeExact(round), round + 2);
                        expect((int) lazy.invokeExact(round), round * (thread + 2));
                        expect((int) shared.invokeExact(round), 3 * round);
                        if (thread == 0 && round % 5 == 0) {
                            linker.redefine(List.of(round % 10 == 0 ? sharedA : sharedB)); // the shared one, under everyone's calls
                        }
                        v1.close();
                        v2.closeWithDependents();
                        if (!caller.isClosed()) {
                            throw new AssertionError("the caller of f" + thread + " outlived its callee");
                        }
                        iterations.incrementAndGet();
                    }
                })));
            }
            for (Future<?> result : results) {
                result.get(seconds + 120, TimeUnit.SECONDS);
            }
            threads.shutdown();
        }
        assertThat(iterations.get()).isGreaterThan(THREADS);
        assertThat(sharedMaterialized).hasValue(1);
    }

    /**
     * Bounded, not timed: 8 threads each load, call and close sets of their own 200 times on one
     * linker, sets with data, a constructor, unwind tables and TLS, while all of them call one
     * shared TLS set. Each fresh set starts from its initial data and TLS; each thread sees only
     * its own copy of the shared set's variable; and afterwards no set, key or unwind
     * registration of theirs is left.
     */
    @Test
    void eightThreadsLoadCallAndCloseIndependentSetsWithDataAndTls() throws Throwable {
        int rounds = 200;
        ObjectFile shared = compile("tls_shared", """
                static __thread int calls;
                int shared_calls(void) { return ++calls; }
                """);
        List<ObjectFile> own = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            own.add(compile("own" + t, """
                    __thread long total_%1$d;          /* general dynamic */
                    static __thread int calls;         /* local dynamic */
                    int table_%1$d[64] = {%1$d};
                    static int initialized;
                    __attribute__((constructor)) static void init(void) { initialized = %1$d + 1; }
                    int work_%1$d(int x) {
                        total_%1$d += x;
                        table_%1$d[x & 63] += x;
                        return ++calls * 1000 + initialized;
                    }
                    """.formatted(t)));
        }
        int keys = ThreadLocalStorage.openKeys();
        int frames = UnwindRegistration.registeredSections();
        try (JitLinker linker = JitLinker.create()) {
            MethodHandle sharedCalls = linker.loadObjects(List.of(shared)).function("shared_calls", FunctionDescriptor.of(JAVA_INT));
            ExecutorService threads = Executors.newFixedThreadPool(THREADS);
            CountDownLatch start = new CountDownLatch(THREADS);
            List<Future<?>> results = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int thread = t;
                results.add(threads.submit(unchecked(() -> {
                    start.countDown();
                    start.await(); // all threads load at once
                    for (int round = 1; round <= rounds; round++) {
                        LoadedSet set = linker.loadObjects(List.of(own.get(thread)));
                        MethodHandle work = set.function("work_" + thread, INT_INT);
                        expect((int) work.invokeExact(round), 1000 + thread + 1);
                        expect((int) work.invokeExact(1), 2000 + thread + 1);
                        MemorySegment table = set.data("table_" + thread);
                        expect(table.getAtIndex(JAVA_INT, 0), thread + ((round & 63) == 0 ? round : 0));
                        expect(table.getAtIndex(JAVA_INT, 1), 1 + ((round & 63) == 1 ? round : 0));
                        expect(set.threadLocalBlocks(), 1);
                        expect((int) sharedCalls.invokeExact(), round);
                        set.close();
                    }
                })));
            }
            for (Future<?> result : results) {
                result.get(600, TimeUnit.SECONDS); // a hang fails instead of blocking the build; not a timing check
            }
            threads.shutdown();
            assertThat(linker.lookup("work_0")).isEmpty();
            assertThat(linker.memoryManager().usage().stream().mapToInt(WindowUsage::slabs).sum())
                    .as("only the shared set").isOne();
        }
        assertThat(ThreadLocalStorage.openKeys()).isEqualTo(keys);
        assertThat(UnwindRegistration.registeredSections()).isEqualTo(frames);
    }

    interface Body {
        void run() throws Throwable;
    }

    private static java.util.concurrent.Callable<Void> unchecked(Body body) {
        return () -> {
            try {
                body.run();
            } catch (Exception | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
            return null;
        };
    }

    private static void expect(int actual, int expected) {
        if (actual != expected) {
            throw new AssertionError("expected " + expected + " but got " + actual);
        }
    }

    private ObjectFile compile(String name, String source) {
        return ObjectFile.read(Toolchain.compile(dir, name, source, "-O2", "-fPIC"));
    }
}
