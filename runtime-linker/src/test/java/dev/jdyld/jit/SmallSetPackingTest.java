package dev.jdyld.jit;

import dev.jdyld.core.ObjectFile;
import dev.jdyld.core.SetLayout;
import dev.jdyld.memory.MemoryManager;
import dev.jdyld.memory.MemoryMaps;
import dev.jdyld.memory.WindowUsage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Small sets of real objects share pages, read back from {@code /proc/self/maps}: with dual
 * mapping every group of two one-function sets is on one page per permission; without it, their
 * writable data is. A shared page keeps its protection when the first set closes and goes back to
 * {@code PROT_NONE} when the last does; no mapping of the linker's memory (write views included)
 * is ever writable and executable.
 */
class SmallSetPackingTest {
    private static final FunctionDescriptor INT_INT = FunctionDescriptor.of(JAVA_INT, JAVA_INT);

    @TempDir
    Path dir;

    private ObjectFile counter(String name, int step) {
        return ObjectFile.read(Toolchain.compile(dir, name, "static int calls;\nint " + name
                + "(int x) { calls += " + step + "; return x * 1000 + calls; }\n", "-O2", "-fPIC"));
    }

    private static SetLayout.Group group(LoadedSet set, String name) {
        return set.layout().groups().stream().filter(g -> g.name().equals(name)).findFirst().orElseThrow();
    }

    private static MemoryMaps.Mapping mappingAt(long address) {
        return MemoryMaps.read().stream().filter(m -> address >= m.start() && address < m.end()).findFirst()
                .orElseThrow(() -> new AssertionError("0x" + Long.toHexString(address) + " is not mapped"));
    }

    /** No mapping of the linker's windows, nor any write view of their memory files, is writable and executable. */
    private static void assertWritableXorExecutable(JitLinker linker) {
        List<WindowUsage> windows = linker.memoryManager().usage();
        for (MemoryMaps.Mapping m : MemoryMaps.read()) {
            if (m.name().contains("jdyld-window") || windows.stream().anyMatch(w -> m.overlaps(w.base(), w.base() + w.reserved()))) {
                assertThat(m.permissions().contains("w") && m.permissions().contains("x"))
                        .as("mapping %x-%x %s", m.start(), m.end(), m.permissions()).isFalse();
            }
        }
    }

    private static int call(LoadedSet set, String name, int x) throws Throwable {
        MethodHandle function = set.function(name, INT_INT);
        return (int) function.invokeExact(x);
    }

    @Test
    void withDualMappingTwoSmallSetsShareAPagePerPermissionUntilTheLastCloses() throws Throwable {
        ObjectFile one = counter("one", 1);
        ObjectFile two = counter("two", 2);
        try (JitLinker linker = JitLinker.builder()
                .memoryOptions(MemoryManager.Options.DEFAULT.withDualMapping(true)).build()) {
            long page = linker.memoryManager().pageSize();
            LoadedSet first = linker.loadObjects(List.of(one));
            assertWritableXorExecutable(linker);
            LoadedSet second = linker.loadObjects(List.of(two));
            assertWritableXorExecutable(linker);
            for (String name : List.of("TEXT", "RODATA", "DATA")) {
                SetLayout.Group a = group(first, name);
                SetLayout.Group b = group(second, name);
                assertThat(a.size()).as(name).isLessThan(page);
                assertThat(b.address() / page).as(name + " on one page").isEqualTo(a.address() / page);
                assertThat(b.address()).as(name).isGreaterThanOrEqualTo(a.address() + a.size());
                MemoryMaps.Mapping mapping = mappingAt(a.address());
                assertThat(mapping.end()).as(name + ": one mapping holds both").isGreaterThan(b.address());
                assertThat(mapping.permissions()).as(name).isEqualTo(a.permissions() + "s");
            }
            assertThat(call(first, "one", 5)).isEqualTo(5001);
            assertThat(call(second, "two", 5)).isEqualTo(5002);

            long text = group(first, "TEXT").address();
            long rodata = group(first, "RODATA").address();
            long data = group(first, "DATA").address();
            first.close();
            assertThat(mappingAt(text).permissions()).isEqualTo("r-xs");
            assertThat(mappingAt(rodata).permissions()).isEqualTo("r--s");
            assertThat(mappingAt(data).permissions()).isEqualTo("rw-s");
            assertThat(call(second, "two", 6)).as("its code and data untouched").isEqualTo(6004);
            assertWritableXorExecutable(linker);

            second.close();
            for (long address : new long[] {text, rodata, data}) {
                assertThat(mappingAt(address).permissions()).as("0x%x", address).isEqualTo("---s");
            }
            assertThat(linker.memoryManager().usage().stream().mapToLong(WindowUsage::committed).sum()).isZero();
            assertWritableXorExecutable(linker);
        }
    }

    @Test
    void withoutDualMappingTheWritableDataOfSmallSetsSharesAPage() throws Throwable {
        ObjectFile one = counter("one", 1);
        ObjectFile two = counter("two", 2);
        try (JitLinker linker = JitLinker.create()) {
            long page = linker.memoryManager().pageSize();
            LoadedSet first = linker.loadObjects(List.of(one));
            LoadedSet second = linker.loadObjects(List.of(two));
            assertThat(group(second, "TEXT").address() / page).as("code: a page of each set's own")
                    .isNotEqualTo(group(first, "TEXT").address() / page);
            assertThat(group(first, "TEXT").size()).isEqualTo(page);
            long data = group(first, "DATA").address();
            assertThat(group(second, "DATA").address() / page).isEqualTo(data / page);
            assertThat(mappingAt(data).permissions()).isEqualTo("rw-p");
            assertThat(call(first, "one", 1)).isEqualTo(1001);
            assertThat(call(second, "two", 1)).isEqualTo(1002);
            first.close();
            assertThat(mappingAt(data).permissions()).isEqualTo("rw-p");
            assertThat(call(second, "two", 2)).isEqualTo(2004);
            second.close();
            assertThat(mappingAt(data).permissions()).isEqualTo("---p");
            assertWritableXorExecutable(linker);
        }
    }

    @Test
    void aSmallSetCommitsLessThanItsPageRoundedContent() throws Throwable {
        ObjectFile one = counter("one", 1);
        try (JitLinker linker = JitLinker.builder()
                .memoryOptions(MemoryManager.Options.DEFAULT.withDualMapping(true)).build()) {
            long page = linker.memoryManager().pageSize();
            List<LoadedSet> sets = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                sets.add(linker.scope("s" + i).loadObjects(List.of(one)));
            }
            long content = sets.getFirst().layout().groups().stream().mapToLong(SetLayout.Group::size).sum();
            long committed = linker.memoryManager().usage().stream().mapToLong(WindowUsage::committed).sum();
            assertThat(content).isLessThan(page);
            // Each set's groups in 16-byte slots; the pages they fill, plus at most one partly filled per permission.
            assertThat(committed).isLessThanOrEqualTo(200 * (content + 3 * 16) + 3 * page);
            assertThat(committed / 200).isLessThan(page / 8);
            for (int i = 0; i < sets.size(); i++) {
                assertThat(call(sets.get(i), "one", i)).isEqualTo(i * 1000 + 1);
            }
            sets.forEach(LoadedSet::close);
            assertThat(linker.memoryManager().usage().stream().mapToLong(WindowUsage::committed).sum()).isZero();
        }
    }
}
