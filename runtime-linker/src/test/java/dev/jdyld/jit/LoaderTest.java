package dev.jdyld.jit;

import dev.jdyld.core.DuplicateSymbolException;
import dev.jdyld.core.LinkException;
import dev.jdyld.core.MalformedObjectException;
import dev.jdyld.core.RelocationException;
import dev.jdyld.core.SetLayout;
import dev.jdyld.core.UnresolvedSymbolException;
import dev.jdyld.core.UnsupportedObjectException;
import dev.jdyld.runtime.HostSymbols;
import dev.jdyld.memory.MemoryMaps;
import dev.jdyld.memory.WindowUsage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LoaderTest {
    @TempDir
    Path dir;

    private final JitLinker linker = JitLinker.create();

    @AfterEach
    void close() {
        linker.close();
    }

    @Test
    void loadsAndCallsAFunction() throws Throwable {
        Path add = Toolchain.compile(dir, "add", "int add(int a, int b) { return a + b; }", "-O2", "-fPIC");
        LoadedSet set = linker.load(add);
        MethodHandle handle = set.function("add", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
        assertThat((int) handle.invokeExact(40, 2)).isEqualTo(42);
    }

    @Test
    void objectsOfASetShareFunctionsAndData() throws Throwable {
        Path a = Toolchain.compile(dir, "a", """
                extern int counter; int bump(int);
                int twice(int x) { bump(x); return bump(x) + counter; }
                """, "-O2", "-fPIC");
        Path b = Toolchain.compile(dir, "b", """
                int counter = 1000;
                int bump(int x) { counter += x; return counter; }
                """, "-O0", "-fPIE");
        LoadedSet set = linker.load(a, b);
        MethodHandle twice = set.function("twice", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        assertThat((int) twice.invokeExact(5)).isEqualTo(2020);
        assertThat(set.data("counter").get(JAVA_INT, 0)).isEqualTo(1010);
    }

    @Test
    void pieCodeReachesHostDataWithPcRelativeReferences() throws Throwable {
        // gcc's default -fPIE reaches stderr with R_X86_64_PC32, as if a copy relocation existed.
        Path o = Toolchain.compile(dir, "streams", """
                #include <stdio.h>
                extern char **environ;
                void *err(void) { return stderr; }
                void *env(void) { return environ; }
                """, "-O2", "-fPIE");
        assertThat(Toolchain.run(List.of("readelf", "-rW", o.toString()))).contains("R_X86_64_PC32").contains("stderr");
        LoadedSet set = linker.load(o);
        MethodHandle err = set.function("err", FunctionDescriptor.of(JAVA_LONG));
        long stderrValue = MemorySegment.ofAddress(new HostSymbols("x86_64-linux-gnu").find("stderr")).reinterpret(8).get(JAVA_LONG, 0);
        assertThat((long) err.invokeExact()).isEqualTo(stderrValue);
    }

    @Test
    void layoutCountsGotSlotsAndStubsPerDistinctSymbol() {
        Path a = Toolchain.compile(dir, "a", """
                #include <stdio.h>
                #include <string.h>
                extern int shared; int helper(int);
                int f(const char *s) { printf("%s\\n", s); puts(s); return (int) strlen(s) + shared + helper(1); }
                int g(const char *s) { printf("%s!\\n", s); puts(s); return (int) strlen(s) + shared; }
                """, "-O2", "-fPIC");
        Path b = Toolchain.compile(dir, "b", """
                #include <stdio.h>
                int shared = 3;
                int helper(int x) { printf("%d\\n", x); return x + shared; }
                """, "-O2", "-fPIC");
        Set<String> defined = Set.of("shared", "helper", "f", "g");
        Set<String> gotSymbols = new HashSet<>();
        Set<String> stubSymbols = new HashSet<>();
        int relocations = 0;
        for (Path object : List.of(a, b)) {
            for (String line : Toolchain.run(List.of("readelf", "-rW", object.toString())).split("\n")) {
                String[] fields = line.trim().split("\\s+");
                if (fields.length < 5 || !fields[2].startsWith("R_X86_64_")) {
                    continue;
                }
                String type = fields[2];
                String symbol = fields[4];
                if (line.contains(".rela.eh_frame")) {
                    continue;
                }
                relocations++;
                // GOTPCRELX loads of the set's own symbols are relaxed to lea: they need no slot.
                if ((type.startsWith("R_X86_64_GOTPCREL") || type.contains("GOTPCRELX"))
                        && !(type.contains("GOTPCRELX") && defined.contains(symbol))) {
                    gotSymbols.add(symbol);
                }
                if (type.equals("R_X86_64_PLT32") && !defined.contains(symbol)) {
                    stubSymbols.add(symbol);
                    gotSymbols.add(symbol);
                }
            }
        }
        SetLayout layout = linker.load(a, b).layout();
        assertThat(relocations).isGreaterThan(layout.gotEntries() + layout.stubs());
        assertThat(layout.stubs()).isEqualTo(stubSymbols.size());
        assertThat(layout.gotEntries()).isEqualTo(gotSymbols.size());
    }

    @Test
    void loadedPagesHaveTheirFinalPermissions() {
        Path o = Toolchain.compile(dir, "perm", """
                const char text[] = "constant"; int data[4] = {1}; int bss[100];
                const char *pointers[] = {text};
                int f(void) { return data[0] + bss[1] + pointers[0][0]; }
                """, "-O2", "-fPIC");
        LoadedSet set = linker.load(o);
        for (SetLayout.Group group : set.layout().groups()) {
            for (MemoryMaps.Mapping m : MemoryMaps.read()) {
                if (m.overlaps(group.address(), group.address() + group.size())) {
                    assertThat(m.permissions()).as(group.name()).startsWith(group.permissions());
                }
            }
        }
        assertThat(set.layout().groups()).extracting(SetLayout.Group::permissions).contains("r-x", "r--", "rw-");
        for (WindowUsage window : linker.memoryManager().usage()) {
            for (MemoryMaps.Mapping m : MemoryMaps.read()) {
                if (m.overlaps(window.base(), window.base() + window.reserved())) {
                    assertThat(m.permissions()).as("mapping %x-%x", m.start(), m.end()).doesNotContain("wx");
                }
            }
        }
    }

    @Test
    void nonPicSetLandsBelow2GiBWithItsStubsAndTakesHostFunctionAddressesThroughThem() throws Throwable {
        Path o = Toolchain.compile(dir, "nopic", """
                #include <stdlib.h>
                static int cmp(const void *a, const void *b) { return *(const int *) a - *(const int *) b; }
                void *(*volatile allocate)(size_t) = malloc;
                int smallest(int a, int b, int c) {
                    int v[3] = {a, b, c};
                    qsort(v, 3, sizeof v[0], cmp);
                    void (*volatile release)(void *) = free;
                    release(allocate(16));
                    return v[0];
                }
                """, "-O2", "-fno-pic");
        assertThat(Toolchain.run(List.of("readelf", "-rW", o.toString()))).contains("R_X86_64_32 ").contains("free");
        LoadedSet set = linker.load(o);
        for (SetLayout.Group group : set.layout().groups()) {
            assertThat(group.address() + group.size()).as(group.name()).isLessThanOrEqualTo(1L << 31);
        }
        assertThat(set.layout().stubs()).isGreaterThanOrEqualTo(2);
        MethodHandle smallest = set.function("smallest", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        assertThat((int) smallest.invokeExact(9, -4, 7)).isEqualTo(-4);
    }

    @Test
    void withDirectCallsSecondSetCallsIntoFirstDirectly() throws Throwable {
        try (JitLinker direct = JitLinker.builder().directCalls(true).build()) {
            assertThat(callTargetOfUse(direct, false)).isEqualTo(0L);
        }
    }

    @Test
    void callsBetweenSetsGoThroughTheLinkersRedirectableStub() throws Throwable {
        assertThat(callTargetOfUse(linker, true)).isEqualTo(0L);
    }

    /**
     * Loads base_value and a caller of it as two sets and follows use()'s call instruction: to
     * base_value itself, or to a stub ({@code jmp *slot(%rip)}) whose slot holds base_value's
     * address. Returns 0 when the target is as expected, else the target.
     */
    private long callTargetOfUse(JitLinker linker, boolean throughStub) throws Throwable {
        Path lib = Toolchain.compile(dir, "lib", "int base_value(int x) { return x * 3; }", "-O2", "-fPIC");
        Path user = Toolchain.compile(dir, "user", """
                int base_value(int);
                int use(int x) { return base_value(x) + 1; }
                """, "-O2", "-fPIC");
        LoadedSet first = linker.load(lib);
        LoadedSet second = linker.load(user);
        assertThat(second.layout().stubs()).isZero();
        MethodHandle use = second.function("use", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        assertThat((int) use.invokeExact(5)).isEqualTo(16);
        // -O2 turns the call into a tail jump: e9 <rel32> straight to base_value.
        long useAddress = second.address("use");
        MemorySegment code = MemorySegment.ofAddress(useAddress).reinterpret(64);
        int at = -1;
        for (int i = 0; i < 60; i++) {
            byte op = code.get(ValueLayout.JAVA_BYTE, i);
            if (op == (byte) 0xe8 || op == (byte) 0xe9) {
                at = i;
                break;
            }
        }
        assertThat(at).as("call or jmp instruction in use()").isNotNegative();
        long target = useAddress + at + 5 + code.get(ValueLayout.JAVA_INT_UNALIGNED, at + 1);
        if (throughStub) {
            MemorySegment stub = MemorySegment.ofAddress(target).reinterpret(6);
            assertThat(stub.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 0xff);
            assertThat(stub.get(ValueLayout.JAVA_BYTE, 1)).isEqualTo((byte) 0x25);
            long slot = target + 6 + stub.get(ValueLayout.JAVA_INT_UNALIGNED, 2);
            target = MemorySegment.ofAddress(slot).reinterpret(8).get(ValueLayout.JAVA_LONG, 0);
        }
        return target == first.address("base_value") ? 0 : target;
    }

    @Test
    void truncatedObjectIsRefusedWithItsNameAndOffset() throws Exception {
        Path good = Toolchain.compile(dir, "good", "int f(void) { return 1; }", "-O2");
        byte[] bytes = Files.readAllBytes(good);
        Path truncated = dir.resolve("truncated.o");
        Files.write(truncated, Arrays.copyOf(bytes, 100));
        assertRefusedLeavingNothing(truncated, MalformedObjectException.class, "truncated.o", "offset");
        // Section contents cut off: headers intact, bytes missing.
        Path cut = dir.resolve("cut.o");
        long shoff = java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(40);
        Files.write(cut, Arrays.copyOf(bytes, (int) shoff + 64 * 2));
        assertRefusedLeavingNothing(cut, MalformedObjectException.class, "cut.o", "offset");
    }

    @Test
    void garbageIsRefused() throws Exception {
        Path garbage = dir.resolve("garbage.o");
        byte[] bytes = new byte[4096];
        new java.util.Random(42).nextBytes(bytes);
        Files.write(garbage, bytes);
        assertRefusedLeavingNothing(garbage, MalformedObjectException.class, "garbage.o", "not an ELF file");
    }

    @Test
    void aarch64ObjectIsRefusedNamingTheMachine() {
        Path source = dir.resolve("arm.s");
        Toolchain.write(source, ".text\n.globl f\nf: ret\n");
        Path object = dir.resolve("arm.o");
        Toolchain.run(List.of("llvm-mc-14", "-triple=aarch64-linux-gnu", "-filetype=obj", source.toString(),
                "-o", object.toString()));
        assertRefusedLeavingNothing(object, UnsupportedObjectException.class, "arm.o", "EM_AARCH64");
    }

    @Test
    void executableIsRefused() {
        Path c = dir.resolve("exe.c");
        Toolchain.write(c, "int main(void) { return 0; }\n");
        Path exe = dir.resolve("exe");
        Toolchain.run(List.of("gcc", c.toString(), "-o", exe.toString()));
        assertRefusedLeavingNothing(exe, UnsupportedObjectException.class, "exe", "ET_DYN");
        Path staticExe = dir.resolve("exe-nopie");
        Toolchain.run(List.of("gcc", "-no-pie", c.toString(), "-o", staticExe.toString()));
        assertRefusedLeavingNothing(staticExe, UnsupportedObjectException.class, "exe-nopie", "ET_EXEC");
    }

    @Test
    void outOfRangeRelocationIsRefusedAfterMappingAndLeavesNothing() {
        Path object = Toolchain.assemble(dir, "far", """
                .text
                .globl f
                f:
                .reloc ., R_X86_64_PC8, puts
                .byte 0
                ret
                """);
        assertRefusedLeavingNothing(object, RelocationException.class, "far.o", "R_X86_64_PC8");
    }

    @Test
    void unresolvedSymbolsAreReportedTogether() {
        Path object = Toolchain.compile(dir, "undef", """
                int missing_one(void); extern int missing_two;
                int f(void) { return missing_one() + missing_two; }
                """, "-O2", "-fPIC");
        assertThatThrownBy(() -> linker.load(object))
                .isInstanceOf(UnresolvedSymbolException.class)
                .hasMessageContaining("missing_one").hasMessageContaining("missing_two").hasMessageContaining("undef.o");
    }

    @Test
    void duplicateStrongDefinitionsNameBothObjects() {
        Path a = Toolchain.compile(dir, "one", "int twice = 1;", "-O2");
        Path b = Toolchain.compile(dir, "two", "int twice = 2;", "-O2");
        assertThatThrownBy(() -> linker.load(a, b))
                .isInstanceOf(DuplicateSymbolException.class)
                .hasMessageContaining("one.o").hasMessageContaining("two.o").hasMessageContaining("twice");
    }

    private void assertRefusedLeavingNothing(Path file, Class<? extends LinkException> type, String... fragments) {
        assertThatThrownBy(() -> linker.load(file))
                .isInstanceOf(type)
                .hasMessageContaining(file.toString())
                .satisfies(e -> {
                    assertThat(e.getMessage()).doesNotContain("\n");
                    for (String fragment : fragments) {
                        assertThat(e.getMessage()).contains(fragment);
                    }
                });
        assertNothingLeftBehind(linker);
    }

    /** No slab of the linker is committed and no page of its windows is accessible. */
    static void assertNothingLeftBehind(JitLinker linker) {
        List<MemoryMaps.Mapping> maps = MemoryMaps.read();
        for (WindowUsage window : linker.memoryManager().usage()) {
            assertThat(window.committed()).isZero();
            assertThat(window.slabs()).isZero();
            for (MemoryMaps.Mapping m : maps) {
                if (m.overlaps(window.base(), window.base() + window.reserved())) {
                    assertThat(m.permissions()).as("mapping %x-%x in window", m.start(), m.end()).isEqualTo("---p");
                }
            }
        }
    }
}
