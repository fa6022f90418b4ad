package dev.jdyld.jit;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.ObjectFile;
import dev.jdyld.memory.MemoryManager;
import dev.jdyld.memory.MemoryMaps;
import dev.jdyld.memory.WindowUsage;
import dev.jdyld.runtime.LoadStage;
import dev.jdyld.runtime.ffi.Native;
import dev.jdyld.runtime.ThreadLocalStorage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * A load failed at each of its stages leaves nothing behind: no mapping, symbol, TLS key, unwind
 * registration, exit handler or pin on the set it bound to; the handlers and destructors of what
 * already ran run exactly once; and the same objects load normally afterwards.
 *
 * <p>Each is observed outside jdyld's own bookkeeping too: mappings in {@code /proc/self/maps},
 * the key through glibc handing out the lowest free key, the unwind tables through
 * {@code _Unwind_Find_FDE}, exit handlers through counters the C code bumps in Java memory, and
 * "never again at exit" in a child JVM that prints what runs at its exit.
 */
class FailureInjectionTest {
    /**
     * C++ with everything a set can register: IFUNC, a fini-array destructor, a constructor that
     * registers an exit handler (priority 101: it runs first), a static object with a destructor,
     * EH, general- and local-dynamic TLS, and a call into an earlier set.
     */
    private static final String SOURCE = """
            #include <cstdio>
            #include <cstdlib>
            #include <stdexcept>
            extern "C" int events[6]; // defined from Java; see Event. events[5]: print, in the child JVM
            extern "C" int base_value(void);
            static void note(int event, const char *what) {
                events[event]++;
                if (events[5]) { std::puts(what); std::fflush(stdout); }
            }
            __thread int shared_count;      // general dynamic
            static __thread int own_count;  // local dynamic
            // Its constructor touches TLS: the loading thread has a block of the set when a late stage fails.
            struct Global { Global() { shared_count = 0; note(0, "constructed"); } ~Global() { note(2, "destroyed"); } } global;
            static void exit_handler() { note(1, "exit handler ran"); }
            __attribute__((constructor(101))) static void install() { std::atexit(exit_handler); }
            __attribute__((destructor)) static void fini() { note(3, "fini ran"); }
            extern "C" int bump(int by) { own_count += by; shared_count += 2 * by; return own_count + shared_count + base_value(); }
            extern "C" int catches(int x) {
                try { if (x) throw std::runtime_error("thrown"); } catch (const std::exception &) { return 1; }
                return 0;
            }
            static int twice(int x) { return 2 * x; }
            extern "C" void *resolve_doubled(void) { note(4, "ifunc resolved"); return (void *) twice; }
            extern "C" int doubled(int) __attribute__((ifunc("resolve_doubled")));
            """;
    private static final FunctionDescriptor INT_INT = FunctionDescriptor.of(JAVA_INT, JAVA_INT);

    /** Indices of {@code events}: what the set's code did, counted by the code itself. */
    private enum Event { CONSTRUCTED, EXIT_HANDLER, DESTROYED, FINI, IFUNC_RESOLVED }

    /** Fail the {@code occurrence}-th time the load reaches {@code stage} (constructors reach it once each). */
    record Failure(LoadStage stage, int occurrence) {
        /** IFUNCs resolved and the fini array registered: both come just before the first constructor. */
        boolean initializing() {
            return stage == LoadStage.CONSTRUCTOR || stage == LoadStage.REGISTER;
        }

        /** The first constructor registered the exit handler. */
        boolean handlerRegistered() {
            return stage == LoadStage.CONSTRUCTOR && occurrence == 2 || stage == LoadStage.REGISTER;
        }

        /** The second constructor built the static object, whose destructor it registered. */
        boolean constructed() {
            return stage == LoadStage.REGISTER;
        }

        /** How often each event happened in a load failed here, which must undo what it did. */
        int[] events() {
            int init = initializing() ? 1 : 0;
            int constructed = constructed() ? 1 : 0;
            return new int[] {constructed, handlerRegistered() ? 1 : 0, constructed, init, init};
        }

