package dev.jdyld.jit;

import dev.jdyld.core.SetLayout;
import dev.jdyld.memory.MemoryManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Range by construction on AArch64, whose {@code BL} reaches ±128 MiB: a set placed gigabytes away
 * from the function it calls reaches it through its stub, the set's range-extension thunk
 * ({@code adrp x16; ldr x16; br x16} through the GOT slot); a call into an earlier set goes the
 * same way; the result is right. The code runs in the AArch64 executor (under qemu-user here).
 */
@EnabledIf("toolchainInstalled")
class Aarch64RangeTest {
    private static final long BRANCH_REACH = 128L << 20;

    @TempDir
    Path dir;

    static boolean toolchainInstalled() {
        return Files.isExecutable(Path.of("/usr/bin/aarch64-linux-gnu-gcc")) && Files.isExecutable(Path.of("/usr/bin/qemu-aarch64"));
    }

    private Path compile(String name, String source) throws IOException, InterruptedException {
        Path c = Files.writeString(dir.resolve(name + ".c"), source);
        Path o = dir.resolve(name + ".o");
        Process process = new ProcessBuilder("aarch64-linux-gnu-gcc", "-O2", "-fPIC", "-c", c.toString(), "-o", o.toString())
                .redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes());
        assertThat(process.waitFor()).as(output).isZero();
        return o;
    }

    /** A linker whose windows are 1 GiB: a set's code starts a gigabyte below the C library it calls. */
    private static JitLinker farLinker() {
        return JitLinker.builder().executor(Executor.childProcess(Target.AARCH64))
                .memoryOptions(new MemoryManager.Options(false, false, 1L << 30)).build();
    }

    @Test
    void aCallToAFarHostFunctionGoesThroughTheStubVeneer() throws Throwable {
        Path object = compile("far", """
                #include <stdio.h>
                #include <stdlib.h>
                long far_call(long x) { char digits[32]; snprintf(digits, sizeof digits, "%ld", -x); return strtol(digits, 0, 10) + 1; }
                long strtol_address(void) { return (long) &strtol; }
                """);
        try (JitLinker linker = farLinker(); LoadedSet set = linker.load(object)) {
            long caller = set.address("far_call");
            long strtol = (long) set.function("strtol_address", FunctionDescriptor.of(JAVA_LONG)).invokeExact();
            assertThat(Math.abs(strtol - caller)).as("the set is placed beyond a direct branch's reach of strtol")
                    .isGreaterThan(BRANCH_REACH);
            long stub = stub(set.layout(), "strtol");
            assertThat(branchTargets(set, "far_call")).as("far_call's call of strtol goes to the set's stub").contains(stub);
            assertThat(slotOfStub(set, stub)).as("the stub jumps to the address in strtol's GOT slot").isEqualTo(strtol);
            MethodHandle farCall = set.function("far_call", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
            assertThat((long) farCall.invokeExact(-41L)).isEqualTo(42L);
        }
    }

    @Test
    void aCallIntoAnEarlierSetGoesThroughTheStubVeneer() throws Throwable {
        Path callee = compile("callee", "long callee(long x) { return 3 * x; }\n");
        Path caller = compile("caller", "long callee(long);\nlong caller(long x) { return callee(x) + 1; }\n");
        try (JitLinker linker = farLinker(); LoadedSet first = linker.load(callee); LoadedSet second = linker.load(caller)) {
            long stub = stub(second.layout(), "callee");
            long call = branchTargets(second, "caller").getFirst();
            assertThat(call).as("caller's call of callee goes to its own set's stub, not across sets").isEqualTo(stub);
            // The slot holds callee or a redirectable indirection to it; either way the call lands there.
            MethodHandle handle = second.function("caller", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
            assertThat((long) handle.invokeExact(14L)).isEqualTo(43L);
            assertThat(first.address("callee")).isNotEqualTo(call);
        }
    }

    /**
     * The set's groups are mapped in the executor (qemu's process: guest addresses are its own) with
     * their permissions, never writable and executable; the GOT is within ADRP's ±4 GiB of the code.
     */
    @Test
    void theGroupsAreMappedInTheExecutorWithTheirPermissions() throws Throwable {
        Path object = compile("groups", """
                #include <stdio.h>
                static const char greeting[] = "hello";
                int counter = 3;
                int bump(void) { counter += puts(greeting) > 0; return counter; }
                """);
        try (JitLinker linker = JitLinker.builder().executor(Executor.childProcess(Target.AARCH64)).build();
             LoadedSet set = linker.load(object)) {
            // The executor's own /proc/self/maps, as the guest sees it.
            List<dev.jdyld.memory.MemoryMaps.Mapping> maps = linker.memoryManager().addressSpace().mappings();
            for (SetLayout.Group group : set.layout().groups()) {
                dev.jdyld.memory.MemoryMaps.Mapping mapping = maps.stream()
                        .filter(m -> m.start() <= group.address() && group.address() < m.end()).findFirst().orElseThrow();
                assertThat(mapping.end()).as("%s lies in one mapping", group.name())
                        .isGreaterThanOrEqualTo(group.address() + group.size());
                assertThat(mapping.permissions().substring(0, 3)).as("%s in the executor", group.name())
                        .isEqualTo(group.permissions());
            }
            // qemu's own process maps the guest's code read-only (it runs its translations instead).
            String executor = Integer.toString(ChildProcessExecutorTest.childPid(linker));
            long code = set.layout().groups().getFirst().address();
            assertThat(ChildProcessExecutorTest.permissionsAt(executor, code)).doesNotContain("w");
            long got = set.layout().symbols().stream().filter(s -> s.kind() == SetLayout.Symbol.Kind.GOT)
                    .mapToLong(SetLayout.Symbol::address).max().orElseThrow();
            assertThat(Math.abs(got - code)).isLessThan(1L << 32);
            assertThat((int) set.function("bump", FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT)).invokeExact())
                    .isEqualTo(4);
        }
    }

    /**
     * Loaded AArch64 code calls a Java function (the executor's upcall thunk) and a lazy symbol (the
     * emitted lazy entry, which must keep the arguments in x0-x7 and d0-d7 across the resolver)
     * with integer and floating-point arguments, and the answers come back in x0 and d0.
     */
    @Test
    void javaFunctionsAndLazySymbolsAreCalledWithTheirArguments() throws Throwable {
        Path lazy = compile("lazy", "double blend(long a, double b, long c, double d) { return a * b + c * d; }\n");
        Path caller = compile("user", """
                long twice(long);
                double blend(long, double, long, double);
                double use(long x) { return twice(x) + blend(x, 0.5, 3, 0.25); }
                """);
        try (JitLinker linker = JitLinker.builder().executor(Executor.childProcess(Target.AARCH64)).build()) {
            linker.defineFunction("twice", java.lang.invoke.MethodHandles.lookup().findStatic(Aarch64RangeTest.class,
                    "twice", java.lang.invoke.MethodType.methodType(long.class, long.class)), FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
            int[] materialized = {0};
            linker.defineLazy("blend", () -> {
                materialized[0]++;
                return List.of(dev.jdyld.core.ObjectFile.read(lazy));
            });
            try (LoadedSet set = linker.load(caller)) {
                MethodHandle use = set.function("use", FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_DOUBLE, JAVA_LONG));
                assertThat((double) use.invokeExact(10L)).isEqualTo(20 + 5 + 0.75);
                assertThat((double) use.invokeExact(4L)).isEqualTo(8 + 2 + 0.75);
                assertThat(materialized[0]).as("materialized once").isEqualTo(1);
            }
        }
    }

    /**
     * A set with 136 MiB of code, more than a branch reaches: calls and a tail call between its two
     * ends go through range-extension thunks in the caller's part of the set, placed after the
     * part's last section, and land where they should.
     */
    @Test
    void branchesAcrossALargeSetGoThroughItsIslands() throws Throwable {
        Path source = Files.writeString(dir.resolve("large.s"), """
                    .section .text.near,"ax",%progbits
                    .globl near_call
                    .type near_call, %function
                near_call:
                    stp x29, x30, [sp, -16]!
                    bl far_target
                    add x0, x0, #1
                    bl local_far
                    ldp x29, x30, [sp], 16
                    ret
                    .size near_call, .-near_call
                    .globl tail_near
                    .type tail_near, %function
                tail_near:
                    add x0, x0, #1000
                    ret
                    .size tail_near, .-tail_near
                    .section .text.gap,"ax",%progbits
                    .skip 136 << 20
                    .section .text.far,"ax",%progbits
                    .globl far_target
                    .type far_target, %function
                far_target:
                    mov x0, #41
                    ret
                    .size far_target, .-far_target
                local_far:
                    add x0, x0, #100
                    b tail_near
                """);
        Path object = dir.resolve("large.o");
        Process process = new ProcessBuilder("aarch64-linux-gnu-as", "--noexecstack", source.toString(), "-o", object.toString())
                .redirectErrorStream(true).start();
        assertThat(process.waitFor()).as(new String(process.getInputStream().readAllBytes())).isZero();
        try (JitLinker linker = JitLinker.builder().executor(Executor.childProcess(Target.AARCH64)).build();
             LoadedSet set = linker.load(object)) {
            long near = set.address("near_call");
            long far = set.address("far_target");
            assertThat(far - near).as("the two ends of the set's code").isGreaterThan(BRANCH_REACH);
            List<Long> calls = branchTargets(set, "near_call");
            assertThat(calls).hasSize(2);
            for (long call : calls) {
                assertThat(Math.abs(call - near)).as("near_call's calls go to a thunk near it").isLessThan(BRANCH_REACH);
                MemorySegment thunk = set.memory(call, 16);
                assertThat(thunk.get(JAVA_INT_UNALIGNED, 0)).as("ldr x16, literal").isEqualTo(0x58000050);
                assertThat(thunk.get(JAVA_INT_UNALIGNED, 4)).as("br x16").isEqualTo(0xd61f0200);
            }
            assertThat(set.memory(calls.getFirst() + 8, 8).get(JAVA_LONG_UNALIGNED, 0)).as("the thunk's target")
                    .isEqualTo(far);
            MethodHandle nearCall = set.function("near_call", FunctionDescriptor.of(JAVA_LONG));
            assertThat((long) nearCall.invokeExact()).as("41 + 1 + 100, then tail_near's 1000").isEqualTo(1142L);
        }
    }

    static long twice(long x) {
        return 2 * x;
    }

    private static long stub(SetLayout layout, String name) {
        List<SetLayout.Symbol> stubs = layout.symbols().stream()
                .filter(symbol -> symbol.kind() == SetLayout.Symbol.Kind.STUB && symbol.name().equals(name)).toList();
        assertThat(stubs).as("the set's stub for %s", name).hasSize(1);
        return stubs.getFirst().address();
    }

    /** The targets of the BLs (and Bs, tail calls) in function {@code name}. */
    private static List<Long> branchTargets(LoadedSet set, String name) {
        SetLayout.Symbol function = set.layout().symbols().stream()
                .filter(symbol -> symbol.kind() == SetLayout.Symbol.Kind.FUNCTION && symbol.name().equals(name))
                .findFirst().orElseThrow();
        long address = function.address();
        int length = (int) function.size();
        MemorySegment code = set.memory(address, length);
        List<Long> targets = new java.util.ArrayList<>();
        for (int at = 0; at < length; at += 4) {
            int word = code.get(JAVA_INT_UNALIGNED, at);
            if ((word & 0xfc000000) == 0x94000000 || (word & 0xfc000000) == 0x14000000) { // BL or B (a tail call)
                long offset = ((long) (word << 6) >> 6) * 4;
                targets.add(address + at + offset);
            }
        }
        assertThat(targets).as("branches in %s", name).isNotEmpty();
        return targets;
    }

    /** What the slot holds that the stub at {@code stub} ({@code adrp x16, page; ldr x16, [x16, lo12]; br x16}) loads. */
    private static long slotOfStub(LoadedSet set, long stub) {
        MemorySegment code = set.memory(stub, 16);
        int adrp = code.get(JAVA_INT_UNALIGNED, 0);
        int ldr = code.get(JAVA_INT_UNALIGNED, 4);
        assertThat(adrp & 0x9f00001f).as("adrp x16").isEqualTo(0x90000010);
        assertThat(ldr & 0xffc003ff).as("ldr x16, [x16, #imm]").isEqualTo(0xf9400210);
        assertThat(code.get(JAVA_INT_UNALIGNED, 8)).as("br x16").isEqualTo(0xd61f0200);
        long pages = ((long) (((adrp >>> 5) & 0x7ffff) << 2 | (adrp >>> 29) & 3) << 43) >> 43;
        long slot = (stub & ~0xfffL) + (pages << 12) + (long) ((ldr >>> 10) & 0xfff) * 8;
        return set.memory(slot, 8).get(JAVA_LONG_UNALIGNED, 0);
    }
}
