package dev.jdyld.memory;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Small sets share pages: chunks smaller than a page are packed into pages of the same final
 * permission, read back from {@code /proc/self/maps}; a shared page keeps its protection while any
 * set is on it and is decommitted ({@code PROT_NONE}, memory returned) exactly when the last one
 * closes; no mapping is ever writable and executable, write views included.
 */
class PackingTest {
    private static final MemoryManager.Options DUAL = MemoryManager.Options.DEFAULT.withDualMapping(true);
    private final List<MemoryManager> managers = new ArrayList<>();

    private MemoryManager track(MemoryManager manager) {
        managers.add(manager);
        return manager;
    }

    @AfterEach
    void giveBackAddressSpace() {
        managers.forEach(MemoryManager::close);
    }

    private static SlabRequest request(long text, long rodata, long relro, long data) {
        return new SlabRequest(new long[] {text, rodata, relro, data}, new long[] {16, 8, 8, 8}, Placement.ANYWHERE);
    }

    /** The one mapping containing {@code address}; fails if there is none. */
    private static MemoryMaps.Mapping mappingAt(long address) {
        return MemoryMaps.read().stream().filter(m -> address >= m.start() && address < m.end()).findFirst()
                .orElseThrow(() -> new AssertionError("0x" + Long.toHexString(address) + " is not mapped"));
    }

    private static String permissionsAt(long address) {
        return mappingAt(address).permissions();
    }

    /** No mapping of the manager's windows, nor any write view of their memory files, is writable and executable. */
    private static void assertWritableXorExecutable(MemoryManager manager) {
        List<WindowUsage> windows = manager.usage();
        for (MemoryMaps.Mapping m : MemoryMaps.read()) {
            boolean ours = m.name().contains("jdyld-window")
                    || windows.stream().anyMatch(w -> m.overlaps(w.base(), w.base() + w.reserved()));
            if (ours) {
                assertThat(m.permissions().contains("w") && m.permissions().contains("x"))
                        .as("mapping %x-%x %s", m.start(), m.end(), m.permissions()).isFalse();
            }
        }
    }

    /** Mappings of the managers' memory files outside their windows: write views. */
    private static List<MemoryMaps.Mapping> writeViews(MemoryManager manager) {
        List<WindowUsage> windows = manager.usage();
        return MemoryMaps.read().stream().filter(m -> m.name().contains("jdyld-window")
                && windows.stream().noneMatch(w -> m.overlaps(w.base(), w.base() + w.reserved()))).toList();
    }

    private static long committed(MemoryManager manager) {
        return manager.usage().stream().mapToLong(WindowUsage::committed).sum();
    }

    /** {@code mov $value, %eax; ret} */
    private static void writeReturn(Slab slab, int value) {
        MemorySegment text = slab.segment(PermissionGroup.TEXT);
        text.set(ValueLayout.JAVA_BYTE, 0, (byte) 0xb8);
        text.set(ValueLayout.JAVA_INT_UNALIGNED, 1, value);
        text.set(ValueLayout.JAVA_BYTE, 5, (byte) 0xc3);
    }

