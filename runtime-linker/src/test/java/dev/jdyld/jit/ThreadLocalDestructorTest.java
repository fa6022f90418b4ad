package dev.jdyld.jit;

import dev.jdyld.memory.MemoryManager;
import dev.jdyld.memory.MemoryMaps;
import dev.jdyld.runtime.StaticTlsModule;
import dev.jdyld.runtime.ThreadLocalStorage;
import dev.jdyld.runtime.lifetime.ThreadExitDestructors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * C++ {@code thread_local} destructors hold the set whose code registered them: a set closed while
 * a thread with a pending destructor runs stays mapped (its thread-local block too) until that
 * thread exits and the destructor ran, then it is unmapped. A regression makes the exiting thread
 * call into unmapped memory and crash the JVM, so every scenario runs in a child JVM with a time
 * limit ({@link #main} is the child's side), and a clean exit is part of each check.
 */
class ThreadLocalDestructorTest {
    private static final Duration LIMIT = Duration.ofSeconds(20);
    private static final String SOURCE = """
            #include <cstdio>
            #include <cstdlib>
            #include <pthread.h>

            // Defined from Java by the child; weak, so that a linker without them runs without them.
            extern "C" void note_destroyed(int v) __attribute__((weak));
            extern "C" void wait_released(void) __attribute__((weak));

            struct D {
                int v = 0;
                ~D() {
                    std::printf("dtor %d\\n", v);
                    std::fflush(stdout);
                    if (note_destroyed) note_destroyed(v);
                }
            };
            thread_local D d;

            extern "C" int use(int v) { d.v = v; return d.v; }

            static void *worker(void *arg) {
                use(static_cast<int>(reinterpret_cast<long>(arg)));
                if (wait_released) wait_released();
                return nullptr;  // returns into this set's code, closed by now: its pending destructor holds it
            }

            extern "C" int start_threads(int n, int first) {
                for (int i = 0; i < n; i++) {
                    pthread_t thread;
                    if (pthread_create(&thread, nullptr, worker, reinterpret_cast<void *>(static_cast<long>(first + i))) != 0)
                        return i;
                    pthread_detach(thread);
                }
                return n;
            }

            extern "C" void exit_now(int status) { std::exit(status); }
            """;

    @TempDir
    Path dir;

    /** The fixture as g++ compiles it: {@code gd} with {@code -fPIC} (general dynamic), {@code static} as PIE (local exec). */
    private Path compile(String kind) {
        Path source = dir.resolve("tl.cpp");
        Path object = dir.resolve("tl-" + kind + ".o");
        Toolchain.write(source, SOURCE);
        Toolchain.run(kind.equals("gd")
                ? List.of("g++", "-c", "-O2", "-fPIC", source.toString(), "-o", object.toString())
                : List.of("g++", "-c", "-O2", source.toString(), "-o", object.toString()));
        return object;
    }

    private List<String> child(String scenario, String kind) {
        String output = ChildJvm.run(dir, LIMIT, ThreadLocalDestructorTest.class, scenario, compile(kind).toString(), kind)
                .assertCleanExit().output();
        return output.lines().toList();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gd", "static"})
    void aJavaThreadsDestructorKeepsTheClosedSetUntilTheThreadExits(String kind) {
        List<String> lines = child("java-thread", kind);
        assertThat(lines).containsSubsequence("used on a Java thread", "closed, still mapped", "dtor 1", "unmapped");
        assertThat(lines).filteredOn(line -> line.startsWith("dtor")).containsExactly("dtor 1");
    }

    @Test
    void aPendingDestructorKeepsAClosedLinkersSetAndItsJavaDefinitionsUntilTheThreadExits() {
        // The destructor calls a function defined from Java: its upcall stub lives as long as the linker's memory.
        List<String> lines = child("linker-close", "gd");
        assertThat(lines).containsSubsequence("used on a Java thread", "closed, still mapped", "dtor 1", "unmapped");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gd", "static"})
    void threadsTheLoadedCodeStartedKeepTheClosedSetUntilTheyExit(String kind) {
        List<String> lines = child("pthreads", kind);
        assertThat(lines).containsSubsequence("3 threads waiting", "closed, still mapped", "unmapped");
        int closed = lines.indexOf("closed, still mapped");
        int unmapped = lines.indexOf("unmapped");
        assertThat(lines.subList(closed, unmapped)).filteredOn(line -> line.startsWith("dtor"))
                .containsExactlyInAnyOrder("dtor 10", "dtor 11", "dtor 12");
    }

    @Test
    void twoHundredLoadUseCloseExitCyclesLeaveNothingBehind() {
        List<String> lines = child("cycles", "gd");
        // Each destructor saw its own thread's object, intact: none of the 200 blocks was freed or reused early.
        assertThat(lines).filteredOn(line -> line.startsWith("dtor")).containsExactlyInAnyOrderElementsOf(
                java.util.stream.IntStream.range(1000, 1200).mapToObj(v -> "dtor " + v).toList());
        assertThat(lines).contains("200 destructors ran, nothing left");
    }

    @Test
    void aSetWithoutPendingDestructorsIsUnmappedWhenItCloses() {
        assertThat(child("no-pending", "gd")).containsSubsequence("never used: unmapped at close",
                "dtor 4", "destructor already ran: unmapped at close");
    }

    @Test
    void aDestructorPendingWhenJavaMainReturnsRunsAfterTheJvmIsGone() {
        // The thread that ran main ends after DestroyJavaVM: no upcall can attach it any more.
        assertThat(child("main-returns", "gd")).containsSubsequence("closed, still mapped", "returning from main", "dtor 5");
    }

    @Test
    void exitFromLoadedCodeRunsItsOwnThreadsDestructorsAndEndsTheProcess() {
        List<String> lines = child("exit", "gd");
        assertThat(lines).containsSubsequence("4 pending", "dtor 7");
        assertThat(lines).filteredOn(line -> line.startsWith("dtor")).containsExactly("dtor 7");
    }

    @Test
    void systemExitWithDestructorsPendingEndsTheProcess() {
        // The JVM's exit calls exit() on its VM thread, which registered nothing: no destructor runs.
        List<String> lines = child("system-exit", "gd");
        assertThat(lines).contains("3 pending");
        assertThat(lines).noneMatch(line -> line.startsWith("dtor"));
    }

    /**
     * glibc runs a module's static destructors only when it really unloads it, not while
     * thread-local destructors of it are pending; and a closed set keeps the sets it bound to by
     * address mapped until its own memory goes, since its deferred destructors may still use them.
     */
    @Test
    void staticDestructorsWaitForPendingThreadLocalOnesAndTheSetsTheyUseStayMapped() {
        Path base = dir.resolve("base.cpp");
        Path user = dir.resolve("user.cpp");
        Toolchain.write(base, """
                #include <cstdio>
                struct Base { ~Base() { std::printf("base static dtor\\n"); std::fflush(stdout); } } base_static;
                extern "C" int base_value = 42;
                """);
        Toolchain.write(user, """
                #include <cstdio>
                extern "C" int base_value;
                struct User { ~User() { std::printf("user static dtor\\n"); std::fflush(stdout); } } user_static;
                struct D { ~D() { std::printf("thread_local dtor sees %d\\n", base_value); std::fflush(stdout); } };
                thread_local D d;
                extern "C" int use(int v) { (void) &d; return v; }
                """);
        for (Path source : List.of(base, user)) {
            Toolchain.run(List.of("g++", "-c", "-O2", "-fPIC", source.toString(), "-o", source.toString().replace(".cpp", ".o")));
        }
        List<String> lines = ChildJvm.run(dir, LIMIT, ThreadLocalDestructorTest.class, "order",
                dir.resolve("base.o").toString(), "gd").assertCleanExit().output().lines().toList();
        assertThat(lines).containsSubsequence("both closed, nothing destroyed yet", "thread_local dtor sees 42",
                "user static dtor", "base static dtor", "both unmapped");
        assertThat(lines).filteredOn(line -> line.contains("dtor")).hasSize(3);
    }

    // ---- the child's side: its Java threads are daemons, so that a failed check ends it at once ----

    private static final AtomicInteger DESTROYED = new AtomicInteger();
    private static final AtomicInteger WAITING = new AtomicInteger();
    private static volatile CountDownLatch release = new CountDownLatch(1);

    /** The threads destructors ran on, as the JVM sees them: attached for the upcall, detached after it. */
    private static final Queue<Thread> DESTRUCTOR_THREADS = new ConcurrentLinkedQueue<>();

    @SuppressWarnings("unused") // note_destroyed(int), called by the fixture's destructor
    static void noteDestroyed(int v) {
        DESTRUCTOR_THREADS.add(Thread.currentThread());
        DESTROYED.incrementAndGet();
    }

    @SuppressWarnings("unused") // wait_released(void), called by the fixture's threads
    static void waitReleased() {
        WAITING.incrementAndGet();
        awaitUninterruptibly(release);
    }

    /** Runs one scenario: {@code scenario object kind}. A failed check throws, so the child exits with 1. */
    public static void main(String[] args) throws Throwable {
        Path object = Path.of(args[1]);
        boolean staticTls = args[2].equals("static");
        if (args[0].equals("main-returns")) {
            mainReturns(object);
            return;
        }
        MemoryManager memory = new MemoryManager();
        JitLinker linker = JitLinker.builder().hostLibrary("libstdc++.so.6").memoryManager(memory).build();
        MethodHandles.Lookup lookup = MethodHandles.lookup();
        linker.defineFunction("note_destroyed", lookup.findStatic(ThreadLocalDestructorTest.class, "noteDestroyed",
                MethodType.methodType(void.class, int.class)), FunctionDescriptor.ofVoid(JAVA_INT));
        linker.defineFunction("wait_released", lookup.findStatic(ThreadLocalDestructorTest.class, "waitReleased",
                MethodType.methodType(void.class)), FunctionDescriptor.ofVoid());
        switch (args[0]) {
            case "java-thread" -> javaThread(linker, object, staticTls, false);
            case "linker-close" -> javaThread(linker, object, staticTls, true);
            case "pthreads" -> pthreads(linker, object, staticTls);
            case "cycles" -> cycles(linker, object);
            case "no-pending" -> noPending(linker, object);
            case "exit" -> exit(linker, object, false);
            case "system-exit" -> exit(linker, object, true);
            case "order" -> order(linker, object, object.resolveSibling("user.o"));
            default -> throw new IllegalArgumentException(args[0]);
        }
        linker.close();
        LoaderTest.assertNothingLeftBehind(linker);
        assertThat(ThreadExitDestructors.pending()).isZero();
        memory.close();
    }

    private static void javaThread(JitLinker linker, Path object, boolean staticTls, boolean closeLinker) throws Throwable {
        LoadedSet set = linker.load(object);
        assertThat(set.layout().threadLocal().staticTls()).isEqualTo(staticTls);
        MethodHandle use = set.function("use", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        long text = text(set);
        Thread thread = useOnAJavaThread(use);
        say("used on a Java thread");
        assertThat(ThreadExitDestructors.pending()).isEqualTo(1);
        if (closeLinker) {
            linker.close();
        } else {
            set.close();
        }
        assertStillMapped(text, staticTls);
        release.countDown();
        thread.join();
        // The Java thread has ended; its native thread runs the destructor right after.
        awaitDestructors(1);
        assertThat(permissionsAt(text)).as("the set's code").isIn("---p", "unmapped");
        assertTlsGone();
        say("unmapped");
    }

    /** Calls {@code use(1)} on a daemon thread that then waits for {@link #release}; returns when the call has. */
    private static Thread useOnAJavaThread(MethodHandle use) {
        CountDownLatch used = new CountDownLatch(1);
        Thread thread = Thread.ofPlatform().daemon().name("user").start(() -> {
            try {
                int ignored = (int) use.invokeExact(1);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
            used.countDown();
            awaitUninterruptibly(release);
        });
        awaitUninterruptibly(used);
        return thread;
    }

    private static void order(JitLinker linker, Path base, Path user) throws Throwable {
        LoadedSet baseSet = linker.load(base);
        LoadedSet userSet = linker.load(user);
        MethodHandle use = userSet.function("use", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        long baseText = text(baseSet);
        Thread thread = useOnAJavaThread(use);
        userSet.close();
        baseSet.close(); // no open set binds to it any more; the closed user set still holds its memory
        assertThat(permissionsAt(baseText)).as("the base set's code").isEqualTo("r-xp");
        say("both closed, nothing destroyed yet");
        release.countDown();
        thread.join();
        await(() -> !permissionsAt(baseText).equals("r-xp"), "the base set's memory to go");
        say("both unmapped");
    }

    private static void pthreads(JitLinker linker, Path object, boolean staticTls) throws Throwable {
        LoadedSet set = linker.load(object);
        MethodHandle start = set.function("start_threads", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
        long text = text(set);
        assertThat((int) start.invokeExact(3, 10)).isEqualTo(3);
        await(() -> WAITING.get() == 3, "the threads to wait");
        say("3 threads waiting");
        assertThat(ThreadExitDestructors.pending()).isEqualTo(3);
        set.close();
        assertStillMapped(text, staticTls);
        release.countDown();
        awaitDestructors(3);
        assertThat(permissionsAt(text)).as("the set's code").isIn("---p", "unmapped");
        assertTlsGone();
        say("unmapped");
    }

    private static void cycles(JitLinker linker, Path object) throws Throwable {
        int cycles = 200;
        for (int i = 0; i < cycles; i++) {
            release = new CountDownLatch(1);
            LoadedSet set = linker.load(object);
            MethodHandle use = set.function("use", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            CountDownLatch used = new CountDownLatch(1);
            int value = 1000 + i;
            CountDownLatch mine = release;
            Thread thread = Thread.ofPlatform().daemon().start(() -> {
                try {
                    int ignored = (int) use.invokeExact(value);
                } catch (Throwable t) {
                    throw new AssertionError(t);
                }
                used.countDown();
                awaitUninterruptibly(mine);
            });
            awaitUninterruptibly(used);
            set.close();
            mine.countDown();
            thread.join();
        }
        awaitDestructors(cycles);
        assertThat(ThreadExitDestructors.pending()).isZero();
        assertTlsGone();
        say(cycles + " destructors ran, nothing left");
    }

    private static void noPending(JitLinker linker, Path object) throws Throwable {
        LoadedSet unused = linker.load(object);
        long text = text(unused);
        unused.close();
        assertThat(permissionsAt(text)).as("a set no thread used").isIn("---p", "unmapped");
        say("never used: unmapped at close");
        LoadedSet set = linker.load(object);
        MethodHandle use = set.function("use", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        text = text(set);
        Thread thread = Thread.ofPlatform().daemon().start(() -> {
            try {
                int ignored = (int) use.invokeExact(4);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        });
        thread.join();
        awaitDestructors(1);
        set.close();
        assertThat(permissionsAt(text)).as("a set whose destructors ran").isIn("---p", "unmapped");
        say("destructor already ran: unmapped at close");
    }

    /**
     * Loaded code calls exit while two threads have destructors pending: only the caller's run. Or
     * Java calls System.exit, with the caller's pending too: none run.
     */
    private static void exit(JitLinker linker, Path object, boolean fromJava) throws Throwable {
        LoadedSet set = linker.load(object);
        MethodHandle use = set.function("use", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        MethodHandle start = set.function("start_threads", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
        MethodHandle exitNow = set.function("exit_now", FunctionDescriptor.ofVoid(JAVA_INT));
        Thread thread = Thread.ofPlatform().daemon().start(() -> {
            try {
                int ignored = (int) use.invokeExact(1);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
            awaitUninterruptibly(release);
        });
        int threads = fromJava ? 1 : 2;
        assertThat((int) start.invokeExact(threads, 10)).isEqualTo(threads);
        int ignored = (int) use.invokeExact(7);
        int pending = threads + 2;
        await(() -> WAITING.get() == threads && ThreadExitDestructors.pending() == pending, "every thread to register");
        say(pending + " pending");
        if (fromJava) {
            System.exit(0);
        }
        exitNow.invokeExact(0);
        throw new AssertionError("exit returned " + thread);
    }

    /** The Java main thread uses the set and returns: its destructor runs after DestroyJavaVM. */
    private static void mainReturns(Path object) throws Throwable {
        JitLinker linker = JitLinker.builder().hostLibrary("libstdc++.so.6").build();
        LoadedSet set = linker.load(object);
        MethodHandle use = set.function("use", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        long text = text(set);
        int ignored = (int) use.invokeExact(5);
        set.close();
        assertStillMapped(text, false);
        say("returning from main");
    }

    private static long text(LoadedSet set) {
        return set.layout().groups().stream().filter(g -> g.name().equals("TEXT")).findFirst().orElseThrow().address();
    }

    private static String permissionsAt(long address) {
        for (MemoryMaps.Mapping mapping : MemoryMaps.read()) {
            if (address >= mapping.start() && address < mapping.end()) {
                return mapping.permissions();
            }
        }
        return "unmapped";
    }

    /** After close, with a destructor pending: the code is still executable, the thread-local storage still there. */
    private static void assertStillMapped(long text, boolean staticTls) {
        assertThat(permissionsAt(text)).as("the closed set's code").isEqualTo("r-xp");
        assertThat(staticTls ? StaticTlsModule.openModules() : ThreadLocalStorage.openKeys()).isEqualTo(1);
        assertThat(DESTROYED.get()).isZero();
        say("closed, still mapped");
    }

    /** The set's pthread key deleted or its static TLS module closed: its thread-local blocks are gone with it. */
    private static void assertTlsGone() {
        assertThat(StaticTlsModule.openModules()).isZero();
        assertThat(ThreadLocalStorage.openKeys()).isZero();
    }

    /**
     * Waits for {@code n} destructors and for their threads to end: the JVM detaches a thread after
     * the upcall that ran its destructor returned, so by then the set's memory is released too.
     */
    private static void awaitDestructors(int n) throws InterruptedException {
        await(() -> DESTROYED.get() == n, n + " destructors to run");
        for (Thread thread : DESTRUCTOR_THREADS) {
            thread.join(Duration.ofSeconds(10));
            assertThat(thread.isAlive()).as("%s detached", thread).isFalse();
        }
    }

    private static void await(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    private static void awaitUninterruptibly(CountDownLatch latch) {
        while (true) {
            try {
                latch.await();
                return;
            } catch (InterruptedException e) {
                // the scenario decides when the thread goes on
            }
        }
    }

    private static void say(String line) {
        System.out.println(line);
        System.out.flush();
    }
}
