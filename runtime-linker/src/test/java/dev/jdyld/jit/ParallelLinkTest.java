package dev.jdyld.jit;

import dev.jdyld.core.LinkException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Objects parsed and relocated on the common pool's threads ({@code jdyld.parallelLink=true}, which
 * a load of 8 MiB or more gets by default on a machine of three cores or more) give the set a
 * sequential load gives, and, when several objects fail, the failure a sequential load reports
 * (the first object's), with nothing left mapped.
 */
class ParallelLinkTest {
    private static final Path SQLITE = Path.of("/usr/lib/x86_64-linux-gnu/libsqlite3.a");

    @TempDir
    Path dir;

    @AfterEach
    void sequentialAgain() {
        System.clearProperty("jdyld.parallelLink");
    }

    /** SQLite's answer through a load made in parallel, and through one made in order. */
    private int sqliteSum(boolean parallel, Path main) throws Throwable {
        System.setProperty("jdyld.parallelLink", Boolean.toString(parallel));
        try (JitLinker linker = JitLinker.create()) {
            linker.load(main, SQLITE);
            MethodHandle sum = linker.function("sum_to", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            return (int) sum.invokeExact(1000);
        }
    }

    @Test
    void sqliteLinkedInParallelAnswersAsInOrder() throws Throwable {
        Path main = Toolchain.compile(dir, "sum", """
                #include <sqlite3.h>
                static int row(void *out, int n, char **values, char **names) { *(int *) out = atoi(values[0]); return 0; }
                int atoi(const char *);
                int sum_to(int n) {
                    sqlite3 *db; char sql[256]; int result = -1;
                    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return -2;
                    sqlite3_exec(db, "create table t(x integer)", 0, 0, 0);
                    for (int i = 1; i <= n; i++) {
                        sqlite3_snprintf(sizeof sql, sql, "insert into t values(%d)", i);
                        sqlite3_exec(db, sql, 0, 0, 0);
                    }
                    sqlite3_exec(db, "select sum(x) from t", row, &result, 0);
                    sqlite3_close(db);
                    return result;
                }
                """, "-O2", "-fPIC");
        assertThat(sqliteSum(true, main)).isEqualTo(500_500).isEqualTo(sqliteSum(false, main));
    }

    @Test
    void ofSeveralFailingObjectsTheFirstIsReportedAsInOrder() {
        // Eight objects that call each other; the third and the sixth each hold a 16-bit field of
        // `big`, which the last defines as 0x12345: out of range, found when relocations are applied.
        List<Path> objects = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            String broken = i == 2 || i == 5 ? ".data\n .word big\n" : "";
            String defines = i == 7 ? ".globl big\n.set big, 0x12345\n" : "";
            objects.add(Toolchain.assemble(dir, "part" + i, defines + broken + ".text\n.globl f" + i + "\n.type f" + i
                    + ", @function\nf" + i + ":\n call f" + (i + 1) % 8 + "@PLT\n ret\n"));
        }
        String[] messages = new String[2];
        for (boolean parallel : new boolean[] {false, true}) {
            System.setProperty("jdyld.parallelLink", Boolean.toString(parallel));
            try (JitLinker linker = JitLinker.create()) {
                assertThatThrownBy(() -> linker.load(objects)).isInstanceOf(LinkException.class)
                        .satisfies(e -> messages[parallel ? 1 : 0] = e.getMessage());
                assertThat(linker.mainScope().lookup("f0")).isEmpty();
            }
        }
        assertThat(messages[0]).contains("part2.o");
        assertThat(messages[1]).isEqualTo(messages[0]);
    }
}
