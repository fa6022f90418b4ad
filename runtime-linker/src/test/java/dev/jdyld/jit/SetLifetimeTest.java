package dev.jdyld.jit;

import dev.jdyld.memory.MemoryManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Misuse of sets' lifetimes is refused with an exception, never a crash: stale handles and
 * segments, closing a set that is running or that other sets use, closing a memory manager under
 * live sets, loading into a closed linker.
 */
class SetLifetimeTest {
    private static final FunctionDescriptor INT_INT_INT = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT);

    @TempDir
    Path dir;

    @Test
    void handlesAndSegmentsOfAClosedSetThrowEvenWhenItsAddressesAreReused() throws Throwable {
        Path add = Toolchain.compile(dir, "add", "int add(int a, int b) { return a + b; } int counter = 5;", "-O2", "-fPIC");
        Path sub = Toolchain.compile(dir, "sub", "int sub(int a, int b) { return a - b; }", "-O2", "-fPIC");
        try (JitLinker linker = JitLinker.create()) {
            LoadedSet first = linker.load(add);
            MethodHandle stale = first.function("add", INT_INT_INT);
            MemorySegment counter = first.data("counter");
            assertThat((int) stale.invokeExact(10, 3)).isEqualTo(13);
            assertThat(counter.get(JAVA_INT, 0)).isEqualTo(5);
            long address = first.address("add");
            first.close();
            try (LoadedSet second = linker.load(sub)) {
                assertThat(second.address("sub")).as("the pages are reused").isEqualTo(address);
                assertThatThrownBy(() -> {
                    int ignored = (int) stale.invokeExact(10, 3);
                }).isInstanceOf(IllegalStateException.class);
                assertThatThrownBy(() -> counter.get(JAVA_INT, 0)).isInstanceOf(IllegalStateException.class);
                assertThatThrownBy(() -> first.function("add", INT_INT_INT)).isInstanceOf(IllegalStateException.class);
            }
        }
    }

    @Test
    void aSetRunningCodeOnAnotherThreadCannotBeClosedUntilTheCallReturns() throws Exception {
        Path spin = Toolchain.compile(dir, "spin", """
                int spin(volatile int *flags) {
                    flags[1] = 1;             /* running */
                    while (!flags[0]) { }     /* until released */
                    return 7;
                }
                """, "-O2", "-fPIC");
        try (JitLinker linker = JitLinker.create(); Arena arena = Arena.ofShared()) {
            LoadedSet set = linker.load(spin);
            MethodHandle handle = set.function("spin", FunctionDescriptor.of(JAVA_INT, ADDRESS));
            MemorySegment flags = arena.allocate(JAVA_INT, 2);
            int[] result = new int[1];
            Thread caller = startSpinning(handle, flags, result);

            assertThatThrownBy(set::close).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("spin.o").hasMessageContaining("runs in it");
            assertThat(set.isClosed()).isFalse();
            assertThat(linker.lookup("spin")).isPresent();

            flags.setAtIndex(JAVA_INT, 0, 1);
            caller.join(20_000);
            assertThat(result[0]).isEqualTo(7);
            set.close();
            assertThat(set.isClosed()).isTrue();
        }
    }

    /**
     * A set's data segment passed to code running elsewhere holds the set open: closing is refused
     * and undone, so the set's handles work again, and succeeds once the call has returned.
     */
    @Test
    void aSetWhoseDataARunningCallHoldsIsNotClosedAndStaysUsable() throws Throwable {
        Path holder = Toolchain.compile(dir, "holder", "int flags[2]; int released(void) { return flags[0]; }", "-O2", "-fPIC");
        Path spin = Toolchain.compile(dir, "spin", """
                int spin(volatile int *flags) {
                    flags[1] = 1;             /* running */
                    while (!flags[0]) { }     /* until released */
                    return 7;
                }
                """, "-O2", "-fPIC");
        try (JitLinker linker = JitLinker.create()) {
            LoadedSet data = linker.load(holder);
            LoadedSet code = linker.load(spin);
            MemorySegment flags = data.data("flags");
            MethodHandle released = data.function("released", FunctionDescriptor.of(JAVA_INT));
            MethodHandle handle = code.function("spin", FunctionDescriptor.of(JAVA_INT, ADDRESS));
            int[] result = new int[1];
            Thread caller = startSpinning(handle, flags, result); // the call holds the data set open

            assertThatThrownBy(data::close).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("holder.o").hasMessageContaining("in use by a running native call");
            assertThat(data.isClosed()).isFalse();
            assertThat((int) released.invokeExact()).as("its handles work again").isZero();

            flags.setAtIndex(JAVA_INT, 0, 1);
            caller.join(20_000);
            assertThat(result[0]).isEqualTo(7);
            assertThat((int) released.invokeExact()).isEqualTo(1);
            data.close();
            assertThatThrownBy(() -> {
                int ignored = (int) released.invokeExact();
            }).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> flags.get(JAVA_INT, 0)).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void aSetOthersBindToIsClosedOnlyWithItsDependents() throws Throwable {
        Path base = Toolchain.compile(dir, "base", "int base(void) { return 40; }", "-O2", "-fPIC");
        Path user = Toolchain.compile(dir, "user", "int base(void); int answer(void) { return base() + 2; }", "-O2", "-fPIC");
        Path other = Toolchain.compile(dir, "other", "int other(void) { return 1; }", "-O2", "-fPIC");
        try (JitLinker linker = JitLinker.create()) {
            LoadedSet a = linker.load(base);
            LoadedSet b = linker.load(user);
            LoadedSet c = linker.load(other);
            MethodHandle answer = b.function("answer", FunctionDescriptor.of(JAVA_INT));
            assertThat((int) answer.invokeExact()).isEqualTo(42);

            assertThatThrownBy(a::close).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("base.o").hasMessageContaining("user.o")
                    .hasMessageContaining("closeWithDependents");
            assertThat(a.isClosed()).isFalse();
            assertThat((int) answer.invokeExact()).isEqualTo(42);

            a.closeWithDependents();
            assertThat(a.isClosed()).isTrue();
            assertThat(b.isClosed()).isTrue();
            assertThat(c.isClosed()).as("a set that does not use it stays open").isFalse();
            assertThat(linker.lookup("answer")).isEmpty();
            assertThatThrownBy(() -> {
                int ignored = (int) answer.invokeExact();
            }).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void closingTheLinkerClosesDependentsBeforeWhatTheyUseAndRefusesLaterLoads() {
        Path base = Toolchain.compile(dir, "base", "int base(void) { return 40; }", "-O2", "-fPIC");
        Path user = Toolchain.compile(dir, "user", "int base(void); int answer(void) { return base() + 2; }", "-O2", "-fPIC");
        JitLinker linker = JitLinker.create();
        LoadedSet a = linker.load(base);
        LoadedSet b = linker.load(user);
        linker.close();
        assertThat(a.isClosed()).isTrue();
        assertThat(b.isClosed()).isTrue();
        assertThatThrownBy(() -> linker.load(base)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void aSharedMemoryManagerIsNotClosedUnderLiveSets() {
        Path add = Toolchain.compile(dir, "add", "int add(int a, int b) { return a + b; }", "-O2", "-fPIC");
        MemoryManager memory = new MemoryManager();
        try (JitLinker linker = JitLinker.builder().memoryManager(memory).build()) {
            LoadedSet set = linker.load(add);
            assertThatThrownBy(memory::close).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("still open");
            set.close();
            memory.close();
            assertThatThrownBy(() -> linker.load(add)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("memory manager is closed");
        }
    }

    /**
     * Calls {@code int spin(volatile int *flags)} on a thread of its own, storing what it returns in
     * {@code result[0]}, and waits until the loaded code says it is running ({@code flags[1]}).
     */
    private static Thread startSpinning(MethodHandle spin, MemorySegment flags, int[] result) {
        Thread caller = Thread.ofPlatform().start(() -> {
            try {
                result[0] = (int) spin.invokeExact(flags);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (flags.getAtIndex(JAVA_INT, 1) == 0 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertThat(flags.getAtIndex(JAVA_INT, 1)).as("the loaded function is running").isEqualTo(1);
        return caller;
    }
}
