package dev.jdyld.link.x86_64;

import dev.jdyld.bench.Fixtures;
import dev.jdyld.elf.Archive;
import dev.jdyld.elf.ElfObject;
import dev.jdyld.link.arch.RelocationTarget;
import dev.jdyld.link.arch.ResolvedSymbols;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The hot relocation loop alone: {@link X86_64#relocate} applying {@value #RELOCATIONS}
 * already-resolved relocations to a native segment, against a C loop (gcc -O2) applying the same
 * entries with the same range checks to the same kind of memory. No parsing, planning, mapping or
 * symbol resolution: those are {@code SqliteLoadBenchmark}'s.
 *
 * <p>The mix is {@code libsqlite3.a}'s: at setup the benchmark counts the relocation types of
 * every member of Debian's archive (about 57% {@code PLT32}, 35% {@code PC32}, 7% {@code 64}, a
 * few {@code REX_GOTPCRELX}/{@code GOTPCREL}), draws that many of each in random order against
 * 4,096 symbols, and has GNU {@code as} write them ({@code .reloc}) into one object, so both loops
 * read the same {@code Elf64_Rela} entries. Scores are per relocation.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class RelocationLoopBenchmark {
    static final int RELOCATIONS = 200_000;
    static final int SYMBOLS = 4096;
    static final int FIELD = 8; // each relocation's field in 8 bytes of its own

    static final String C_LOOP = """
            #include <stdint.h>
            #include <string.h>
            typedef struct { uint64_t offset, info; int64_t addend; } Rela;
            /* The same rules as jdyld's loop for the types of the mix; -1 when a value does not fit. */
            long apply(const Rela *r, long n, unsigned char *buf, long base, const long *S, const long *G,
                       const long *L) {
                for (long i = 0; i < n; i++) {
                    uint64_t off = r[i].offset, sym = r[i].info >> 32;
                    uint32_t type = (uint32_t) r[i].info;
                    long a = r[i].addend, p = base + (long) off, v;
                    switch (type) {
                    case 1: v = S[sym] + a; memcpy(buf + off, &v, 8); continue;        /* 64 */
                    case 2: v = S[sym] + a - p; break;                                  /* PC32 */
                    case 4: v = L[sym] + a - p; break;                                  /* PLT32 */
                    case 9: case 41: case 42: v = G[sym] + a - p; break;                /* GOTPCREL(X) */
                    default: return -1;
                    }
                    if (v != (int32_t) v) return -1;
                    int32_t w = (int32_t) v;
                    memcpy(buf + off, &w, 4);
                }
                return n;
            }
            """;

    private Path dir;
    private Arena arena;
    private RelocationTarget target;
    private long got;
    private MethodHandle apply;
    private MemorySegment relas;
    private MemorySegment buffer;
    private MemorySegment symbolAddresses;
    private MemorySegment slotAddresses;
    private MemorySegment callTargets;

    /** Relocation type name → how many {@code libsqlite3.a} has. */
    static TreeMap<String, Integer> sqliteHistogram() throws Exception {
        Path path = Path.of("/usr/lib/x86_64-linux-gnu/libsqlite3.a");
        Archive archive = new Archive(path.toString(), Files.readAllBytes(path));
        TreeMap<String, Integer> histogram = new TreeMap<>();
        for (Archive.Member member : archive.members) {
            ElfObject object = ElfObject.parse(archive.memberName(member), archive.contents(member));
            for (int rela : object.relaSections) {
                for (long entry = object.sectionOffset[rela]; entry < object.sectionOffset[rela]
                        + object.sectionSize[rela]; entry += 24) {
                    histogram.merge(X86_64Relocation.name((int) object.u64(entry + 8)), 1, Integer::sum);
                }
            }
        }
        return histogram;
    }

    @Setup(Level.Trial)
    public void setUp() throws Throwable {
        dir = Fixtures.tempDir("jdyld-reloc-loop");
        TreeMap<String, Integer> histogram = sqliteHistogram();
        int total = histogram.values().stream().mapToInt(Integer::intValue).sum();
        String[] kinds = new String[RELOCATIONS];
        int next = 0;
        for (var kind : histogram.entrySet()) {
            int count = (int) Math.round((double) kind.getValue() * RELOCATIONS / total);
            for (int i = 0; i < count && next < RELOCATIONS; i++) {
                kinds[next++] = kind.getKey();
            }
        }
        while (next < RELOCATIONS) {
            kinds[next++] = "R_X86_64_PLT32"; // rounding left a few: the commonest kind
        }
        SplittableRandom random = new SplittableRandom(42);
        for (int i = RELOCATIONS - 1; i > 0; i--) { // shuffle: the loop sees the types in no pattern
            int j = random.nextInt(i + 1);
            String k = kinds[i];
            kinds[i] = kinds[j];
            kinds[j] = k;
        }
        StringBuilder asm = new StringBuilder();
        for (int s = 0; s < SYMBOLS; s++) {
            asm.append(".globl s").append(s).append("\n");
        }
        asm.append(".text\n");
        for (int i = 0; i < RELOCATIONS; i++) {
            asm.append(".reloc ., ").append(kinds[i]).append(", s").append(random.nextInt(SYMBOLS))
                    .append(" - ").append(random.nextInt(8)).append("\n.quad 0\n");
        }
        Path source = Fixtures.write(dir.resolve("mix.s"), asm.toString());
        Path objectFile = dir.resolve("mix.o");
        Fixtures.run(List.of("as", source.toString(), "-o", objectFile.toString()));
        ElfObject object = ElfObject.parse("mix.o", Files.readAllBytes(objectFile));
        int rela = object.relaSections[0];
        if (object.sectionSize[rela] != 24L * RELOCATIONS) {
            throw new IllegalStateException("expected " + RELOCATIONS + " relocations in " + objectFile);
        }

        arena = Arena.ofShared();
        buffer = arena.allocate((long) FIELD * RELOCATIONS, 16);
        long base = buffer.address();
        got = base + 3L * FIELD * RELOCATIONS;
        ResolvedSymbols resolved = new ResolvedSymbols(object.symbolCount);
        symbolAddresses = arena.allocate(8L * object.symbolCount, 8);
        slotAddresses = arena.allocate(8L * object.symbolCount, 8);
        callTargets = arena.allocate(8L * object.symbolCount, 8);
        for (int s = 0; s < object.symbolCount; s++) {
            // Within ±256 MiB of the section: every PC-relative value fits, as in a placed set.
            resolved.address[s] = base + random.nextLong(-(1L << 28), 1L << 28);
            resolved.gotSlot[s] = got + 8L * s;
            resolved.callTarget[s] = resolved.address[s] + 16;
            symbolAddresses.setAtIndex(JAVA_LONG, s, resolved.address[s]);
            slotAddresses.setAtIndex(JAVA_LONG, s, resolved.gotSlot[s]);
            callTargets.setAtIndex(JAVA_LONG, s, resolved.callTarget[s]);
        }
        target = new RelocationTarget(X86_64.INSTANCE, object, rela, buffer, base, resolved);
        relas = arena.allocate(24L * RELOCATIONS, 8);
        MemorySegment.copy(object.data, object.sectionOffset[rela], relas, 0, relas.byteSize());

        Path c = Fixtures.write(dir.resolve("loop.c"), C_LOOP);
        Path library = dir.resolve("libloop.so");
        Fixtures.run(List.of("gcc", "-O2", "-shared", "-fPIC", c.toString(), "-o", library.toString()));
        apply = Linker.nativeLinker().downcallHandle(SymbolLookup.libraryLookup(library, arena).findOrThrow("apply"),
                FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS));
        if (cLoop() != RELOCATIONS) {
            throw new IllegalStateException("the C loop refused a relocation of the mix");
        }
        byte[] fromC = buffer.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        buffer.fill((byte) 0);
        jdyldLoop();
        if (!java.util.Arrays.equals(fromC, buffer.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE))) {
            throw new IllegalStateException("the C loop and jdyld's loop wrote different bytes");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
        Fixtures.delete(dir);
    }

    /** jdyld's relocation loop, per relocation. */
    @Benchmark
    @OperationsPerInvocation(RELOCATIONS)
    public long jdyldLoop() {
        X86_64.INSTANCE.relocate(target, got);
        return buffer.get(JAVA_LONG, 0);
    }

    /** The C loop over the same entries, per relocation. */
    @Benchmark
    @OperationsPerInvocation(RELOCATIONS)
    public long cLoop() throws Throwable {
        return (long) apply.invokeExact(relas, (long) RELOCATIONS, buffer, buffer.address(), symbolAddresses,
                slotAddresses, callTargets);
    }
}