    /** Runs the slab's code from its final, executable address. */
    @SuppressWarnings("restricted")
    private static int call(Slab slab) {
        MethodHandle function = Linker.nativeLinker().downcallHandle(
                MemorySegment.ofAddress(slab.address(PermissionGroup.TEXT)), FunctionDescriptor.of(JAVA_INT));
        try {
            return (int) function.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    @Test
    void twoSmallSetsShareEveryPageWithDualMappingAndTheLastToCloseDecommitsIt() {
        MemoryManager manager = track(new MemoryManager(DUAL));
        long page = manager.pageSize();
        Slab first = manager.allocate(request(6, 48, 16, 8));
        writeReturn(first, 1);
        first.segment(PermissionGroup.DATA).set(JAVA_INT, 0, 11);
        assertWritableXorExecutable(manager);
        first.finalizePermissions();
        Slab second = manager.allocate(request(6, 48, 16, 8));
        assertWritableXorExecutable(manager);
        // The executable view of the shared page stays r-x while the second set is written (into a buffer of its own).
        assertThat(permissionsAt(first.address(PermissionGroup.TEXT))).isEqualTo("r-xs");
        writeReturn(second, 2);
        // Packed code and read-only data are written into the slab's buffers, then into the memory
        // file at finalization: no writable view of a page others execute from is ever mapped.
        assertThat(writeViews(manager)).isEmpty();
        assertThat(call(first)).isEqualTo(1);
        second.segment(PermissionGroup.DATA).set(JAVA_INT, 0, 22);
        second.finalizePermissions();
        assertWritableXorExecutable(manager);

        for (PermissionGroup group : PermissionGroup.values()) {
            long a = first.address(group);
            long b = second.address(group);
            assertThat(a / page).as(group.name()).isEqualTo(b / page);
            assertThat(Math.abs(a - b)).as(group.name()).isGreaterThanOrEqualTo(first.length(group));
            MemoryMaps.Mapping mapping = mappingAt(a);
            assertThat(mapping.end()).as(group.name()).isGreaterThan(b);
            assertThat(mapping.permissions()).as(group.name()).isEqualTo(group.finalProtection().mapsString() + "s");
        }
        assertThat(first.length(PermissionGroup.TEXT)).isEqualTo(6);
        assertThat(first.address(PermissionGroup.RELRO)).isEqualTo(first.address(PermissionGroup.RODATA) + 48);
        assertThat(committed(manager)).isEqualTo(3 * page); // code, read-only, writable: one page each for both
        assertThat(call(first)).isEqualTo(1);
        assertThat(call(second)).isEqualTo(2);

        long text = first.address(PermissionGroup.TEXT);
        long data = first.address(PermissionGroup.DATA);
        first.close();
        assertThat(permissionsAt(text)).isEqualTo("r-xs");
        assertThat(permissionsAt(data)).isEqualTo("rw-s");
        assertThat(call(second)).isEqualTo(2);
        assertThat(second.segment(PermissionGroup.DATA).get(JAVA_INT, 0)).isEqualTo(22);
        assertThat(committed(manager)).isEqualTo(3 * page);
        assertWritableXorExecutable(manager);

        second.close();
        for (long address : new long[] {text, data, second.address(PermissionGroup.RODATA)}) {
            assertThat(permissionsAt(address)).isEqualTo("---s");
        }
        assertThat(committed(manager)).isZero();
        assertWritableXorExecutable(manager);
    }

    @Test
    void withoutDualMappingOnlyWritableDataIsPacked() {
        MemoryManager manager = track(new MemoryManager());
        long page = manager.pageSize();
        Slab first = manager.allocate(request(6, 48, 16, 8));
        first.finalizePermissions();
        Slab second = manager.allocate(request(6, 48, 16, 8));
        // The second set's code is being written: its page is rw-, and the first set's code page is
        // a different one, which stays r-x. Sharing one would mean a writable page others run from.
        assertThat(permissionsAt(second.address(PermissionGroup.TEXT))).isEqualTo("rw-p");
        assertThat(permissionsAt(first.address(PermissionGroup.TEXT))).isEqualTo("r-xp");
        assertWritableXorExecutable(manager);
        second.finalizePermissions();
        for (PermissionGroup group : List.of(PermissionGroup.TEXT, PermissionGroup.RODATA, PermissionGroup.RELRO)) {
            assertThat(first.address(group) / page).as(group.name()).isNotEqualTo(second.address(group) / page);
            assertThat(first.length(group)).as(group.name()).isEqualTo(page);
        }
        long data = first.address(PermissionGroup.DATA);
        assertThat(second.address(PermissionGroup.DATA) / page).isEqualTo(data / page);
        assertThat(first.length(PermissionGroup.DATA)).isEqualTo(8);
        assertThat(permissionsAt(data)).isEqualTo("rw-p");

        first.close();
        assertThat(permissionsAt(data)).isEqualTo("rw-p");
        second.close();
        assertThat(permissionsAt(data)).isEqualTo("---p");
        assertThat(committed(manager)).isZero();
        assertWritableXorExecutable(manager);
    }

    @Test
    void aSlotAnotherSetUsedReadsAsZero() {
        MemoryManager manager = track(new MemoryManager(DUAL));
        Slab keeper = manager.allocate(request(16, 16, 0, 16)); // keeps the pages committed
        Slab used = manager.allocate(request(16, 16, 0, 16));
        for (PermissionGroup group : List.of(PermissionGroup.TEXT, PermissionGroup.RODATA, PermissionGroup.DATA)) {
            used.segment(group).fill((byte) 0xcc);
        }
        long[] addresses = {used.address(PermissionGroup.TEXT), used.address(PermissionGroup.RODATA),
                used.address(PermissionGroup.DATA)};
        used.close();
        Slab reused = manager.allocate(request(16, 16, 0, 16));
        assertThat(new long[] {reused.address(PermissionGroup.TEXT), reused.address(PermissionGroup.RODATA),
                reused.address(PermissionGroup.DATA)}).isEqualTo(addresses);
        for (PermissionGroup group : List.of(PermissionGroup.TEXT, PermissionGroup.RODATA, PermissionGroup.DATA)) {
            assertThat(reused.segment(group).toArray(ValueLayout.JAVA_BYTE)).as(group.name()).containsOnly(0);
        }
        reused.close();
        keeper.close();
    }

    @Test
    void aThousandSmallSetsCommitAboutTheirBytes() {
        MemoryManager manager = track(new MemoryManager(DUAL));
        long page = manager.pageSize();
        List<Slab> slabs = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            Slab slab = manager.allocate(request(20, 56, 8, 4));
            writeReturn(slab, i);
            slab.finalizePermissions();
            slabs.add(slab);
        }
        // Slots of 32, 64 and 16 bytes: 112 bytes a set, a page rounding per region at most.
        assertThat(committed(manager)).isLessThanOrEqualTo(1000 * 112 + 3 * page);
        assertThat(manager.usage().getFirst().used()).isEqualTo(1000 * 88);
        for (int i = 0; i < slabs.size(); i += 2) {
            slabs.get(i).close();
        }
        assertThat(committed(manager)).isLessThanOrEqualTo(1000 * 112 + 3 * page); // half-used pages stay
        for (int i = 1; i < slabs.size(); i += 2) {
            slabs.get(i).close();
        }
        assertThat(committed(manager)).isZero();
    }

    @Test
    void threadsPackingIntoTheSamePagesKeepEachOthersCodeAndWritableXorExecutable() throws Exception {
        MemoryManager manager = track(new MemoryManager(DUAL));
        try (ExecutorService threads = Executors.newFixedThreadPool(4)) {
            List<Future<?>> work = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int thread = t;
                work.add(threads.submit(() -> {
                    List<Slab> open = new ArrayList<>();
                    for (int i = 0; i < 2000; i++) {
                        Slab slab = manager.allocate(request(6, 48, 16, 8));
                        int value = thread * 100_000 + i;
                        writeReturn(slab, value);
                        slab.segment(PermissionGroup.DATA).set(JAVA_INT, 0, value);
                        slab.finalizePermissions();
                        assertThat(call(slab)).isEqualTo(value);
                        open.add(slab);
                        if (i % 3 != 0) {
                            Slab oldest = open.removeFirst();
                            int expected = oldest.segment(PermissionGroup.DATA).get(JAVA_INT, 0);
                            assertThat(call(oldest)).isEqualTo(expected);
                            oldest.close();
                        }
                        if (i % 500 == 0) {
                            assertWritableXorExecutable(manager);
                        }
                    }
                    open.forEach(Slab::close);
                    return null;
                }));
            }
            for (Future<?> done : work) {
                done.get();
            }
        }
        assertThat(committed(manager)).isZero();
        assertThat(manager.usage().stream().mapToInt(WindowUsage::slabs).sum()).isZero();
        assertWritableXorExecutable(manager);
    }
}
