package dev.jdyld.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jdyld.cli.NativeToolchain.Objects;
import dev.jdyld.cli.NativeToolchain.Result;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code jdyld run} on inputs it must reject: exit code 1, exactly one stderr line starting with
 * {@code jdyld: } that names the offending file, nothing on stdout, and no JVM crash.
 */
class BadInputTest {

    private static Path workRoot;
    /** A good relocatable object (hello-argv, -O2 -fPIE) and its natively linked executables. */
    private static Path goodObject;
    private static Path pieExecutable;
    private static Path nonPieExecutable;

    @BeforeAll
    static void buildGoodInputs() {
        workRoot = NativeToolchain.newWorkDir("jdyld-badinput");
        Path dir = workRoot.resolve("good");
        List<Path> sources = TestPrograms.writeSources(TestPrograms.HELLO_ARGV, dir);
        Objects objects = NativeToolchain.compile(sources, dir, List.of("-O2", "-fPIE"));
        goodObject = objects.files().getFirst();
        pieExecutable = NativeToolchain.link(objects, dir.resolve("hello-pie"), List.of());
        nonPieExecutable = NativeToolchain.link(new Objects(objects.files(), List.of()),
                dir.resolve("hello-nopie"), List.of());
    }

    @AfterAll
    static void deleteWorkRoot() {
        NativeToolchain.deleteRecursively(workRoot);
    }

    /** Makes the bad input file inside the given directory and returns it. */
    @FunctionalInterface
    interface Maker extends Function<Path, Path> {}

