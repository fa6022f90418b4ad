package dev.jdyld.jit;

import dev.jdyld.memory.MemoryMaps;
import dev.jdyld.memory.WindowUsage;
import dev.jdyld.runtime.LoadStage;
import dev.jdyld.runtime.ThreadLocalStorage;
import dev.jdyld.runtime.UnwindRegistration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A load failed at each of its stages leaves nothing behind: no mapping, symbol, TLS key, unwind
 * registration or exit handler; the handlers and destructors of what already ran run exactly
 * once; and the same objects load normally afterwards.
 */
class FailureInjectionTest {
    /** C++ with everything a set can register: a static constructor and destructor, an exit handler, EH, TLS. */
    private static final String SOURCE = """
            #include <cstdio>
            #include <cstdlib>
            #include <stdexcept>
            extern "C" int events[4]; // constructed, exit handler, destructed, print: defined from Java
            struct Global { Global() { events[0]++; } ~Global() { events[2]++; } } global;
            static void exit_handler() { events[1]++; if (events[3]) { std::puts("exit handler ran"); std::fflush(stdout); } }
            __attribute__((constructor)) static void install() { std::atexit(exit_handler); }
            static __thread int counter;
            extern "C" int bump(int by) { counter += by; return counter; }
            extern "C" int catches(int x) {
                try { if (x) throw std::runtime_error("thrown"); } catch (const std::exception&) { return 1; }
                return 0;
            }
            """;

    @TempDir
    static Path dir;

    private static ObjectFile object;

    @BeforeAll
    static void compile() {
        Path source = dir.resolve("everything.cpp");
        Toolchain.write(source, SOURCE);
        Path output = dir.resolve("everything.o");
        Toolchain.run(List.of("g++", "-c", "-O2", "-fPIC", source.toString(), "-o", output.toString()));
        object = ObjectFile.read(output);
    }

    @AfterEach
    void removeHook() {
        LoadStage.setHook(null);
    }

    private static void failAt(LoadStage failing) {
        LoadStage.setHook(stage -> {
            if (stage == failing) {
                throw new IllegalStateException("injected at " + stage);
            }
        });
    }

    @ParameterizedTest
    @EnumSource(LoadStage.class)
    void aLoadFailedAtThisStageLeavesNothingBehind(LoadStage stage) throws Throwable {
        try (Arena arena = Arena.ofShared();
             JitLinker linker = JitLinker.builder().hostLibrary("libstdc++.so.6").build()) {
            MemorySegment events = arena.allocate(JAVA_INT, 4);
            linker.defineData("events", events);
            linker.loadObjects(List.of(object)).close(); // maps the first window
            events.fill((byte) 0);
            int maps = MemoryMaps.read().size();
            int keys = ThreadLocalStorage.openKeys();
            int frames = UnwindRegistration.registeredSections();

            failAt(stage);
            assertThatThrownBy(() -> linker.loadObjects(List.of(object))).hasMessageContaining("injected at " + stage);
            LoadStage.setHook(null);

            assertThat(linker.lookup("bump")).isEmpty();
            assertThat(linker.memoryManager().usage().stream().mapToInt(WindowUsage::slabs).sum()).isZero();
            assertThat(MemoryMaps.read().size()).isEqualTo(maps);
            assertThat(ThreadLocalStorage.openKeys()).isEqualTo(keys);
            assertThat(UnwindRegistration.registeredSections()).isEqualTo(frames);
            boolean constructed = stage == LoadStage.REGISTER;
            int ran = constructed ? 1 : 0;
            assertThat(new int[] {events.getAtIndex(JAVA_INT, 0), events.getAtIndex(JAVA_INT, 1), events.getAtIndex(JAVA_INT, 2)})
                    .as("constructor, exit handler, destructor ran once each, or never").containsExactly(ran, ran, ran);

            LoadedSet set = linker.loadObjects(List.of(object));
            assertThat((int) set.function("bump", FunctionDescriptor.of(JAVA_INT, JAVA_INT)).invokeExact(5)).isEqualTo(5);
            assertThat((int) set.function("catches", FunctionDescriptor.of(JAVA_INT, JAVA_INT)).invokeExact(1)).isEqualTo(1);
            set.close();
            assertThat(events.getAtIndex(JAVA_INT, 1)).as("the failed load's handler never runs again").isEqualTo(ran + 1);
        }
    }

    /** The child JVM: fails a load after its constructors ran, then exits normally. */
    public static void main(String[] args) {
        try (Arena arena = Arena.ofShared()) {
            JitLinker linker = JitLinker.builder().hostLibrary("libstdc++.so.6").build();
            MemorySegment events = arena.allocate(JAVA_INT, 4);
            events.setAtIndex(JAVA_INT, 3, 1); // the exit handler prints: its output is what the test reads
            linker.defineData("events", events);
            failAt(LoadStage.REGISTER);
            try {
                linker.loadObjects(List.of(ObjectFile.read(Path.of(args[0]))));
            } catch (IllegalStateException expected) {
                System.out.println("load failed");
            }
            System.out.flush();
        }
        System.exit(0); // exit() runs the C exit handlers still registered: there must be none of the set's
    }

    @Test
    void noExitHandlerOfAFailedLoadRunsAtProcessExit() throws Exception {
        Process child = new ProcessBuilder(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                FailureInjectionTest.class.getName(), dir.resolve("everything.o").toString()))
                .redirectErrorStream(true).start();
        String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(output).isEqualTo("exit handler ran\nload failed\n");
        assertThat(child.exitValue()).isZero();
    }
}
