package dev.jdyld.cli;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

import dev.jdyld.jit.JitLinker;
import dev.jdyld.jit.LoadedSet;
import dev.jdyld.core.SetLayout;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * GOTPCRELX relaxation, read back with Capstone from the loaded code: loads of the set's own
 * symbols through the GOT become {@code lea}, {@code addr32 call} and {@code jmp; nop}, with no
 * GOT slot; with {@code relaxGot(false)} the instructions stay as compiled and the slots hold the
 * addresses. Host functions keep their slots either way.
 */
class GotRelaxationTest {
    private Path dir;

    @BeforeEach
    void createDir() {
        dir = NativeToolchain.newWorkDir("jdyld-relax");
    }

    @AfterEach
    void deleteDir() {
        NativeToolchain.deleteRecursively(dir);
    }

    private static final String USER = """
            #include <stdlib.h>
            extern int counter;
            int helper(int);
            int *counter_address(void) { return &counter; }
            int use(int x) { return counter + helper(x) + abs(x); }
            int tail(int x) { return helper(x + 1); }
            long host(const char *s) { return strtol(s, 0, 10); }
            """;
    private static final String DEFINER = """
            int counter = 5;
            int helper(int x) { return 2 * x; }
            """;

    private List<Path> objects() throws Exception {
        Path user = Files.writeString(dir.resolve("user.c"), USER);
        Path definer = Files.writeString(dir.resolve("definer.c"), DEFINER);
        // -fno-plt: calls of functions not known to be local go through the GOT (call/jmp *f@GOTPCREL(%rip)).
        List<Path> files = NativeToolchain.compile(List.of(user, definer), dir, List.of("-O2", "-fPIC", "-fno-plt")).files();
        String relocations = NativeToolchain.run(List.of("readelf", "-rW", files.get(0).toString()), dir,
                java.time.Duration.ofSeconds(30)).stdout();
        assertThat(relocations).contains("R_X86_64_REX_GOTPCRELX", "R_X86_64_GOTPCRELX");
        return files;
    }

    /** Instructions of the loaded function, from its symbol to its end. */
    private static List<Disassembler.Instruction> code(LoadedSet set, String function) {
        SetLayout.Symbol symbol = set.layout().symbols().stream()
                .filter(s -> s.name().equals(function) && s.kind() == SetLayout.Symbol.Kind.FUNCTION).findFirst().orElseThrow();
        MemorySegment bytes = MemorySegment.ofAddress(symbol.address()).reinterpret(symbol.size());
        try (Disassembler disassembler = new Disassembler()) {
            return disassembler.disassemble(bytes, symbol.address());
        }
    }

    /** The address a RIP-relative operand refers to: the next instruction's address plus the displacement. */
    private static long ripTarget(Disassembler.Instruction instruction) {
        Matcher m = Pattern.compile("(-?)0x([0-9a-f]+)\\(%rip\\)").matcher(instruction.operands());
        assertThat(m.find()).as(instruction.toString()).isTrue();
        long displacement = Long.parseLong(m.group(2), 16) * (m.group(1).isEmpty() ? 1 : -1);
        return instruction.address() + instruction.size() + displacement;
    }

