package dev.jdyld.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The C programs of the differential tests: checked-in fixtures under
 * {@code src/test/resources/programs/<name>/} and generated ones.
 */
final class TestPrograms {

    private TestPrograms() {}

    /**
     * One test program.
     *
     * @param name the directory under {@code programs/} (or the generated program's name)
     * @param args arguments after {@code --}, identical for the native and the jdyld run
     * @param nativeLibs libraries for the native link, as {@code -l<lib>}
     * @param jdyldLibs host libraries for jdyld, as {@code --lib <lib>}: names that {@code dlopen}
     *     accepts (e.g. {@code libm.so.6}; {@code libm.so} is a linker script on Debian)
     * @param generated true if the sources are written by {@link #writeSources}, not copied
     * @param archives static archives given to both links: natively as {@code -l:<file>}, to jdyld as files
     */
    record Program(String name, List<String> args, List<String> nativeLibs, List<String> jdyldLibs,
            boolean generated, List<Path> archives) {
        Program(String name, List<String> args, List<String> nativeLibs, List<String> jdyldLibs, boolean generated) {
            this(name, args, nativeLibs, jdyldLibs, generated, List.of());
        }

        @Override
        public String toString() {
            return name;
        }
    }

    static final Program HELLO_ARGV = new Program("hello-argv",
            List.of("one", "two words", "", "--not-an-option", "-x", "tab\there", "last"), List.of(), List.of(),
            false);

    static final List<Program> ALL = List.of(
            HELLO_ARGV,
            new Program("two-objects", List.of(), List.of(), List.of(), false),
            new Program("switch-table", List.of(), List.of(), List.of(), false),
            new Program("libm-float", List.of(), List.of("m"), List.of("libm.so.6"), false),
            new Program("setjmp-varargs-alloca", List.of(), List.of(), List.of(), false),
            new Program("pthreads-mutex", List.of(), List.of("pthread"), List.of(), false),
            new Program("functions-3000", List.of("7"), List.of(), List.of(), true),
            new Program("aligned-bss", List.of(), List.of(), List.of(), false));

    /**
     * Reaches host data (stderr, environ, optarg, optind) with 32-bit PC-relative references:
     * position-independent code only (non-PIC code cannot be both below 2 GiB and near libc's data).
     */
    static final Program HOST_DATA = new Program("host-data-getopt",
            List.of("-v", "-n", "bob", "-l", "3", "x", "y"), List.of(), List.of(), false);

    /**
     * Thread-local variables (initialised, zeroed, static, 64-byte aligned) updated by threads the
     * program creates: general dynamic, local dynamic and TLS descriptors (position-independent code),
     * local exec (gcc's default PIE and -fno-pic) and initial exec, which put the set's block in
     * static TLS.
     */
    static final Program TLS_THREADS = new Program("tls-threads", List.of(), List.of("pthread"), List.of(), false);

    /**
     * The C and C++ runtime: constructors and destructors with priorities and atexit handlers (exit
     * code 42), common and weak symbols, and a C++ program with virtual classes, the standard
     * containers, templates instantiated in two objects, global objects, a function-local static and
     * exceptions thrown through libstdc++.
     */
    static final List<Program> RUNTIME = List.of(
            new Program("ctor-atexit", List.of(), List.of(), List.of(), false),
            new Program("common-weak", List.of(), List.of(), List.of(), false),
            new Program("cpp-runtime", List.of(), List.of("stdc++"), List.of("stdc++"), false),
            new Program("cpp-thread-local", List.of(), List.of("stdc++"), List.of("stdc++"), false),
            new Program("ifunc", List.of(), List.of(), List.of(), false),
            // gcc links libgcc_s by default; jdyld run searches it by default too (no --lib).
            new Program("unwind-backtrace", List.of(), List.of(), List.of(), false));

    /**
     * GNU C nested functions whose address is taken, one of them passed to another thread: the
     * object's .note.GNU-stack asks for an executable stack, which the native link gives the whole
     * process and jdyld the threads that run the set.
     */
    static final Program NESTED_FUNCTIONS = new Program("nested-functions", List.of(), List.of("pthread"), List.of(), false);

    private static final Path SYSTEM_LIBRARIES = Path.of("/usr/lib/x86_64-linux-gnu");

    /** Programs using Debian's static archives (installed by .ci/run from the -dev packages). */
    static final List<Program> ARCHIVES = List.of(
            archiveProgram("archive-zlib", "libz.a"),
            archiveProgram("archive-sqlite", "libsqlite3.a"),
            archiveProgram("archive-gmp", "libgmp.a"),
            archiveProgram("archive-crypto", "libcrypto.a"),
            archiveProgram("archive-lua", "liblua5.4.a"));

    private static Program archiveProgram(String name, String archive) {
        return new Program(name, List.of(), List.of(":" + archive), List.of(), false,
                List.of(SYSTEM_LIBRARIES.resolve(archive)));
    }

