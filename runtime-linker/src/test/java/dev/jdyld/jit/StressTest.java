package dev.jdyld.jit;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.ObjectFile;
import dev.jdyld.core.SetLayout;
import dev.jdyld.memory.MemoryManager;
import dev.jdyld.memory.MemoryMaps;
import dev.jdyld.memory.WindowUsage;
import dev.jdyld.runtime.LoadStage;
import dev.jdyld.runtime.ThreadLocalStorage;
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
import java.util.concurrent.atomic.AtomicInteger;

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
        int keysBefore = ThreadLocalStorage.openKeys();
        try (JitLinker linker = JitLinker.create()) {
            List<LoadedSet> sets = new ArrayList<>();
            List<LinkException> refused = new ArrayList<>();
            long committedAtLimit = -1;
            int keysAtLimit = -1;
            for (int i = 0; i < 1_100; i++) {
                try {
                    sets.add(linker.scope("s" + i).loadObjects(List.of(tls)));
                } catch (LinkException e) {
                    if (refused.isEmpty()) {
                        committedAtLimit = committed(linker);
                        keysAtLimit = ThreadLocalStorage.openKeys();
                    }
                    refused.add(e);
                }
            }
            assertThat(refused).as("PTHREAD_KEYS_MAX is 1024 per process").isNotEmpty();
            assertThat(sets.size() + refused.size()).isEqualTo(1_100);
            assertThat(sets.size()).isGreaterThan(900);
            for (LinkException e : refused) {
                assertThat(e.getMessage()).contains("pthread_key_create failed").contains("PTHREAD_KEYS_MAX")
                        .contains(sets.size() + " sets with thread-local storage").doesNotContain("\n");
            }
            // Every refusal after the first left nothing either: no memory, no key.
            assertThat(committed(linker)).isEqualTo(committedAtLimit);
            assertThat(ThreadLocalStorage.openKeys()).isEqualTo(keysAtLimit).isEqualTo(keysBefore + sets.size());
            MethodHandle last = sets.getLast().function("bump", FunctionDescriptor.of(JAVA_INT));
            assertThat((int) last.invokeExact()).isEqualTo(1);
            for (LoadedSet set : sets.subList(0, 10)) {
                set.close();
            }
            LoadedSet again = linker.scope("again").loadObjects(List.of(tls));
            assertThat((int) again.function("bump", FunctionDescriptor.of(JAVA_INT)).invokeExact()).isEqualTo(1);
        }
    }

    private static long committed(JitLinker linker) {
        return linker.memoryManager().usage().stream().mapToLong(WindowUsage::committed).sum();
    }

    /** The linker's windows and, in dual mode, the second (writable) views of their memory files. */
    private static boolean linkerMemory(MemoryMaps.Mapping mapping, List<WindowUsage> windows) {
        return mapping.name().contains("jdyld-window")
                || windows.stream().anyMatch(window -> mapping.overlaps(window.base(), window.base() + window.reserved()));
    }

    @ParameterizedTest(name = "dual mapping {0}")
    @ValueSource(booleans = {false, true})
    void noMappingIsWritableAndExecutableAtAnyStageOfALoad(boolean dualMapping) throws Throwable {
        ObjectFile object = ObjectFile.read(Toolchain.compile(dir, "wx", """
                static __thread int count;
                static int table[256] = {1};
                __attribute__((constructor)) static void init(void) { table[1] = 1; }
                int bump(int x) { count += x; table[x & 255] += x; return count + table[0]; }
                """, "-O2", "-fPIC"));
        Set<LoadStage> scanned = EnumSet.noneOf(LoadStage.class);
        List<String> offending = new ArrayList<>();
        List<String> textPermissions = new ArrayList<>();
        Set<LoadStage> writeViewSeen = EnumSet.noneOf(LoadStage.class);
        AtomicInteger mappingsScanned = new AtomicInteger();
        try (JitLinker linker = JitLinker.builder()
                .memoryOptions(MemoryManager.Options.DEFAULT.withDualMapping(dualMapping)).build()) {
            // Where the code lands: a set loaded after closing the first reuses its place.
            LoadedSet first = linker.loadObjects(List.of(object));
            SetLayout.Group text = first.layout().groups().getFirst();
            assertThat(text.name()).isEqualTo("TEXT");
            first.close();
            // Only the linker's memory: the JVM's own code cache is writable and executable.
            LoadStage.setHook(stage -> {
                scanned.add(stage);
                List<WindowUsage> windows = linker.memoryManager().usage();
                for (MemoryMaps.Mapping mapping : MemoryMaps.read()) {
                    if (!linkerMemory(mapping, windows)) {
                        continue;
                    }
                    mappingsScanned.incrementAndGet();
                    if (mapping.permissions().contains("w") && mapping.permissions().contains("x")) {
                        offending.add(stage + ": " + mapping);
                    }
                    if (mapping.name().contains("jdyld-window") && mapping.permissions().startsWith("rw")
                            && windows.stream().noneMatch(w -> mapping.overlaps(w.base(), w.base() + w.reserved()))) {
                        writeViewSeen.add(stage);
                    }
                    if (mapping.overlaps(text.address(), text.address() + text.size())) {
                        textPermissions.add(stage + " " + mapping.permissions());
                    }
                }
            });
            for (int i = 0; i < 3; i++) {
                LoadedSet set = linker.loadObjects(List.of(object));
                assertThat(set.layout().groups().getFirst().address()).isEqualTo(text.address());
                assertThat((int) set.function("bump", FunctionDescriptor.of(JAVA_INT, JAVA_INT)).invokeExact(2)).isEqualTo(3);
                set.close();
            }
        }
        assertThat(scanned).as("every stage of a load").containsExactlyInAnyOrder(LoadStage.values());
        assertThat(offending).isEmpty();
        assertThat(mappingsScanned.get()).as("mappings scanned").isGreaterThan(10 * LoadStage.values().length);
        if (dualMapping) {
            // The executable view of the code is never writable. This set's code and read-only data
            // are packed into shared pages: written into buffers and then into the memory file, so
            // no writable view of the file is mapped at any stage (larger sets' views are checked by
            // MemoryManagerTest).
            assertThat(textPermissions).isNotEmpty().allSatisfy(line -> assertThat(line).doesNotContain("w"));
            assertThat(writeViewSeen).as("stages at which a write view of the memory file was mapped").isEmpty();
        } else {
            // The code's own pages are writable while it is linked, then executable (the scan sees both).
            assertThat(textPermissions).contains("RELOCATE rw-p", "CONSTRUCTOR r-xp");
        }
    }
}
