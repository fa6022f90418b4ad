package dev.jdyld.jit;

import dev.jdyld.core.ObjectFile;
import dev.jdyld.core.SetLayout;
import dev.jdyld.memory.MemoryManager;
import dev.jdyld.memory.MemoryMaps;
import dev.jdyld.memory.WindowUsage;
import dev.jdyld.runtime.ThreadLocalStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;

/** Where sets land and what they cost, read back from {@code /proc/self/maps} and {@code smaps}. */
class MemoryLayoutTest {
    @TempDir
    Path dir;

    /** Sum of the {@code Rss:} lines of the mappings overlapping {@code [from, to)}, in bytes. */
    private static long residentBytes(long from, long to) throws IOException {
        long total = 0;
        boolean inRange = false;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            if (Character.isDigit(line.charAt(0)) || (line.charAt(0) >= 'a' && line.charAt(0) <= 'f' && line.indexOf('-') > 0
                    && line.indexOf(' ') > line.indexOf('-'))) {
                String[] range = line.substring(0, line.indexOf(' ')).split("-");
                long start = Long.parseUnsignedLong(range[0], 16);
                long end = Long.parseUnsignedLong(range[1], 16);
                inRange = start < to && from < end;
            } else if (inRange && line.startsWith("Rss:")) {
                total += Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        return total;
    }

    /** The {@code VmFlags:} of the mapping containing {@code address}. */
    private static String vmFlags(long address) throws IOException {
        boolean inRange = false;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            int dash = line.indexOf('-');
            int space = line.indexOf(' ');
            if (dash > 0 && space > dash && line.substring(0, dash).matches("[0-9a-f]+")) {
                long start = Long.parseUnsignedLong(line, 0, dash, 16);
                long end = Long.parseUnsignedLong(line, dash + 1, space, 16);
                inRange = address >= start && address < end;
            } else if (inRange && line.startsWith("VmFlags:")) {
                return line;
            }
        }
        return "";
    }

