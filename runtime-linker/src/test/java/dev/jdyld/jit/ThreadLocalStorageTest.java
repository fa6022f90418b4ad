package dev.jdyld.jit;

import dev.jdyld.core.ObjectFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Thread-local storage of loaded sets, seen from Java threads. */
class ThreadLocalStorageTest {
    @TempDir
    Path dir;

    private static final String COUNTER = """
            __thread long counter = 7;
            __thread __attribute__((aligned(64))) char aligned_tls[64];
            long count(int times) { for (int i = 0; i < times; i++) counter++; return counter; }
            long aligned_address(void) { aligned_tls[0]++; return (long) &aligned_tls; }
            """;

    /** A native call as a value, for tasks that cannot throw Throwable. */
    private interface NativeCall<T> {
        T call() throws Throwable;
    }

    private static <T> Callable<T> task(NativeCall<T> call) {
        return () -> {
            try {
                return call.call();
            } catch (Exception | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        };
    }

    @Test
    void everyJavaThreadSeesItsOwnCopy() throws Throwable {
        for (String[] flags : List.of(new String[] {"-O2", "-fPIC"}, new String[] {"-O0", "-fPIC", "-mtls-dialect=gnu2"},
                new String[] {"-O2", "-fPIC", "-ftls-model=local-dynamic"})) {
            Path object = Toolchain.compile(dir, "counter", COUNTER, flags);
            try (JitLinker linker = JitLinker.create()) {
                LoadedSet set = linker.load(object);
                MethodHandle count = set.function("count", FunctionDescriptor.of(JAVA_LONG, JAVA_INT));
                MethodHandle aligned = set.function("aligned_address", FunctionDescriptor.of(JAVA_LONG));
                ExecutorService pool = Executors.newFixedThreadPool(16);
                List<Future<long[]>> results = new ArrayList<>();
                for (int t = 0; t < 16; t++) {
                    results.add(pool.submit(task(() -> {
                        long last = 0;
                        for (int i = 0; i < 1000; i++) {
                            last = (long) count.invokeExact(100);
                        }
                        return new long[] {last, (long) aligned.invokeExact()};
                    })));
                }
                List<Long> addresses = new ArrayList<>();
                for (Future<long[]> result : results) {
                    assertThat(result.get()[0]).as(String.join(" ", flags)).isEqualTo(7 + 100_000);
                    assertThat(result.get()[1] % 64).isZero();
                    addresses.add(result.get()[1]);
                }
                assertThat(addresses).doesNotHaveDuplicates();
                assertThat((long) count.invokeExact(1)).isEqualTo(8);
                pool.shutdown();
            }
        }
    }

    /** Resident memory of this process, from /proc/self/status. */
    private static long residentBytes() throws Exception {
        for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new AssertionError("no VmRSS");
    }

    @Test
    void closingASetFreesTheBlocksOfThreadsStillRunning() throws Throwable {
        // 1 MiB of .tbss per block: 1,000 cycles x 8 threads would leak 8 GiB if blocks survived close.
        Path object = Toolchain.compile(dir, "cycle", COUNTER + "__thread char megabyte[1 << 20];\n"
                + "long touch(void) { megabyte[4096] = 1; return megabyte[4096] + counter; }\n", "-O2", "-fPIC");
        ObjectFile input = ObjectFile.read(object);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        long residentAtStart = 0;
        try (JitLinker linker = JitLinker.create()) {
            for (int cycle = 0; cycle < 1000; cycle++) {
                LoadedSet set = linker.loadObjects(List.of(input));
                MethodHandle touch = set.function("touch", FunctionDescriptor.of(JAVA_LONG));
                List<Callable<Long>> calls = new ArrayList<>();
                java.util.concurrent.CountDownLatch allStarted = new java.util.concurrent.CountDownLatch(8);
                for (int t = 0; t < 8; t++) {
                    calls.add(task(() -> {
                        allStarted.countDown();
                        allStarted.await(); // eight distinct threads, each with its own block
                        return (long) touch.invokeExact();
                    }));
                }
                for (Future<Long> result : pool.invokeAll(calls)) {
                    assertThat(result.get()).isEqualTo(8);
                }
                assertThat(set.threadLocalBlocks()).isEqualTo(8);
                set.close();
                if (cycle == 10) {
                    residentAtStart = residentBytes();
                }
            }
            assertThat(residentBytes() - residentAtStart).isLessThan(256L << 20);
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void blocksOfExitedThreadsAreFreedAtThreadExit() throws Throwable {
        Path object = Toolchain.compile(dir, "exit", COUNTER, "-O2", "-fPIC");
        try (JitLinker linker = JitLinker.create()) {
            LoadedSet set = linker.load(object);
            MethodHandle count = set.function("count", FunctionDescriptor.of(JAVA_LONG, JAVA_INT));
            for (int i = 0; i < 20; i++) {
                Thread thread = Thread.ofPlatform().start(() -> {
                    try {
                        assertThat((long) count.invokeExact(1)).isEqualTo(8);
                    } catch (Throwable t) {
                        throw new AssertionError(t);
                    }
                });
                thread.join();
                // The key's destructor runs as the native thread ends, just after join() returns.
                long deadline = System.nanoTime() + 5_000_000_000L;
                while (set.threadLocalBlocks() != 0 && System.nanoTime() < deadline) {
                    Thread.sleep(1);
                }
                assertThat(set.threadLocalBlocks()).isZero();
            }
            assertThat((long) count.invokeExact(1)).isEqualTo(8);
            assertThat(set.threadLocalBlocks()).isEqualTo(1);
        }
    }

    @Test
    void initialExecReachesAHostLibrarysThreadLocalVariable() throws Throwable {
        Path source = dir.resolve("hosttls.c");
        Toolchain.write(source, "__thread int host_tls = 40; int *host_tls_address(void) { return &host_tls; }\n");
        Path library = dir.resolve("libhosttls.so");
        Toolchain.run(List.of("gcc", "-shared", "-fPIC", "-O2", "-ftls-model=initial-exec", source.toString(),
                "-o", library.toString()));
        Path object = Toolchain.compile(dir, "ie-host", """
                extern __thread int host_tls __attribute__((tls_model("initial-exec")));
                int *host_tls_address(void);
                int bump(void) { return ++host_tls; }
                long same(void) { return &host_tls == host_tls_address(); }
                """, "-O2", "-fPIC");
        assertThat(Toolchain.run(List.of("readelf", "-rW", object.toString()))).contains("R_X86_64_GOTTPOFF");
        try (JitLinker linker = JitLinker.builder().hostLibrary(library.toString()).build()) {
            LoadedSet set = linker.load(object);
            MethodHandle bump = set.function("bump", FunctionDescriptor.of(JAVA_INT));
            MethodHandle same = set.function("same", FunctionDescriptor.of(JAVA_LONG));
            ExecutorService pool = Executors.newFixedThreadPool(4);
            List<Future<int[]>> results = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                results.add(pool.submit(task(() -> new int[] {(int) bump.invokeExact(), (int) bump.invokeExact(),
                        (int) (long) same.invokeExact()})));
            }
            for (Future<int[]> result : results) {
                assertThat(result.get()).containsExactly(41, 42, 1);
            }
            pool.shutdown();
        }
    }
}
