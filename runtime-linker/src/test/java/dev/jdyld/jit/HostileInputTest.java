package dev.jdyld.jit;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.ObjectFile;
import dev.jdyld.elf.ElfObject;
import dev.jdyld.memory.WindowUsage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Thousands of corrupted copies of real objects: each load either succeeds or fails with a
 * {@link LinkException}, never any other exception or a crash, and a failed load leaves nothing
 * mapped. (Loads run no loaded code: {@code runInitializers(false)}.)
 */
class HostileInputTest {
    @TempDir
    Path dir;

    /** Sets a field of section {@code name}'s header (offset {@code field} in the 64-byte header). */
    private static byte[] patchSection(byte[] bytes, String name, int field, long value) {
        ElfObject object = ElfObject.parse("x.o", bytes);
        for (int s = 1; s < object.sectionCount; s++) {
            if (object.sectionName[s].equals(name)) {
                byte[] patched = bytes.clone();
                java.nio.ByteBuffer.wrap(patched).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                        .putLong((int) (object.headerOffset(s) + field), value);
                return patched;
            }
        }
        throw new AssertionError("no section " + name);
    }

    @Test
    void absurdSizesAndAlignmentsAreRefused() throws Exception {
        byte[] bytes = Files.readAllBytes(Toolchain.compile(dir, "sizes",
                "int zeroed[16]; __thread int tls_zeroed[4]; int f(void) { return zeroed[1] + tls_zeroed[2]; }",
                "-O2", "-fPIC"));
        try (JitLinker linker = JitLinker.builder().runInitializers(false).build()) {
            int n = 0;
            for (byte[] mutant : List.of(patchSection(bytes, ".bss", 32, 1L << 62),
                    patchSection(bytes, ".bss", 32, -8),
                    patchSection(bytes, ".tbss", 32, 1L << 61),
                    patchSection(bytes, ".bss", 48, 1L << 40),
                    patchSection(bytes, ".text", 48, 3))) {
                org.assertj.core.api.Assertions.assertThatThrownBy(
                                () -> linker.loadObjects(List.of(new ObjectFile("sizes.o", mutant))))
                        .as("mutant %d", n++).isInstanceOf(LinkException.class).hasMessageContaining("sizes.o");
            }
        }
    }

    @Test
    void corruptedObjectsFailCleanly() throws Exception {
        Path c = Toolchain.compile(dir, "victim", """
                #include <stdio.h>
                __thread int tls_counter = 3;
                static int table[] = {1, 2, 3};
                int (*hook)(const char *) = puts;
                int f(int i) { tls_counter++; return table[i % 3] + printf("%d\\n", i); }
                __attribute__((constructor)) static void init(void) { table[0] = 5; }
                """, "-O2", "-fPIC");
        Path cpp = dir.resolve("victim2.cpp");
        Toolchain.write(cpp, "#include <string>\nstd::string g(int x) { return std::to_string(x) + \"!\"; }\n"
                + "template <class T> T twice(T v) { return v + v; } int h(int v) { return twice(v); }\n");
        Path cppObject = dir.resolve("victim2.o");
        Toolchain.run(List.of("g++", "-c", "-O2", "-fPIC", cpp.toString(), "-o", cppObject.toString()));
        Random random = new Random(20261123);
        int loaded = 0;
        int refused = 0;
        try (JitLinker linker = JitLinker.builder().runInitializers(false).hostLibrary("libstdc++.so.6").build()) {
            for (Path source : List.of(c, cppObject)) {
                byte[] original = Files.readAllBytes(source);
                for (int i = 0; i < 1500; i++) {
                    byte[] bytes = original.clone();
                    int flips = 1 + random.nextInt(8);
                    for (int f = 0; f < flips; f++) {
                        int at = random.nextInt(bytes.length);
                        bytes[at] = switch (random.nextInt(4)) {
                            case 0 -> (byte) random.nextInt();
                            case 1 -> (byte) (bytes[at] ^ (1 << random.nextInt(8)));
                            case 2 -> (byte) 0xff;
                            default -> 0;
                        };
                    }
                    if (random.nextInt(10) == 0) {
                        bytes = java.util.Arrays.copyOf(bytes, random.nextInt(bytes.length));
                    }
                    try {
                        linker.loadObjects(List.of(new ObjectFile("mutant-" + i + ".o", bytes))).close();
                        loaded++;
                    } catch (LinkException e) {
                        refused++;
                        assertThat(e.getMessage()).contains("mutant-" + i + ".o").doesNotContain("\n");
                    }
                    for (WindowUsage window : linker.memoryManager().usage()) {
                        assertThat(window.committed()).as("after mutant %d", i).isZero();
                    }
                }
            }
        }
        assertThat(refused).isGreaterThan(100);
        assertThat(loaded).isGreaterThan(10);
    }
}