    /**
     * Writes the program's C sources (and headers) into {@code dir}; returns the {@code .c} files,
     * sorted by name (the first one's object is argv[0] for jdyld).
     */
    static List<Path> writeSources(Program program, Path dir) {
        try {
            Files.createDirectories(dir);
            if (program.generated()) {
                return switch (program.name()) {
                    case "functions-3000" -> {
                        Path c = dir.resolve("functions3000.c");
                        Files.writeString(c, functionTable(3000, 4));
                        yield List.of(c);
                    }
                    default -> throw new IllegalArgumentException("no generator for " + program.name());
                };
            }
            Path src = resourceDir("programs/" + program.name());
            try (Stream<Path> files = Files.list(src)) {
                for (Path f : files.sorted().toList()) {
                    Files.copy(f, dir.resolve(f.getFileName().toString()));
                }
            }
            try (Stream<Path> files = Files.list(dir)) {
                List<Path> sources = files.filter(f -> f.getFileName().toString().endsWith(".c")
                        || f.getFileName().toString().endsWith(".cpp")).sorted().toList();
                if (sources.isEmpty()) {
                    throw new IllegalStateException("no .c files in " + src);
                }
                return sources;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Path resourceDir(String name) {
        URL url = TestPrograms.class.getClassLoader().getResource(name);
        if (url == null) {
            throw new IllegalStateException("test resource not found: " + name);
        }
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A C program of {@code n} functions {@code f_i(x, d)} that call each other through a const
     * table of function pointers (and a second, writable one) and directly, recursing to depth
     * {@code depth}.
     * Every third function is static. Output is deterministic (unsigned arithmetic only); the exit
     * code is a checksum in 1..200. The first program argument, if any, is mixed into the sums.
     */
    static String functionTable(int n, int depth) {
        StringBuilder sb = new StringBuilder(n * 200);
        sb.append("/* Generated by TestPrograms.functionTable(").append(n).append(", ").append(depth)
                .append("). */\n");
        sb.append("#include <stdio.h>\n#include <stdlib.h>\n\n");
        sb.append("#define N ").append(n).append("\n");
        sb.append("#define NOINLINE __attribute__((noinline))\n");
        sb.append("typedef unsigned (*fn_t)(unsigned, int);\n");
        sb.append("/* Always 0; not const, so the optimizer cannot turn table calls into direct calls. */\n");
        sb.append("unsigned table_mask;\n\n");
        for (int i = 0; i < n; i++) {
            sb.append(isStatic(i) ? "static " : "").append("NOINLINE unsigned f_").append(i).append("(unsigned x, int d);\n");
        }
        sb.append("\nconst fn_t table[N] = {\n");
        for (int i = 0; i < n; i++) {
            sb.append("    f_").append(i).append(",\n");
        }
        sb.append("};\n\n");
        sb.append("fn_t mutable_table[16];\n");
        sb.append("unsigned call_count;\n\n");
        for (int i = 0; i < n; i++) {
            int next = (int) ((i * 7L + 1) % n);
            int other = (int) ((i * 13L + 5) % n);
            long mul = (i * 2654435761L) & 0xffffL | 1;
            sb.append(isStatic(i) ? "static " : "").append("unsigned f_").append(i).append("(unsigned x, int d) {\n");
            sb.append("    call_count++;\n");
            sb.append("    if (d <= 0) return x * ").append(mul).append("u + ").append(i).append("u;\n");
            sb.append("    unsigned r = (x ^ ").append(i * 31 + 17).append("u) + table[").append(next)
                    .append(" ^ table_mask](x + ").append(i % 97).append("u, d - 1);\n");
            sb.append("    if (d > 2) r += f_").append(other).append("(r, d - 2);\n");
            sb.append("    return r;\n}\n\n");
        }
        sb.append("""
                int main(int argc, char **argv) {
                    unsigned seed = argc > 1 ? (unsigned)atoi(argv[1]) : 0u;
                    unsigned total = 0;
                    for (int i = 0; i < 16; i++) {
                        mutable_table[i] = table[(i * 211 + 3) %% N];
                    }
                    for (int i = 0; i < N; i++) {
                        unsigned v = table[i]((unsigned)i + seed, %d);
                        total = total * 31u + v;
                        if (i %% 250 == 0) {
                            printf("f_%%d -> %%u total=%%u\\n", i, v, total);
                        }
                    }
                    for (int i = 0; i < 16; i++) {
                        total ^= mutable_table[i](total, 2);
                    }
                    printf("calls=%%u total=%%u\\n", call_count, total);
                    return (int)(total %% 200u) + 1;
                }
                """.formatted(depth));
        return sb.toString();
    }

    private static boolean isStatic(int i) {
        return i % 3 == 2;
    }
}
