package dev.jdyld.jit;

import dev.jdyld.core.ObjectFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Names in an object are input an attacker chooses: 100,000 names that all have the same
 * {@link String#hashCode} load within a small factor of as many ordinary names, and twice as many
 * of them take about twice as long as half as many (linear, not quadratic). Every per-symbol
 * structure is a {@link java.util.HashMap}, whose bins of many colliding names become trees ordered
 * by the names: a lookup costs a few string comparisons more (measured here: 4 to 5 times the
 * ordinary load), never a scan; a {@code Set.copyOf} of them probes linearly, quadratic in the
 * names (about 100 times slower at this size). Compared within one run, not against an absolute time.
 */
class CollidingNamesTest {
    private static final int NAMES = 100_000;

    @TempDir
    Path dir;

    /** 18 blocks of "Aa" or "BB", which hash alike: every name has the same hash. */
    static String colliding(int i) {
        StringBuilder name = new StringBuilder("f_");
        for (int bit = 17; bit >= 0; bit--) {
            name.append((i >>> bit & 1) == 0 ? "Aa" : "BB");
        }
        return name.toString();
    }

    /** Ordinary names of the same length, with sequential hashes. */
    static String ordinary(int i) {
        return String.format("f_%036d", i);
    }

    private ObjectFile object(String name, java.util.function.IntFunction<String> names) throws Exception {
        return object(name, names, NAMES);
    }

    private ObjectFile object(String name, java.util.function.IntFunction<String> names, int count) throws Exception {
        StringBuilder source = new StringBuilder(".text\n");
        for (int i = 0; i < count; i++) {
            String symbol = names.apply(i);
            source.append(".globl ").append(symbol).append("\n.type ").append(symbol).append(", @function\n")
                    .append(symbol).append(":\n ret\n");
        }
        source.append(".section .note.GNU-stack,\"\",@progbits\n");
        Path s = Files.writeString(dir.resolve(name + ".s"), source);
        Path o = dir.resolve(name + ".o");
        Process as = new ProcessBuilder("as", "--64", s.toString(), "-o", o.toString()).redirectErrorStream(true).start();
        assertThat(as.waitFor()).as(new String(as.getInputStream().readAllBytes())).isZero();
        return ObjectFile.read(o);
    }

    /** The fastest of a few loads, looked up by name and closed: nanoseconds. */
    private static long fastestLoad(ObjectFile object, String probe) {
        return fastestLoad(object, probe, NAMES);
    }

    private static long fastestLoad(ObjectFile object, String probe, int count) {
        long best = Long.MAX_VALUE;
        for (int run = 0; run < 3; run++) {
            long start = System.nanoTime();
            try (JitLinker linker = JitLinker.builder().runInitializers(false).build();
                 LoadedSet set = linker.loadObjects(List.of(object))) {
                assertThat(set.symbols()).hasSize(count);
                assertThat(set.find(probe)).isPresent();
            }
            best = Math.min(best, System.nanoTime() - start);
        }
        return best;
    }

    @Test
    void namesWithOneHashLoadInTimeLinearInTheirNumber() throws Exception {
        assertThat(colliding(0).hashCode()).isEqualTo(colliding(NAMES - 1).hashCode());
        ObjectFile plain = object("ordinary", CollidingNamesTest::ordinary);
        ObjectFile hostile = object("colliding", CollidingNamesTest::colliding);
        fastestLoad(plain, ordinary(7)); // warm-up: the JIT compiles the load path
        long ordinaryNanos = fastestLoad(plain, ordinary(NAMES / 2));
        long collidingNanos = fastestLoad(hostile, colliding(NAMES / 2));
        assertThat((double) collidingNanos / ordinaryNanos)
                .as("colliding names took %d ms, ordinary %d ms", collidingNanos / 1_000_000, ordinaryNanos / 1_000_000)
                .isLessThan(8.0);
        ObjectFile half = object("colliding-half", CollidingNamesTest::colliding, NAMES / 2);
        long halfNanos = fastestLoad(half, colliding(NAMES / 4), NAMES / 2);
        assertThat((double) collidingNanos / halfNanos)
                .as("%d colliding names took %d ms, half as many %d ms", NAMES, collidingNanos / 1_000_000, halfNanos / 1_000_000)
                .isLessThan(3.0);
    }
}