        /** What the child JVM prints for it: the events as they happen, then the load's failure. */
        List<String> printed() {
            List<String> lines = new ArrayList<>();
            if (initializing()) {
                lines.add("ifunc resolved");
            }
            if (constructed()) {
                lines.addAll(List.of("constructed", "destroyed"));
            }
            if (handlerRegistered()) {
                lines.add("exit handler ran");
            }
            if (initializing()) {
                lines.add("fini ran");
            }
            lines.add("failed at " + this);
            return lines;
        }

        void inject(Runnable atFailure) {
            AtomicInteger reached = new AtomicInteger();
            LoadStage.setHook(reachedStage -> {
                if (reachedStage == stage && reached.incrementAndGet() == occurrence) {
                    atFailure.run();
                    throw new IllegalStateException("injected at " + this);
                }
            });
        }

        @Override
        public String toString() {
            return stage + (occurrence > 1 ? " #" + occurrence : "");
        }
    }

    /** Every stage, and the second constructor: the one that runs after the first registered an exit handler. */
    static Stream<Failure> failures() {
        return Stream.concat(Arrays.stream(LoadStage.values()).map(stage -> new Failure(stage, 1)),
                Stream.of(new Failure(LoadStage.CONSTRUCTOR, 2)));
    }

    /** Each failure with anonymous memory and with dual mapping, whose write views live outside the windows. */
    static Stream<Arguments> failuresAndMappings() {
        return failures().flatMap(failure -> Stream.of(Arguments.of(failure, false), Arguments.of(failure, true)));
    }

    @TempDir
    static Path dir;

    private static ObjectFile object;
    private static ObjectFile base;

    @BeforeAll
    static void compile() {
        Path source = dir.resolve("everything.cpp");
        Toolchain.write(source, SOURCE);
        Path output = dir.resolve("everything.o");
        Toolchain.run(List.of("g++", "-c", "-O2", "-fPIC", source.toString(), "-o", output.toString()));
        object = ObjectFile.read(output);
        base = ObjectFile.read(Toolchain.compile(dir, "base", "int base_value(void) { return 100; }", "-O2", "-fPIC"));
    }

    @AfterEach
    void removeHook() {
        LoadStage.setHook(null);
    }

