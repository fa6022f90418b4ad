package dev.jdyld.bench;

import dev.jdyld.jit.JitLinker;
import dev.jdyld.jit.LoadedSet;
import dev.jdyld.core.ObjectFile;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Relocation throughput: a generated object of {@link #RELOCATIONS} relocations (half
 * {@code R_X86_64_64}, half {@code R_X86_64_PC32}, against 1,000 functions) loaded whole by jdyld
 * (parse, plan, map, copy, relocate, protect, close), against a C loop that only applies the same
 * relocations, pre-resolved, to a buffer: the practical ceiling. Scores are per relocation.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class RelocationBenchmark {
    static final int FUNCTIONS = 1000;
    static final int RELOCATIONS = 1_000_000;

    static final String C_LOOP = """
            #include <stdint.h>
            #include <string.h>
            typedef struct { uint64_t offset, info; int64_t addend; } Rela;
            /* Applies pre-resolved R_X86_64_64 (1) and R_X86_64_PC32 (2) to buf at base: the ceiling. */
            long apply(const Rela *r, long n, unsigned char *buf, long base, const long *symbols) {
                for (long i = 0; i < n; i++) {
                    uint64_t off = r[i].offset; uint32_t type = (uint32_t) r[i].info;
                    long s = symbols[r[i].info >> 32], a = r[i].addend, p = base + (long) off;
                    if (type == 1) { uint64_t v = s + a; memcpy(buf + off, &v, 8); }
                    else if (type == 2) { int64_t v = s + a - p; if (v != (int32_t) v) return -1;
                                          int32_t w = (int32_t) v; memcpy(buf + off, &w, 4); }
                }
                return n;
            }
            """;

    private Path dir;
    private JitLinker linker;
    private List<ObjectFile> inputs;
    private Arena arena;
    private MethodHandle apply;
    private MemorySegment relas;
    private MemorySegment buffer;
    private MemorySegment symbols;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        dir = Fixtures.tempDir("jdyld-reloc-bench");
        StringBuilder asm = new StringBuilder(".text\n");
        for (int f = 0; f < FUNCTIONS; f++) {
            asm.append(".globl f").append(f).append("\nf").append(f).append(": ret\n");
        }
        asm.append(".data\n");
        for (int i = 0; i < RELOCATIONS / 2; i++) {
            long f = (i * 7919L) % FUNCTIONS;
            asm.append(".quad f").append(f).append("\n.long f").append(f).append(" - .\n");
        }
        Path source = Fixtures.write(dir.resolve("relocs.s"), asm.toString());
        Path object = dir.resolve("relocs.o");
        Fixtures.run(List.of("as", source.toString(), "-o", object.toString()));
        inputs = List.of(ObjectFile.read(object));
        linker = JitLinker.builder().runInitializers(false).build();

        // The C ceiling: the object's .rela.data entries with symbol indexes renumbered to a flat table.
        Path c = Fixtures.write(dir.resolve("loop.c"), C_LOOP);
        Path library = dir.resolve("libloop.so");
        Fixtures.run(List.of("gcc", "-O2", "-shared", "-fPIC", c.toString(), "-o", library.toString()));
        arena = Arena.ofShared();
        apply = Linker.nativeLinker().downcallHandle(SymbolLookup.libraryLookup(library, arena).findOrThrow("apply"),
                FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS));
        relas = arena.allocate(24L * RELOCATIONS, 8);
        buffer = arena.allocate(12L * RELOCATIONS / 2 + 16, 16);
        symbols = arena.allocate(8L * FUNCTIONS, 8);
        long base = buffer.address();
        for (int f = 0; f < FUNCTIONS; f++) {
            symbols.setAtIndex(JAVA_LONG, f, base - 4096 * (long) f);
        }
        for (int i = 0; i < RELOCATIONS / 2; i++) {
            long f = (i * 7919L) % FUNCTIONS;
            long at = 24L * 2 * i;
            relas.set(JAVA_LONG, at, 12L * i);
            relas.set(JAVA_LONG, at + 8, (f << 32) | 1);
            relas.set(JAVA_LONG, at + 16, 0);
            relas.set(JAVA_LONG, at + 24, 12L * i + 8);
            relas.set(JAVA_LONG, at + 32, (f << 32) | 2);
            relas.set(JAVA_LONG, at + 40, 0);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        linker.close();
        arena.close();
        Fixtures.delete(dir);
    }

    /** jdyld: the whole load of the object, per relocation. */
    @Benchmark
    @OperationsPerInvocation(RELOCATIONS)
    public long jdyldLoad() {
        try (LoadedSet set = linker.loadObjects(inputs)) {
            return set.address("f0");
        }
    }

    /** The C loop applying the same relocations, pre-resolved, per relocation. */
    @Benchmark
    @OperationsPerInvocation(RELOCATIONS)
    public long cLoop() throws Throwable {
        return (long) apply.invokeExact(relas, (long) RELOCATIONS, buffer, buffer.address(), symbols);
    }
}
