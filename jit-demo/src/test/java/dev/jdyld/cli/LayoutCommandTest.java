package dev.jdyld.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.jdyld.cli.NativeToolchain.Result;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code jdyld layout}: GOT and stub counts are per distinct symbol, as {@code readelf -r} shows them. */
class LayoutCommandTest {
    private Path dir;

    @BeforeEach
    void createDir() {
        dir = NativeToolchain.newWorkDir("jdyld-layout");
    }

    @AfterEach
    void deleteDir() {
        NativeToolchain.deleteRecursively(dir);
    }

    private Path compile(String name, String source) throws Exception {
        Path c = Files.writeString(dir.resolve(name + ".c"), source);
        return NativeToolchain.compile(List.of(c), dir, List.of("-O2", "-fPIC")).files().get(0);
    }

    private static String layoutJson(Path... files) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream original = System.out;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            String[] args = new String[files.length + 2];
            args[0] = "layout";
            args[1] = "--json";
            for (int i = 0; i < files.length; i++) {
                args[i + 2] = files[i].toString();
            }
            assertThat(Main.execute(args)).isZero();
        } finally {
            System.setOut(original);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static int field(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\": (\\d+)").matcher(json);
        assertThat(m.find()).as("%s in %s", name, json).isTrue();
        return Integer.parseInt(m.group(1));
    }

    @Test
    void gotAndStubCountsAreDistinctSymbolsNotRelocations() throws Exception {
        Path a = compile("a", """
                #include <stdio.h>
                #include <string.h>
                #include <stdlib.h>
                extern int shared; int helper(int);
                int f(const char *s) { printf("%s\\n", s); puts(s); return (int) strlen(s) + shared + helper(1); }
                int g(const char *s) { printf("%s!\\n", s); puts(s); free(malloc(4)); return (int) strlen(s) + shared; }
                """);
        Path b = compile("b", """
                #include <stdio.h>
                #include <stdlib.h>
                int shared = 3;
                int helper(int x) { printf("%d\\n", x); return x + shared + abs(x); }
                """);
        Set<String> defined = Set.of("shared", "helper", "f", "g");
        Set<String> got = new HashSet<>();
        Set<String> stubs = new HashSet<>();
        int relocations = 0;
        for (Path object : List.of(a, b)) {
            Result readelf = NativeToolchain.run(List.of("readelf", "-rW", object.toString()), dir, Duration.ofSeconds(30));
            String section = "";
            for (String line : readelf.stdout().split("\n")) {
                if (line.startsWith("Relocation section")) {
                    section = line;
                    continue;
                }
                String[] fields = line.trim().split("\\s+");
                if (fields.length < 5 || !fields[2].startsWith("R_X86_64_") || section.contains(".rela.eh_frame")) {
                    continue;
                }
                relocations++;
                String type = fields[2];
                String symbol = fields[4];
                // GOTPCRELX loads of the set's own symbols are relaxed (mov becomes lea): no slot.
                boolean relaxed = type.endsWith("GOTPCRELX") && defined.contains(symbol);
                if ((type.startsWith("R_X86_64_GOTPCREL") || type.endsWith("GOTPCRELX")) && !relaxed) {
                    got.add(symbol);
                }
                if (type.equals("R_X86_64_PLT32") && !defined.contains(symbol)) {
                    stubs.add(symbol);
                    got.add(symbol); // a stub jumps through the symbol's GOT slot
                }
            }
        }
        String json = layoutJson(a, b);
        assertThat(relocations).isGreaterThan(got.size() + stubs.size());
        assertThat(got).as("shared, read through the GOT as compiled, is relaxed").doesNotContain("shared");
        assertThat(field(json, "stubs")).as(json).isEqualTo(stubs.size());
        assertThat(field(json, "gotEntries")).as(json).isEqualTo(got.size());
        assertThat(json).contains("\"name\": \".got\"", "\"name\": \".stubs\"", "\"windows\"");
    }

    @Test
    void theStaticTlsBlockAndTheReserveLeftAreShownAndTheTunableRaisesTheReserve() throws Exception {
        Path c = Files.writeString(dir.resolve("tls.c"), """
                __thread long counter = 7;
                static __thread char buffer[100];
                long bump(void) { buffer[0]++; return ++counter; }
                """);
        Path object = NativeToolchain.compile(List.of(c), dir, List.of("-O2")).files().get(0); // gcc's default: PIE, local exec
        assertThat(NativeToolchain.run(List.of("readelf", "-rW", object.toString()), dir, Duration.ofSeconds(30)).stdout())
                .contains("R_X86_64_TPOFF32");
        String json = layoutJson(object);
        Matcher block = Pattern.compile("\"threadLocal\": \\{\"static\": true, \"size\": 108, \"templateSize\": 8,"
                + " \"alignment\": 8, \"threadPointerOffset\": -(\\d+), \"staticReserveLeft\": (\\d+)}").matcher(json);
        assertThat(block.find()).as(json).isTrue();
        long defaultReserve = Long.parseLong(block.group(2));
        assertThat(defaultReserve).as("glibc's default surplus, less what the JVM's libraries took").isBetween(512L, 4096L);

        List<String> command = NativeToolchain.jdyldCommand(dir);
        command.addAll(List.of("layout", object.toString()));
        Result raised = NativeToolchain.run(command, dir, Duration.ofSeconds(60),
                Map.of("GLIBC_TUNABLES", "glibc.rtld.optional_static_tls=65536"));
        assertThat(raised.exitCode()).as(raised.describe()).isZero();
        Matcher table = Pattern.compile("Thread-local block: static TLS, size 0x6c \\(0x8 from \\.tdata\\), align 8\n"
                + "  at %fs:0 - 0x([0-9a-f]+) in every thread; static TLS reserve left: (\\d+) bytes").matcher(raised.stdout());
        assertThat(table.find()).as(raised.stdout()).isTrue();
        assertThat(Long.parseLong(table.group(2))).isGreaterThan(65536 - 512).isGreaterThan(defaultReserve);
    }

    /** An AArch64 set's layout, from the AArch64 executor: its static TLS above the thread pointer (variant I). */
    @Test
    @org.junit.jupiter.api.condition.EnabledIf("dev.jdyld.cli.Aarch64DifferentialTest#toolchainInstalled")
    void aarch64SetWithStaticTlsAboveTheThreadPointer() throws Exception {
        Path c = Files.writeString(dir.resolve("tls64.c"), "__thread int counter = 5;\nint next(void) { return ++counter; }\n");
        Path object = NativeToolchain.compile(Aarch64DifferentialTest.CC, List.of(c), dir, List.of("-O2")).files().get(0);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream original = System.out;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            assertThat(Main.execute("layout", "--target", "aarch64", object.toString())).isZero();
        } finally {
            System.setOut(original);
        }
        String text = out.toString(StandardCharsets.UTF_8);
        assertThat(text).containsPattern("TEXT +0x[0-9a-f]{16} 0x[0-9a-f]{16} 0x[0-9a-f]{8} r-x")
                .containsPattern("Thread-local block: static TLS, size 0x4 \\(0x4 from \\.tdata\\), align 4\n"
                        + "  at tpidr_el0 \\+ 0x[0-9a-f]+ in every thread\n")
                .doesNotContain("%fs");
    }
}