    /* const fde *_Unwind_Find_FDE(void *pc, struct dwarf_eh_bases *bases); bases: {tbase, dbase, func} */
    private static final MethodHandle FIND_FDE = Linker.nativeLinker().downcallHandle(
            SymbolLookup.libraryLookup("libgcc_s.so.1", Arena.global()).findOrThrow("_Unwind_Find_FDE"),
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, ADDRESS));

    /** Whether the host unwinder has unwind information for code at {@code pc}. */
    private static boolean unwinderKnows(long pc) {
        try (Arena arena = Arena.ofConfined()) {
            return (long) FIND_FDE.invokeExact(pc, arena.allocate(ADDRESS, 3)) != 0;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** The key pthread_key_create hands out now: glibc's lowest free one, so a key left behind shows. */
    private static int lowestFreeKey() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment key = arena.allocate(JAVA_INT);
            assertThat(Native.pthreadKeyCreate(key, 0)).isZero();
            assertThat(Native.pthreadKeyDelete(key.get(JAVA_INT, 0))).isZero();
            return key.get(JAVA_INT, 0);
        }
    }

    private static int[] events(MemorySegment events) {
        int[] counts = new int[Event.values().length];
        for (Event event : Event.values()) {
            counts[event.ordinal()] = events.getAtIndex(JAVA_INT, event.ordinal());
        }
        return counts;
    }

    /**
     * The kernel's mappings of the linker's memory, exactly: its windows and, with dual mapping, the
     * write views of their memory files. (The whole process's count moves with the JVM's own mappings.)
     */
    private static List<MemoryMaps.Mapping> linkerMappings(JitLinker linker) {
        List<WindowUsage> windows = linker.memoryManager().usage();
        return MemoryMaps.read().stream().filter(mapping -> mapping.name().contains("jdyld-window") || windows.stream()
                .anyMatch(window -> mapping.overlaps(window.base(), window.base() + window.reserved()))).toList();
    }

    private static long committed(JitLinker linker) {
        return linker.memoryManager().usage().stream().mapToLong(WindowUsage::committed).sum();
    }

    /** Bytes the sets asked for: a small set's groups packed into pages other sets keep mapped show only here. */
    private static long used(JitLinker linker) {
        return linker.memoryManager().usage().stream().mapToLong(WindowUsage::used).sum();
    }

    @ParameterizedTest(name = "{0}, dual mapping {1}")
    @MethodSource("failuresAndMappings")
    void aLoadFailedAtThisStageLeavesNothingBehind(Failure failure, boolean dualMapping) throws Throwable {
        try (Arena arena = Arena.ofShared();
             JitLinker linker = JitLinker.builder().hostLibrary("libstdc++.so.6")
                     .memoryOptions(MemoryManager.Options.DEFAULT.withDualMapping(dualMapping)).build()) {
            MemorySegment events = arena.allocate(JAVA_INT, 6);
            linker.defineData("events", events);
            LoadedSet baseSet = linker.loadObjects(List.of(base));

            // A normal load first: where the set lands (the failed load reuses the place), and which stages it reaches.
            Map<LoadStage, Integer> reached = new EnumMap<>(LoadStage.class);
            LoadStage.setHook(stage -> reached.merge(stage, 1, Integer::sum));
            LoadedSet first = linker.loadObjects(List.of(object));
            LoadStage.setHook(null);
            assertThat(reached).as("every stage, a constructor twice").containsEntry(LoadStage.CONSTRUCTOR, 2)
                    .containsOnlyKeys(LoadStage.values());
            long bump = first.address("bump");
            assertThat(unwinderKnows(bump)).isTrue();
            first.close();
            assertThat(unwinderKnows(bump)).isFalse();
            events.fill((byte) 0);
            // What stays: the base set and the linker's stub block that calls to base_value go through.
            int slabs = linker.memoryManager().usage().stream().mapToInt(WindowUsage::slabs).sum();
            long committed = committed(linker);
            long used = used(linker);
            List<MemoryMaps.Mapping> maps = linkerMappings(linker);
            int keys = ThreadLocalStorage.openKeys();
            int freeKey = lowestFreeKey();
            int frames = UnwindRegistration.registeredSections();

            List<String> duringLoad = new ArrayList<>();
            failure.inject(() -> duringLoad.add("key " + (lowestFreeKey() != freeKey) + ", frames " + unwinderKnows(bump)
                    + ", memory " + (!linkerMappings(linker).equals(maps) || used(linker) != used)));
            Throwable thrown = catchThrowable(() -> linker.loadObjects(List.of(object)));
            LoadStage.setHook(null);

            assertThat(thrown).hasMessageContaining("injected at " + failure);
            assertThat(thrown instanceof LinkException || thrown.getMessage().startsWith("injected"))
                    .as("a LinkException, or the injected exception itself: %s", thrown).isTrue();
            assertThat(thrown.getSuppressed()).as("undoing the load raised nothing").isEmpty();
            // Observed at the failure: the key, the unwind tables and the set's memory existed then (its
            // pages and write views; once finalized, groups packed into pages the base set keeps mapped
            // show only as bytes in use), so the checks below would see them left behind.
            boolean keyMade = failure.stage().compareTo(LoadStage.RELOCATE) >= 0;
            boolean framesRegistered = failure.stage().compareTo(LoadStage.UNWIND) >= 0;
            boolean mapped = failure.stage().compareTo(LoadStage.COPY) >= 0;
            assertThat(duringLoad).containsExactly("key " + keyMade + ", frames " + framesRegistered + ", memory " + mapped);

            assertThat(linker.lookup("bump")).isEmpty();
            assertThat(linker.lookup("doubled")).isEmpty();
            assertThat(linker.memoryManager().usage().stream().mapToInt(WindowUsage::slabs).sum()).isEqualTo(slabs);
            assertThat(committed(linker)).isEqualTo(committed);
            assertThat(used(linker)).isEqualTo(used);
            assertThat(linkerMappings(linker)).isEqualTo(maps);
            assertThat(ThreadLocalStorage.openKeys()).isEqualTo(keys);
            assertThat(lowestFreeKey()).as("the set's pthread key was deleted").isEqualTo(freeKey);
            assertThat(UnwindRegistration.registeredSections()).isEqualTo(frames);
            assertThat(unwinderKnows(bump)).as("the unwinder knows nothing of the failed set").isFalse();
            assertThat(events(events)).as("constructed, exit handler, destroyed, fini, IFUNC resolved: once each, or never")
                    .containsExactly(failure.events());
            baseSet.close(); // the failed load neither pins it nor stays recorded as its dependent
            assertThat(baseSet.isClosed()).isTrue();

            linker.loadObjects(List.of(base));
            LoadedSet set = linker.loadObjects(List.of(object));
            assertThat(set.address("bump")).isEqualTo(bump);
            assertThat((int) set.function("bump", INT_INT).invokeExact(5)).isEqualTo(5 + 10 + 100);
            assertThat((int) set.function("catches", INT_INT).invokeExact(1)).isEqualTo(1);
            assertThat((int) set.function("doubled", INT_INT).invokeExact(21)).isEqualTo(42);
            assertThat(unwinderKnows(bump)).isTrue();
            set.close();
            int[] expected = failure.events();
            for (int i = 0; i < expected.length; i++) {
                expected[i]++;
            }
            assertThat(events(events)).as("the failed load's handlers never run again").containsExactly(expected);
        }
    }

    /**
     * The child JVM: fails a load at every stage, printing what runs, then loads the set for good
     * and exits normally. At exit, only that last set's handlers may run.
     */
    public static void main(String[] args) {
        JitLinker linker = JitLinker.builder().hostLibrary("libstdc++.so.6").build();
        MemorySegment events = Arena.global().allocate(JAVA_INT, 6); // the last set's handlers use it at exit
        events.setAtIndex(JAVA_INT, 5, 1);
        linker.defineData("events", events);
        linker.loadObjects(List.of(ObjectFile.read(Path.of(args[1]))));
        ObjectFile everything = ObjectFile.read(Path.of(args[0]));
        for (Failure failure : failures().toList()) {
            failure.inject(() -> { });
            try {
                linker.loadObjects(List.of(everything));
            } catch (RuntimeException expected) {
                System.out.println("failed at " + failure);
                System.out.flush();
            }
        }
        LoadStage.setHook(null);
        linker.loadObjects(List.of(everything));
        System.out.println("exiting");
        System.out.flush();
        System.exit(0); // exit() runs the C exit handlers still registered: only the last set's
    }

    @Test
    void noExitHandlerOfAFailedLoadRunsAtProcessExit() throws Exception {
        Process child = new ProcessBuilder(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                FailureInjectionTest.class.getName(), dir.resolve("everything.o").toString(),
                dir.resolve("base.o").toString()))
                .redirectErrorStream(true).start();
        String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
        List<String> expected = new ArrayList<>();
        failures().forEach(failure -> expected.addAll(failure.printed()));
        // The set loaded for good: its initialisers, then at exit its handlers, newest first.
        expected.addAll(List.of("ifunc resolved", "constructed", "exiting", "destroyed", "exit handler ran", "fini ran"));
        assertThat(output.lines()).containsExactlyElementsOf(expected);
        assertThat(child.exitValue()).isZero();
    }
}
