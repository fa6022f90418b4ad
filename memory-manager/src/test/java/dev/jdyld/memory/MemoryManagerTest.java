package dev.jdyld.memory;

import dev.jdyld.memory.libc.Libc;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MemoryManagerTest {
    private final List<MemoryManager> managers = new ArrayList<>();

    private MemoryManager track(MemoryManager manager) {
        managers.add(manager);
        return manager;
    }

    @AfterEach
    void giveBackAddressSpace() {
        managers.forEach(MemoryManager::close);
    }

    private static SlabRequest request(long text, long rodata, long relro, long data, Placement placement) {
        return new SlabRequest(new long[] {text, rodata, relro, data}, new long[] {16, 8, 8, 8}, placement);
    }

    private static String permissionsAt(long address) {
        for (MemoryMaps.Mapping m : MemoryMaps.read()) {
            if (address >= m.start() && address < m.end()) {
                return m.permissions();
            }
        }
        return "unmapped";
    }

    @Test
    void groupsAreWritableWhileLinkingAndGetFinalPermissionsAfter() {
        MemoryManager manager = track(new MemoryManager());
        try (Slab slab = manager.allocate(request(100, 200, 50, 300, Placement.ANYWHERE))) {
            for (PermissionGroup group : PermissionGroup.values()) {
                assertThat(permissionsAt(slab.address(group))).as(group.name()).isEqualTo("rw-p");
                slab.segment(group).set(ValueLayout.JAVA_BYTE, 0, (byte) 1);
            }
            slab.finalizePermissions();
            assertThat(permissionsAt(slab.address(PermissionGroup.TEXT))).isEqualTo("r-xp");
            assertThat(permissionsAt(slab.address(PermissionGroup.RODATA))).isEqualTo("r--p");
            assertThat(permissionsAt(slab.address(PermissionGroup.RELRO))).isEqualTo("r--p");
            assertThat(permissionsAt(slab.address(PermissionGroup.DATA))).isEqualTo("rw-p");
            assertThat(slab.segment(PermissionGroup.RODATA).isReadOnly()).isTrue();
            assertThat(slab.segment(PermissionGroup.RODATA).get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 1);
            assertThatThrownBy(() -> slab.segment(PermissionGroup.TEXT).set(ValueLayout.JAVA_BYTE, 0, (byte) 0))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void noPageIsEverWritableAndExecutable() {
        MemoryManager manager = track(new MemoryManager());
        List<Slab> slabs = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            Slab slab = manager.allocate(request(5000, 100, 100, 100, Placement.ANYWHERE));
            slabs.add(slab);
            assertNoWritableExecutable(manager);
            slab.finalizePermissions();
            assertNoWritableExecutable(manager);
        }
        slabs.forEach(Slab::close);
    }

    private static void assertNoWritableExecutable(MemoryManager manager) {
        for (WindowUsage window : manager.usage()) {
            for (MemoryMaps.Mapping m : MemoryMaps.read()) {
                if (m.overlaps(window.base(), window.base() + window.reserved())) {
                    assertThat(m.permissions()).as("mapping %x-%x", m.start(), m.end()).doesNotContain("wx");
                }
            }
        }
    }

    @Test
    void everyGroupOfASetIsWithinReachOfEveryOther() {
        MemoryManager manager = track(new MemoryManager());
        try (Slab slab = manager.allocate(request(1 << 20, 1 << 20, 4096, 64 << 20, Placement.ANYWHERE))) {
            long low = Long.MAX_VALUE;
            long high = 0;
            for (PermissionGroup group : PermissionGroup.values()) {
                low = Math.min(low, slab.address(group));
                high = Math.max(high, slab.address(group) + slab.length(group));
            }
            assertThat(high - low).isLessThan(Placement.MAX_REACH);
        }
    }

    @Test
    void lowPlacementLandsBelow2GiB() {
        MemoryManager manager = track(new MemoryManager());
        try (Slab slab = manager.allocate(request(4096, 4096, 4096, 4096, new Placement(true, 0, 0)))) {
            for (PermissionGroup group : PermissionGroup.values()) {
                assertThat(slab.address(group) + slab.length(group)).isLessThanOrEqualTo(1L << 31);
            }
        }
    }

    @Test
    void nearPlacementReachesTheGivenHostAddress() {
        long host = Libc.hostAnchor();
        MemoryManager manager = track(new MemoryManager());
        try (Slab slab = manager.allocate(request(4096, 4096, 4096, 4096, new Placement(false, host, host)))) {
            for (PermissionGroup group : PermissionGroup.values()) {
                assertThat(Math.abs(host - slab.address(group))).isLessThan(1L << 31);
            }
        }
    }

    @Test
    void alignmentAboveThePageSizeIsHonoured() {
        MemoryManager manager = track(new MemoryManager());
        SlabRequest aligned = new SlabRequest(new long[] {4096, 0, 0, 4 << 20}, new long[] {16, 1, 1, 2 << 20},
                Placement.ANYWHERE);
        try (Slab slab = manager.allocate(aligned)) {
            assertThat(slab.address(PermissionGroup.DATA) % (2 << 20)).isZero();
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {16384, 65536})
    void largerPageSizesKeepPermissionsOnSeparatePages(long pageSize) {
        MemoryManager manager = track(new MemoryManager(pageSize, MemoryManager.Options.DEFAULT, AddressSpace.self()));
        try (Slab slab = manager.allocate(request(100, 100, 100, 100, Placement.ANYWHERE))) {
            long[] starts = new long[4];
            for (PermissionGroup group : PermissionGroup.values()) {
                long address = slab.address(group);
                assertThat(address % pageSize).as(group.name()).isZero();
                // Code and read-only data get whole pages of their own; writable data smaller than a
                // page is packed, exactly its bytes, here at the start of a page no other group is on.
                assertThat(slab.length(group)).as(group.name()).isEqualTo(group == PermissionGroup.DATA ? 100 : pageSize);
                starts[group.ordinal()] = address;
            }
            for (int a = 0; a < 4; a++) {
                for (int b = a + 1; b < 4; b++) {
                    assertThat(starts[a] / pageSize).isNotEqualTo(starts[b] / pageSize);
                }
            }
        }
    }

    @Test
    void closingReturnsPagesForReuseWithoutGrowth() {
        MemoryManager manager = track(new MemoryManager());
        Slab first = manager.allocate(request(8192, 4096, 4096, 4096, Placement.ANYWHERE));
        first.finalizePermissions();
        long textAddress = first.address(PermissionGroup.TEXT);
        first.close();
        assertThat(permissionsAt(textAddress)).isEqualTo("---p");
        int maps = MemoryMaps.read().size();
        for (int i = 0; i < 10_000; i++) {
            Slab slab = manager.allocate(request(8192, 4096, 4096, 4096, Placement.ANYWHERE));
            slab.finalizePermissions();
            assertThat(slab.address(PermissionGroup.TEXT)).isEqualTo(textAddress);
            slab.close();
        }
        assertThat(manager.usage()).hasSize(1);
        assertThat(manager.usage().get(0).committed()).isZero();
        assertThat(MemoryMaps.read().size()).isLessThanOrEqualTo(maps + 5);
    }

    @Test
    void tenThousandSetsCostAHandfulOfMappings() {
        MemoryManager manager = track(new MemoryManager());
        int before = MemoryMaps.read().size();
        List<Slab> slabs = new ArrayList<>();
        for (int i = 0; i < 10_000; i++) {
            Slab slab = manager.allocate(request(64, 100, 0, 16, Placement.ANYWHERE));
            slab.segment(PermissionGroup.TEXT).set(ValueLayout.JAVA_BYTE, 0, (byte) 0xc3);
            slab.segment(PermissionGroup.DATA).set(ValueLayout.JAVA_BYTE, 0, (byte) 1);
            slab.finalizePermissions();
            slabs.add(slab);
        }
        int after = MemoryMaps.read().size();
        assertThat(after - before).isLessThan(50);
        assertThat(manager.usage().stream().mapToInt(WindowUsage::mappings).sum()).isLessThan(50);
        slabs.forEach(Slab::close);
    }

    @Test
    void dualMappingNeverHasAWritableViewOfFinalCode() {
        MemoryManager manager = track(new MemoryManager(MemoryManager.Options.DEFAULT.withDualMapping(true)));
        try (Slab slab = manager.allocate(request(4096, 4096, 4096, 4096, Placement.ANYWHERE))) {
            assertThat(slab.isDualMapped()).isTrue();
            // Before finalization the final view is inaccessible and writes go through an alias.
            assertThat(permissionsAt(slab.address(PermissionGroup.TEXT))).isEqualTo("---s");
            slab.segment(PermissionGroup.TEXT).set(ValueLayout.JAVA_BYTE, 0, (byte) 0xc3);
            slab.finalizePermissions();
            assertThat(permissionsAt(slab.address(PermissionGroup.TEXT))).isEqualTo("r-xs");
            assertThat(slab.segment(PermissionGroup.TEXT).get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 0xc3);
            assertThat(permissionsAt(slab.address(PermissionGroup.DATA))).isEqualTo("rw-s");
        }
    }

    @Test
    void usageAccountsForCommittedUsedAndPadding() {
        MemoryManager manager = track(new MemoryManager());
        try (Slab slab = manager.allocate(request(100, 200, 0, 300, Placement.ANYWHERE))) {
            WindowUsage usage = manager.usage().get(0);
            long page = manager.pageSize();
            assertThat(usage.committed()).isEqualTo(3 * page);
            assertThat(usage.used()).isEqualTo(600);
            assertThat(usage.padding()).isEqualTo(3 * page - 600);
            assertThat(usage.slabs()).isEqualTo(1);
            assertThat(usage.reserved()).isGreaterThanOrEqualTo(MemoryManager.Options.DEFAULT.windowSize());
        }
    }
}