    private static SetLayout.Section section(SetLayout layout, String name) {
        return layout.sections().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void aHugeBssCostsNoMemoryUntilTouchedAndAlignmentsHold() throws Throwable {
        Path object = Toolchain.compile(dir, "big", """
                __attribute__((aligned(64))) int line[16] = {1};
                __attribute__((aligned(4096))) char page[10] = "p";
                __attribute__((aligned(1 << 21))) char huge[10] = "h";
                char big_bss[256u << 20];
                int touch(int i) { big_bss[i] = 1; return big_bss[i] + line[0]; }
                """, "-O2", "-fPIC");
        try (JitLinker linker = JitLinker.create()) {
            LoadedSet set = linker.load(object);
            assertThat(set.address("line") % 64).isZero();
            assertThat(set.address("page") % 4096).isZero();
            assertThat(set.address("huge") % (1 << 21)).isZero();
            SetLayout.Section bss = section(set.layout(), ".bss");
            assertThat(bss.size()).isEqualTo(256L << 20);
            assertThat(residentBytes(bss.address(), bss.address() + bss.size())).isLessThan(4L << 20);
            MethodHandle touch = set.function("touch", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            for (int i = 0; i < 64; i++) {
                assertThat((int) touch.invokeExact(i << 20)).isEqualTo(2);
            }
            long touched = residentBytes(bss.address(), bss.address() + bss.size());
            assertThat(touched).isGreaterThanOrEqualTo(64 * 4096L).isLessThan(16L << 20);
        }
    }

    @Test
    void theGotIsReadOnlyAfterRelocation() {
        Path object = Toolchain.compile(dir, "got", """
                #include <stdio.h>
                int f(void) { return puts("x"); }
                """, "-O2", "-fPIC", "-fno-plt");
        try (JitLinker linker = JitLinker.create()) {
            SetLayout.Section got = section(linker.load(object).layout(), ".got");
            MemoryMaps.Mapping mapping = MemoryMaps.read().stream()
                    .filter(m -> m.overlaps(got.address(), got.address() + got.size())).findFirst().orElseThrow();
            assertThat(mapping.permissions()).isEqualTo("r--p");
        }
    }

    @Test
    void hugePagesAlignCodeTo2MiBAndAdviseIt() throws IOException {
        Path object = Toolchain.compile(dir, "hp", "int f(int x) { return x + 1; }", "-O2", "-fPIC");
        try (JitLinker linker = JitLinker.builder()
                .memoryOptions(MemoryManager.Options.DEFAULT.withHugePages(true)).build()) {
            LoadedSet set = linker.load(object);
            SetLayout.Group text = set.layout().groups().get(0);
            assertThat(text.name()).isEqualTo("TEXT");
            assertThat(text.address() % (2 << 20)).isZero();
            assertThat(text.size()).isEqualTo(2 << 20);
            assertThat(vmFlags(text.address())).contains(" hg");
        }
    }

    @Test
    void tenThousandSetsOfRealObjectsAddFewerThan50Mappings() throws Throwable {
        Path object = Toolchain.compile(dir, "one", """
                static int calls;
                int one(int x) { return x + ++calls; }
                """, "-O2", "-fPIC");
        ObjectFile input = ObjectFile.read(object);
        try (JitLinker linker = JitLinker.create()) {
            int before = MemoryMaps.read().size();
            List<LoadedSet> sets = new ArrayList<>();
            for (int i = 0; i < 10_000; i++) {
                // Each set defines `one`: a scope of its own for each, as one scope has one definition per name.
                sets.add(linker.scope("set" + i).loadObjects(List.of(input)));
            }
            int after = MemoryMaps.read().size();
            assertThat(after - before).isLessThan(50);
            MethodHandle last = sets.get(9_999).function("one", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            assertThat((int) last.invokeExact(10)).isEqualTo(11);
            assertThat(linker.memoryManager().usage().stream().mapToInt(WindowUsage::slabs).sum()).isEqualTo(10_000);
        }
    }

    /**
     * A set with code, data, BSS, TLS, a constructor and unwind tables, loaded, called and closed
     * 10,000 times: the kernel's mappings of the windows and the committed bytes are the same at
     * every thousandth cycle (with the set open) and back to none at the end, and no TLS key or
     * unwind registration accumulates.
     */
    private static long namedMappings() {
        return MemoryMaps.read().stream().filter(mapping -> !mapping.name().isEmpty() && !mapping.name().startsWith("[")).count();
    }

    @Test
    void tenThousandLoadCloseCyclesDoNotGrow() throws Throwable {
        Path object = Toolchain.compile(dir, "cycle", """
                static __thread int calls;
                static int scale = 2;
                static int seen[16];
                __attribute__((constructor)) static void init(void) { seen[0] = 1; }
                int cycle(int x) { seen[x & 15] += x; return ++calls * 1000 + x * scale + seen[0]; }
                """, "-O2", "-fPIC");
        ObjectFile input = ObjectFile.read(object);
        int keys = ThreadLocalStorage.openKeys();
        int frames = UnwindRegistration.registeredSections();
        try (JitLinker linker = JitLinker.create()) {
            linker.loadObjects(List.of(input)).close(); // the first window
            long maps = namedMappings();
            long reserved = linker.memoryManager().usage().stream().mapToLong(WindowUsage::reserved).sum();
            List<MemoryMaps.Mapping> openWindows = null;
            long openCommitted = -1;
            for (int i = 0; i < 10_000; i++) {
                LoadedSet set = linker.loadObjects(List.of(input));
                MethodHandle cycle = set.function("cycle", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
                // A fresh TLS block and fresh data each time: the first call, with seen[0] as initialised.
                assertThat((int) cycle.invokeExact(i)).as("cycle %d", i).isEqualTo(1000 + 2 * i + ((i & 15) == 0 ? 1 + i : 1));
                if (i % 1000 == 0) {
                    List<MemoryMaps.Mapping> windows = windowMappings(linker);
                    long committed = linker.memoryManager().usage().stream().mapToLong(WindowUsage::committed).sum();
                    if (openWindows == null) {
                        openWindows = windows;
                        openCommitted = committed;
                    }
                    assertThat(windows).as("mappings of the windows at cycle %d", i).isEqualTo(openWindows);
                    assertThat(committed).as("committed bytes at cycle %d", i).isEqualTo(openCommitted);
                    assertThat(ThreadLocalStorage.openKeys()).isEqualTo(keys + 1);
                    assertThat(UnwindRegistration.registeredSections()).isEqualTo(frames + 1);
                }
                set.close();
            }
            // Files and memory files (windows, static TLS modules, host libraries) mapped anywhere in the
            // process: what a leak of jdyld's would add. Anonymous mappings are the JVM's own (code cache,
            // malloc arenas, thread stacks) and come and go with the load on the machine.
            assertThat(namedMappings()).isLessThanOrEqualTo(maps);
            List<WindowUsage> usage = linker.memoryManager().usage();
            assertThat(usage.stream().mapToLong(WindowUsage::reserved).sum()).isEqualTo(reserved);
            assertThat(usage.stream().mapToLong(WindowUsage::committed).sum()).isZero();
            LoaderTest.assertNothingLeftBehind(linker);
        }
        assertThat(ThreadLocalStorage.openKeys()).isEqualTo(keys);
        assertThat(UnwindRegistration.registeredSections()).isEqualTo(frames);
    }

    /** The kernel's mappings of the linker's windows: exact, unlike the process's, which move with the JVM's. */
    private static List<MemoryMaps.Mapping> windowMappings(JitLinker linker) {
        List<WindowUsage> windows = linker.memoryManager().usage();
        return MemoryMaps.read().stream().filter(mapping -> windows.stream().anyMatch(
                window -> mapping.overlaps(window.base(), window.base() + window.reserved()))).toList();
    }
}