    static Stream<Arguments> badInputs() {
        return Stream.of(
                Arguments.of("truncated object (first 100 bytes of a real .o)", (Maker) dir ->
                        write(dir.resolve("truncated.o"), Arrays.copyOf(read(goodObject), 100))),
                Arguments.of("empty file", (Maker) dir -> write(dir.resolve("empty.o"), new byte[0])),
                Arguments.of("garbage bytes", (Maker) dir -> write(dir.resolve("garbage.o"), garbage(4096, 42, false))),
                Arguments.of("ELF64 ident followed by garbage", (Maker) dir ->
                        write(dir.resolve("elf-garbage.o"), garbage(4096, 7, true))),
                Arguments.of("hand-made AArch64 ELF64 relocatable (e_machine 183)", (Maker) dir ->
                        write(dir.resolve("aarch64-empty.o"), minimalElf(183))),
                Arguments.of("AArch64 object from llvm-mc", (Maker) BadInputTest::aarch64FromLlvmMc),
                Arguments.of("PIE executable", (Maker) dir -> copy(pieExecutable, dir.resolve("hello-pie"))),
                Arguments.of("non-PIE executable", (Maker) dir -> copy(nonPieExecutable, dir.resolve("hello-nopie"))),
                Arguments.of("R_X86_64_PC8 against a local label 1002 bytes away", (Maker) dir -> assemble(dir,
                        "pc8-far.s", """
                                \t.text
                                \t.globl main
                                \t.type main, @function
                                main:
                                \t.reloc ., R_X86_64_PC8, far
                                \t.byte 0
                                \tret
                                \t.skip 1000
                                far:
                                \tret
                                """)),
                Arguments.of("R_X86_64_PC8 against libc puts", (Maker) dir -> assemble(dir,
                        "pc8-puts.s", """
                                \t.text
                                \t.globl main
                                \t.type main, @function
                                main:
                                \t.reloc ., R_X86_64_PC8, puts
                                \t.byte 0
                                \tret
                                """)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badInputs")
    void rejectsBadInput(String description, Maker maker) throws IOException {
        Path dir = Files.createDirectories(workRoot.resolve(description.replaceAll("[^A-Za-z0-9]+", "-")));
        Path bad = maker.apply(dir);
        Result r = NativeToolchain.runJdyld(List.of(), List.of(bad), List.of(), dir);
        assertRejected(r, bad, dir);
    }

    @Test
    void namesTheBadFileAmongGoodOnes() throws IOException {
        Path dir = Files.createDirectories(workRoot.resolve("bad-among-good"));
        Path bad = write(dir.resolve("truncated-second.o"), Arrays.copyOf(read(goodObject), 100));
        Result r = NativeToolchain.runJdyld(List.of(), List.of(goodObject, bad), List.of(), dir);
        assertRejected(r, bad, dir);
    }

    @Test
    void rejectsMissingFile() throws IOException {
        Path dir = Files.createDirectories(workRoot.resolve("missing"));
        Path missing = dir.resolve("does-not-exist.o");
        Result r = NativeToolchain.runJdyld(List.of(), List.of(missing), List.of(), dir);
        assertRejected(r, missing, dir);
    }

    private static void assertRejected(Result r, Path bad, Path dir) {
        String context = "jdyld run on " + bad.getFileName() + "\n" + r.describe();
        assertThat(r.timedOut()).as(() -> context).isFalse();
        assertThat(NativeToolchain.crashReports(dir)).as(() -> "JVM crash report written; " + context).isEmpty();
        assertThat(r.exitCode()).as(() -> context).isNotIn(134, 139).isEqualTo(1);
        assertThat(r.stdout()).as(() -> context).isEmpty();
        List<String> lines = r.stderr().lines().toList();
        assertThat(lines).as(() -> "stderr must be exactly one line; " + context).hasSize(1);
        assertThat(lines.getFirst()).as(() -> context)
                .startsWith("jdyld: ")
                .contains(bad.getFileName().toString());
    }

    // ---------------------------------------------------------------------------------------------
    // Bad input makers

    private static Path aarch64FromLlvmMc(Path dir) {
        assumeTrue(NativeToolchain.onPath("llvm-mc-14"), "llvm-mc-14 is not installed");
        Path src = write(dir.resolve("aarch64.s"),
                "\t.text\n\t.globl main\n\t.type main, %function\nmain:\n\tmov w0, #0\n\tret\n"
                        .getBytes(StandardCharsets.US_ASCII));
        Path obj = dir.resolve("aarch64-main.o");
        Result r = NativeToolchain.run(List.of("llvm-mc-14", "-triple=aarch64-linux-gnu", "-filetype=obj",
                "-o", obj.toString(), src.toString()), dir, NativeToolchain.NATIVE_TIMEOUT);
        assertThat(r.exitCode()).as(r::describe).isZero();
        return obj;
    }

    private static Path assemble(Path dir, String name, String source) {
        Path src = write(dir.resolve(name), source.getBytes(StandardCharsets.US_ASCII));
        return NativeToolchain.assemble(src, dir.resolve(name.replaceFirst("\\.s$", ".o")));
    }

    /** Seeded random bytes; optionally starting with a valid ELF64 little-endian ident. */
    static byte[] garbage(int size, long seed, boolean elfIdent) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        if (elfIdent) {
            byte[] ident = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
            System.arraycopy(ident, 0, b, 0, ident.length);
        } else if (b[0] == 0x7f) {
            b[0] = 0;
        }
        return b;
    }

    /**
     * A minimal, well-formed ELF64 little-endian relocatable object for the given machine: header,
     * a null section and a {@code .shstrtab}, nothing else.
     */
    static byte[] minimalElf(int machine) {
        byte[] shstrtab = "\0.shstrtab\0".getBytes(StandardCharsets.US_ASCII);
        int shoff = 80; // 64-byte header + 11-byte string table, aligned to 8
        ByteBuffer b = ByteBuffer.allocate(shoff + 2 * 64).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2 /* ELFCLASS64 */, 1 /* LSB */, 1 /* EV_CURRENT */, 0});
        b.put(new byte[8]);
        b.putShort((short) 1); // e_type ET_REL
        b.putShort((short) machine); // e_machine
        b.putInt(1); // e_version
        b.putLong(0); // e_entry
        b.putLong(0); // e_phoff
        b.putLong(shoff); // e_shoff
        b.putInt(0); // e_flags
        b.putShort((short) 64); // e_ehsize
        b.putShort((short) 0); // e_phentsize
        b.putShort((short) 0); // e_phnum
        b.putShort((short) 64); // e_shentsize
        b.putShort((short) 2); // e_shnum
        b.putShort((short) 1); // e_shstrndx
        b.put(shstrtab);
        b.position(shoff);
        b.put(new byte[64]); // section 0: SHT_NULL
        b.putInt(1); // sh_name ".shstrtab"
        b.putInt(3); // sh_type SHT_STRTAB
        b.putLong(0); // sh_flags
        b.putLong(0); // sh_addr
        b.putLong(64); // sh_offset
        b.putLong(shstrtab.length); // sh_size
        b.putInt(0); // sh_link
        b.putInt(0); // sh_info
        b.putLong(1); // sh_addralign
        b.putLong(0); // sh_entsize
        return b.array();
    }

    private static byte[] read(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path write(Path p, byte[] bytes) {
        try {
            return Files.write(p, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path copy(Path from, Path to) {
        try {
            return Files.copy(from, to);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
