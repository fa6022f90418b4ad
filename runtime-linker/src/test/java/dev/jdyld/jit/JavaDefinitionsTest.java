package dev.jdyld.jit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Symbols defined from Java: loaded C code calls Java functions (upcalls) and reads Java-allocated data. */
class JavaDefinitionsTest {
    private static final AtomicLong CALLS = new AtomicLong();

    @TempDir
    Path dir;

    static long twice(long x) {
        CALLS.incrementAndGet();
        return 2 * x;
    }

    @Test
    void aCLoopCallsAJavaFunctionAMillionTimes() throws Throwable {
        Path loop = Toolchain.compile(dir, "loop", """
                long java_twice(long);
                long sum_twice(long n) { long s = 0; for (long i = 0; i < n; i++) s += java_twice(i); return s; }
                """, "-O2", "-fPIC");
        MethodHandle target = MethodHandles.lookup().findStatic(JavaDefinitionsTest.class, "twice",
                MethodType.methodType(long.class, long.class));
        try (JitLinker linker = JitLinker.create()) {
            linker.defineFunction("java_twice", target, FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
            LoadedSet set = linker.load(loop);
            MethodHandle sumTwice = set.function("sum_twice", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
            CALLS.set(0);
            long n = 1_000_000;
            assertThat((long) sumTwice.invokeExact(n)).isEqualTo(n * (n - 1));
            assertThat(CALLS.get()).isEqualTo(n);
            assertThatThrownBy(() -> linker.defineFunction("java_twice", target,
                    FunctionDescriptor.of(JAVA_LONG, JAVA_LONG))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("java_twice");
        }
    }

    @Test
    void loadedCodeReadsAndWritesDataDefinedFromJava() throws Throwable {
        Path table = Toolchain.compile(dir, "table", """
                extern int table[4];
                int sum_table(void) { int s = 0; for (int i = 0; i < 4; i++) s += table[i]; table[0] = 100; return s; }
                """, "-O2", "-fPIC");
        try (Arena arena = Arena.ofShared(); JitLinker linker = JitLinker.create()) {
            MemorySegment data = arena.allocate(JAVA_INT, 4);
            for (int i = 0; i < 4; i++) {
                data.setAtIndex(JAVA_INT, i, i + 1);
            }
            linker.defineData("table", data);
            LoadedSet set = linker.load(table);
            MethodHandle sum = set.function("sum_table", FunctionDescriptor.of(JAVA_INT));
            assertThat((int) sum.invokeExact()).isEqualTo(10);
            assertThat(data.getAtIndex(JAVA_INT, 0)).isEqualTo(100);
            assertThatThrownBy(() -> linker.defineData("heap", MemorySegment.ofArray(new int[4])))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }
}
