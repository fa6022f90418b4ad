package dev.jdyld.jit;

import dev.jdyld.memory.MemoryManager;
import dev.jdyld.memory.MemoryMaps;
import dev.jdyld.memory.WindowUsage;
import dev.jdyld.runtime.LoadStage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;

/** Bounded stress: thread-specific keys run out cleanly, and no page is ever writable and executable. */
class StressTest {
    @TempDir
    Path dir;

    @AfterEach
    void removeHook() {
        LoadStage.setHook(null);
    }

    @Test
    void elevenHundredTlsSetsRunOutOfKeysCleanlyAndLoadAgainAfterClosing() throws Throwable {
        ObjectFile tls = ObjectFile.read(Toolchain.compile(dir, "tls", """
                static __thread int count;
                int bump(void) { return ++count; }
                """, "-O2", "-fPIC"));
        try (JitLinker linker = JitLinker.create()) {
            List<LoadedSet> sets = new ArrayList<>();
            LinkException exhausted = null;
            for (int i = 0; i < 1_100 && exhausted == null; i++) {
                try {
                    sets.add(linker.scope("s" + i).loadObjects(List.of(tls)));
                } catch (LinkException e) {
                    exhausted = e;
                }
            }
            assertThat(exhausted).as("PTHREAD_KEYS_MAX is 1024 per process").isNotNull();
            assertThat(exhausted.getMessage()).contains("pthread_key_create failed").contains("PTHREAD_KEYS_MAX")
                    .contains(sets.size() + " sets with thread-local storage").doesNotContain("\n");
            assertThat(sets.size()).isGreaterThan(900);
            MethodHandle last = sets.getLast().function("bump", FunctionDescriptor.of(JAVA_INT));
            assertThat((int) last.invokeExact()).isEqualTo(1);
            for (LoadedSet set : sets.subList(0, 10)) {
                set.close();
            }
            LoadedSet again = linker.scope("again").loadObjects(List.of(tls));
            assertThat((int) again.function("bump", FunctionDescriptor.of(JAVA_INT)).invokeExact()).isEqualTo(1);
        }
    }

    @ParameterizedTest(name = "dual mapping {0}")
    @ValueSource(booleans = {false, true})
    void noMappingIsWritableAndExecutableAtAnyStageOfALoad(boolean dualMapping) throws Throwable {
        ObjectFile object = ObjectFile.read(Toolchain.compile(dir, "wx", """
                static __thread int count;
                static int table[256] = {1};
                int bump(int x) { count += x; table[x & 255] += x; return count + table[0]; }
                """, "-O2", "-fPIC"));
        Set<LoadStage> scanned = EnumSet.noneOf(LoadStage.class);
        List<String> offending = new ArrayList<>();
        java.util.concurrent.atomic.AtomicInteger windowsScanned = new java.util.concurrent.atomic.AtomicInteger();
        MemoryManager memory = new MemoryManager(MemoryManager.Options.DEFAULT.withDualMapping(dualMapping));
        // Only the linker's windows: the JVM's own code cache is writable and executable.
        LoadStage.setHook(stage -> {
            scanned.add(stage);
            for (WindowUsage window : memory.usage()) {
                windowsScanned.incrementAndGet();
                for (MemoryMaps.Mapping mapping : MemoryMaps.read()) {
                    if (mapping.overlaps(window.base(), window.base() + window.reserved())
                            && mapping.permissions().contains("w") && mapping.permissions().contains("x")) {
                        offending.add(stage + ": " + mapping);
                    }
                }
            }
        });
        try (memory; JitLinker linker = JitLinker.builder().memoryManager(memory).build()) {
            for (int i = 0; i < 3; i++) {
                LoadedSet set = linker.loadObjects(List.of(object));
                assertThat((int) set.function("bump", FunctionDescriptor.of(JAVA_INT, JAVA_INT)).invokeExact(2)).isEqualTo(3);
                set.close();
            }
        }
        assertThat(scanned).as("every stage of a load with TLS, no constructors and no EH").containsAll(
                EnumSet.complementOf(EnumSet.of(LoadStage.CONSTRUCTOR)));
        assertThat(offending).isEmpty();
        assertThat(windowsScanned.get()).as("windows scanned").isGreaterThan(10);
    }
}
