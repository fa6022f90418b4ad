package dev.jdyld.jit;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.ObjectFile;
import org.junit.jupiter.api.Test;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** defineLazy: callable at once, materialized exactly once on the first call from Java or loaded code. */
class LazySymbolTest extends JitApiTestBase {
    private final AtomicInteger materialized = new AtomicInteger();

    private List<ObjectFile> counted(ObjectFile object) {
        materialized.incrementAndGet();
        return List.of(object);
    }

    @Test
    void theFirstCallFromLoadedCodeMaterializesOnceAndKeepsEveryArgumentRegister() throws Throwable {
        ObjectFile square = compile("square", "int lazy_square(int x) { return x * x; }");
        ObjectFile mix = compile("mix", """
                double lazy_mix(int a, int b, int c, int d, int e, int f, double g, double h, double i, double j,
                                double k, double l, double m, double n, int o, double p) {
                    return a + 2*b + 3*c + 4*d + 5*e + 6*f + 7*g + 8*h + 9*i + 10*j + 11*k + 12*l + 13*m + 14*n + 15*o + 16*p;
                }
                """);
        linker.defineLazy("lazy_square", () -> counted(square));
        linker.defineLazy("lazy_mix", () -> counted(mix));
        LoadedSet caller = linker.loadObjects(List.of(compile("caller", """
                int lazy_square(int);
                double lazy_mix(int, int, int, int, int, int, double, double, double, double, double, double, double, double, int, double);
                int sum_squares(int n) { int s = 0; for (int i = 0; i < n; i++) s += lazy_square(i); return s; }
                double call_mix(void) { return lazy_mix(1, 2, 3, 4, 5, 6, 7.5, 8.5, 9.5, 10.5, 11.5, 12.5, 13.5, 14.5, 15, 16.5); }
                """)));
        assertThat(materialized).hasValue(0);
        MethodHandle sumSquares = caller.function("sum_squares", INT_INT);
        assertThat((int) sumSquares.invokeExact(10)).isEqualTo(285);
        assertThat((int) sumSquares.invokeExact(10)).isEqualTo(285);
        assertThat(materialized).hasValue(1);
        double expected = 1 + 2*2 + 3*3 + 4*4 + 5*5 + 6*6 + 7*7.5 + 8*8.5 + 9*9.5 + 10*10.5 + 11*11.5 + 12*12.5
                + 13*13.5 + 14*14.5 + 15*15 + 16*16.5;
        assertThat((double) caller.function("call_mix", FunctionDescriptor.of(JAVA_DOUBLE)).invokeExact()).isEqualTo(expected);
        assertThat(materialized).hasValue(2);
    }

    @Test
    void concurrentFirstCallsFromManyThreadsMaterializeExactlyOnce() throws Throwable {
        ObjectFile cube = compile("cube", "long lazy_cube(long x) { return x * x * x; }");
        linker.defineLazy("lazy_cube", () -> {
            try {
                Thread.sleep(50); // widen the window in which other first calls arrive
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return counted(cube);
        });
        LoadedSet caller = linker.loadObjects(List.of(compile("cubes", "long lazy_cube(long); long cube_of(long x) { return lazy_cube(x); }")));
        MethodHandle cubeOf = caller.function("cube_of", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
        MethodHandle direct = linker.function("lazy_cube", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService threads = Executors.newFixedThreadPool(8);
        try {
            List<Future<Long>> results = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                long x = t;
                MethodHandle handle = t % 2 == 0 ? cubeOf : direct; // from loaded code and from Java
                results.add(threads.submit(() -> {
                    start.await();
                    try {
                        return (long) handle.invokeExact(x);
                    } catch (Throwable e) {
                        throw new AssertionError(e);
                    }
                }));
            }
            start.countDown();
            for (int t = 0; t < 8; t++) {
                assertThat(results.get(t).get()).isEqualTo((long) t * t * t);
            }
        } finally {
            threads.shutdownNow();
        }
        assertThat(materialized).hasValue(1);
    }

    @Test
    void aFailingMaterializerFailsThatCallAndTheNextCallTriesAgain() throws Throwable {
        ObjectFile half = compile("half", "int lazy_half(int x) { return x / 2; }");
        AtomicInteger attempts = new AtomicInteger();
        linker.defineLazy("lazy_half", () -> {
            if (attempts.incrementAndGet() <= 2) {
                throw new IllegalStateException("compiler not ready");
            }
            return List.of(half);
        });
        MethodHandle lazyHalf = linker.function("lazy_half", INT_INT);
        assertThatThrownBy(() -> { int unused = (int) lazyHalf.invokeExact(8); })
                .isInstanceOf(LinkException.class).hasMessageContaining("symbol 'lazy_half': materializing failed")
                .hasMessageContaining("compiler not ready");
        // From loaded code the failure cannot unwind through C: the C caller gets 0 and the Java call fails.
        LoadedSet caller = linker.loadObjects(List.of(compile("halves", "int lazy_half(int); int plus_half(int x) { return x + lazy_half(x); }")));
        MethodHandle plusHalf = linker.function("plus_half", INT_INT);
        assertThatThrownBy(() -> { int unused = (int) plusHalf.invokeExact(8); })
                .isInstanceOf(LinkException.class).hasMessageContaining("compiler not ready");
        assertThat((int) plusHalf.invokeExact(8)).isEqualTo(12);
        assertThat((int) lazyHalf.invokeExact(8)).isEqualTo(4);
        assertThat(attempts).hasValue(3);
        assertThat(caller.isClosed()).isFalse();
    }

    @Test
    void objectsThatDoNotDefineTheSymbolAreRefusedAndUnloaded() {
        ObjectFile other = compile("other", "int something_else(void) { return 1; }");
        linker.defineLazy("lazy_missing", () -> List.of(other));
        MethodHandle missing = linker.function("lazy_missing", FunctionDescriptor.of(JAVA_INT));
        assertThatThrownBy(() -> { int unused = (int) missing.invokeExact(); })
                .isInstanceOf(LinkException.class).hasMessageContaining("do not define it");
        assertThat(linker.lookup("something_else")).isEmpty();
    }
}