    private static Disassembler.Instruction find(List<Disassembler.Instruction> code, String mnemonic, String operands) {
        return code.stream().filter(i -> i.mnemonic().equals(mnemonic) && i.operands().startsWith(operands)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + mnemonic + " " + operands + " in " + code));
    }

    private static byte[] bytes(Disassembler.Instruction instruction) {
        return MemorySegment.ofAddress(instruction.address()).reinterpret(instruction.size())
                .toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    private static String hex(long address) {
        return "0x" + Long.toHexString(address);
    }

    @Test
    void loadsOfTheSetsOwnSymbolsBecomeLeaAndDirectCallsAndNeedNoSlot() throws Throwable {
        List<Path> files = objects();
        try (JitLinker linker = JitLinker.create(); LoadedSet set = linker.load(files)) {
            long counter = set.address("counter");
            long helper = set.address("helper");
            Disassembler.Instruction lea = code(set, "counter_address").get(0);
            assertThat(lea.mnemonic()).isEqualTo("leaq");
            assertThat(lea.operands()).endsWith("(%rip), %rax");
            assertThat(ripTarget(lea)).isEqualTo(counter);
            assertThat(bytes(lea)).startsWith(0x48, 0x8d); // REX.W lea, where the compiler wrote 48 8b (mov)

            List<Disassembler.Instruction> use = code(set, "use");
            Disassembler.Instruction call = find(use, "callq", hex(helper));
            assertThat(bytes(call)).as("addr32 call rel32, in the 6 bytes of call *slot(%%rip)")
                    .startsWith(0x67, 0xe8).hasSize(6);
            assertThat(ripTarget(find(use, "leaq", ""))).as("counter, a second time").isEqualTo(counter);

            List<Disassembler.Instruction> tail = code(set, "tail");
            Disassembler.Instruction jump = find(tail, "jmp", hex(helper));
            assertThat(bytes(jump)).startsWith(0xe9).hasSize(5);
            assertThat(tail.get(tail.indexOf(jump) + 1).mnemonic()).isEqualTo("nop");
            assertThat(bytes(tail.get(tail.indexOf(jump) + 1))).containsExactly(0x90);

            Map<String, Long> slots = gotSlots(set);
            assertThat(slots).doesNotContainKeys("counter", "helper").containsKey("strtol");
            assertThat(ripTarget(find(code(set, "host"), "jmpq", "*"))).as("a host function keeps its slot")
                    .isEqualTo(slots.get("strtol"));
            assertThat((long) set.function("counter_address", FunctionDescriptor.of(JAVA_LONG)).invokeExact())
                    .isEqualTo(counter);
            assertThat((int) set.function("use", FunctionDescriptor.of(JAVA_INT, JAVA_INT)).invokeExact(-3))
                    .isEqualTo(5 - 6 + 3);
            assertThat((int) set.function("tail", FunctionDescriptor.of(JAVA_INT, JAVA_INT)).invokeExact(4)).isEqualTo(10);
        }
    }

    @Test
    void withRelaxationOffTheCodeStaysAsCompiledAndTheSlotsHoldTheAddresses() throws Throwable {
        List<Path> files = objects();
        try (JitLinker linker = JitLinker.builder().relaxGot(false).build(); LoadedSet set = linker.load(files)) {
            Map<String, Long> slots = gotSlots(set);
            assertThat(slots).containsKeys("counter", "helper", "strtol");
            assertThat(MemorySegment.ofAddress(slots.get("counter")).reinterpret(8).get(JAVA_LONG, 0))
                    .isEqualTo(set.address("counter"));
            assertThat(MemorySegment.ofAddress(slots.get("helper")).reinterpret(8).get(JAVA_LONG, 0))
                    .isEqualTo(set.address("helper"));
            Disassembler.Instruction mov = code(set, "counter_address").get(0);
            assertThat(mov.mnemonic()).isEqualTo("movq");
            assertThat(ripTarget(mov)).isEqualTo(slots.get("counter"));
            assertThat(ripTarget(find(code(set, "use"), "callq", "*"))).isEqualTo(slots.get("helper"));
            assertThat(ripTarget(find(code(set, "tail"), "jmpq", "*"))).isEqualTo(slots.get("helper"));
            assertThat(ripTarget(find(code(set, "host"), "jmpq", "*"))).isEqualTo(slots.get("strtol"));
            assertThat((int) set.function("use", FunctionDescriptor.of(JAVA_INT, JAVA_INT)).invokeExact(-3))
                    .isEqualTo(5 - 6 + 3);
        }
    }

    @Test
    void relaxationSavesGotSlotsOnSqlite() throws Exception {
        Path main = Files.writeString(dir.resolve("main.c"), """
                #include <sqlite3.h>
                int main(void) { sqlite3 *db; sqlite3_open(":memory:", &db);
                  sqlite3_exec(db, "select 1", 0, 0, 0); return sqlite3_close(db); }
                """);
        List<Path> files = new java.util.ArrayList<>(NativeToolchain.compile(List.of(main), dir, List.of("-O2")).files());
        files.add(Path.of("/usr/lib/x86_64-linux-gnu/libsqlite3.a"));
        int relaxed;
        int kept;
        try (JitLinker linker = JitLinker.builder().runInitializers(false).build(); LoadedSet set = linker.load(files)) {
            relaxed = set.layout().gotEntries();
        }
        try (JitLinker linker = JitLinker.builder().runInitializers(false).relaxGot(false).build();
             LoadedSet set = linker.load(files)) {
            kept = set.layout().gotEntries();
        }
        System.out.printf("libsqlite3.a: %d GOT slots without relaxation, %d with: %d saved%n", kept, relaxed, kept - relaxed);
        assertThat(kept - relaxed).as("GOT slots saved").isGreaterThanOrEqualTo(10);
    }

    /** GOT slots by the name of the symbol they hold, from the layout's symbol list. */
    private static Map<String, Long> gotSlots(LoadedSet set) {
        return set.layout().symbols().stream().filter(s -> s.kind() == SetLayout.Symbol.Kind.GOT)
                .collect(Collectors.toMap(SetLayout.Symbol::name, SetLayout.Symbol::address, (a, b) -> a));
    }
}
