package dev.jdyld.jit;

import dev.jdyld.core.MalformedObjectException;
import dev.jdyld.core.SetLayout;
import dev.jdyld.core.UnsupportedObjectException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** COMDAT groups, IFUNCs and static archives, checked through the API. */
class LinkerFeaturesTest {
    @TempDir
    Path dir;

    private static final String INLINE_HEADER = """
            template <typename T> T scaled(T v) { return v * 3; }
            """;

    private static long count(SetLayout layout, String section) {
        return layout.sections().stream().filter(s -> s.name().equals(section)).count();
    }

    @Test
    void aComdatGroupInTwoObjectsIsLoadedOnceAndALaterSetReusesIt() throws Throwable {
        Path one = compileCpp("one", INLINE_HEADER + "extern \"C\" int one(int x) { return scaled(x); }");
        Path two = compileCpp("two", INLINE_HEADER + "extern \"C\" int two(int x) { return scaled(x) + 1; }");
        Path three = compileCpp("three", INLINE_HEADER + "extern \"C\" int three(int x) { return scaled(x) + 2; }");
        String group = ".text._Z6scaledIiET_S0_";
        assertThat(Toolchain.run(List.of("readelf", "-gW", one.toString()))).contains("COMDAT");
        try (JitLinker linker = JitLinker.create()) {
            LoadedSet first = linker.load(one, two);
            assertThat(count(first.layout(), group)).isEqualTo(1);
            LoadedSet second = linker.load(three);
            assertThat(count(second.layout(), group)).isZero();
            MethodHandle call = second.function("three", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            assertThat((int) call.invokeExact(5)).isEqualTo(17);
            MethodHandle two2 = first.function("two", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            assertThat((int) two2.invokeExact(5)).isEqualTo(16);
        }
    }

    private Path compileCpp(String name, String source) {
        Path file = dir.resolve(name + ".cpp");
        Toolchain.write(file, source);
        Path object = dir.resolve(name + ".o");
        Toolchain.run(List.of("g++", "-c", "-O0", "-fPIC", file.toString(), "-o", object.toString()));
        return object;
    }

    @Test
    void closingASetRunsItsExitHandlersAndDestructorsBeforeItsMemoryGoes() throws Throwable {
        Path counter = Toolchain.compile(dir, "counter", "int finalized[8]; int finalized_count;", "-O2", "-fPIC");
        Path user = Toolchain.compile(dir, "user", """
                #include <stdlib.h>
                extern int finalized[8]; extern int finalized_count;
                static void note(int what) { finalized[finalized_count++] = what; }
                static void handler(void) { note(1); }
                __attribute__((destructor)) static void destructor(void) { note(2); }
                __attribute__((constructor)) static void constructor(void) { atexit(handler); }
                """, "-O2", "-fPIC");
        try (JitLinker linker = JitLinker.create()) {
            LoadedSet counters = linker.load(counter);
            LoadedSet set = linker.load(user);
            assertThat(counters.data("finalized_count").get(JAVA_INT, 0)).isZero();
            set.close();
            // The atexit handler first (registered last), then the destructor, as exit() would.
            assertThat(counters.data("finalized_count").get(JAVA_INT, 0)).isEqualTo(2);
            assertThat(counters.data("finalized").get(JAVA_INT, 0)).isEqualTo(1);
            assertThat(counters.data("finalized").get(JAVA_INT, 4)).isEqualTo(2);
        }
    }

    @Test
    void registeredUnwindTablesLetBacktracesWalkThroughLoadedCode() throws Throwable {
        Path object = Toolchain.compile(dir, "frames", """
                #include <execinfo.h>
                __attribute__((noinline)) int innermost(void) { void *frames[32]; return backtrace(frames, 32); }
                __attribute__((noinline)) int middle(void) { return innermost() + 0; }
                __attribute__((noinline)) int outer(void) { return middle() + 0; }
                """, "-O1", "-fPIC", "-fno-omit-frame-pointer", "-fasynchronous-unwind-tables");
        int withTables;
        int withoutTables;
        try (JitLinker linker = JitLinker.create()) {
            MethodHandle outer = linker.load(object).function("outer", FunctionDescriptor.of(JAVA_INT));
            withTables = (int) outer.invokeExact();
        }
        try (JitLinker linker = JitLinker.builder().runInitializers(false).build()) {
            MethodHandle outer = linker.load(object).function("outer", FunctionDescriptor.of(JAVA_INT));
            withoutTables = (int) outer.invokeExact();
        }
        // backtrace() (libgcc's unwinder) gets past innermost, middle and outer only with the tables.
        assertThat(withTables).isGreaterThanOrEqualTo(4).isGreaterThan(withoutTables);
    }

    @Test
    void anIfuncIsResolvedOnceAndEveryReferenceAgreesOnItsAddress() throws Throwable {
        Path object = Toolchain.compile(dir, "ifunc", """
                int resolver_calls;
                static int plain(int x) { return x + 1; }
                static void *resolve(void) { resolver_calls++; return (void *) plain; }
                int next(int x) __attribute__((ifunc("resolve")));
                int (*through_data)(int) = next;
                long address_in_code(void) { return (long) &next; }
                long address_in_data(void) { return (long) through_data; }
                int call(int x) { return next(x) + through_data(x); }
                """, "-O2", "-fPIC");
        assertThat(Toolchain.run(List.of("readelf", "-sW", object.toString()))).contains("IFUNC");
        try (JitLinker linker = JitLinker.create()) {
            LoadedSet set = linker.load(object);
            MethodHandle call = set.function("call", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            assertThat((int) call.invokeExact(10)).isEqualTo(22);
            MethodHandle viaSet = set.function("next", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            assertThat((int) viaSet.invokeExact(1)).isEqualTo(2);
            long inCode = (long) set.function("address_in_code", FunctionDescriptor.of(JAVA_LONG)).invokeExact();
            long inData = (long) set.function("address_in_data", FunctionDescriptor.of(JAVA_LONG)).invokeExact();
            assertThat(inCode).isEqualTo(inData).isEqualTo(set.address("next"));
            assertThat(set.data("resolver_calls").get(JAVA_INT, 0)).isEqualTo(1);
        }
    }

    @Test
    void anIfuncNoCodeOfItsSetRefersToIsResolvedForLookupsAndLaterSets() throws Throwable {
        Path object = Toolchain.compile(dir, "lone_ifunc", """
                static int plain(int x) { return x * 3; }
                static void *resolve(void) { return (void *) plain; }
                int tripled(int x) __attribute__((ifunc("resolve")));
                """, "-O2", "-fPIC");
        Path caller = Toolchain.compile(dir, "ifunc_caller", "int tripled(int); int call_tripled(int x) { return tripled(x) + 1; }",
                "-O2", "-fPIC");
        try (JitLinker linker = JitLinker.create()) {
            LoadedSet set = linker.load(object);
            assertThat((int) set.function("tripled", FunctionDescriptor.of(JAVA_INT, JAVA_INT)).invokeExact(5)).isEqualTo(15);
            assertThat((int) linker.function("tripled", FunctionDescriptor.of(JAVA_INT, JAVA_INT)).invokeExact(6)).isEqualTo(18);
            MethodHandle call = linker.load(caller).function("call_tripled", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            assertThat((int) call.invokeExact(7)).isEqualTo(22);
        }
    }

    @Test
    void archiveMembersArePulledInForUndefinedSymbolsOnly() throws Throwable {
        Path used = Toolchain.compile(dir, "used", "int used(void) { return 7; } int helper(void);"
                + " int via_helper(void) { return helper(); }", "-O2", "-fPIC");
        Path helper = Toolchain.compile(dir, "helper", "int helper(void) { return 8; }", "-O2", "-fPIC");
        Path unused = Toolchain.compile(dir, "unused", "int unused(void) { return 9; }", "-O2", "-fPIC");
        Path archive = dir.resolve("libdemo.a");
        Toolchain.run(List.of("ar", "rcs", archive.toString(), unused.toString(), used.toString(), helper.toString()));
        Path main = Toolchain.compile(dir, "main", "int used(void); int via_helper(void);"
                + " int entry(void) { return used() * 10 + via_helper(); }", "-O2", "-fPIC");
        try (JitLinker linker = JitLinker.create()) {
            LoadedSet set = linker.load(main, archive);
            assertThat(set.layout().members()).containsExactly(
                    new SetLayout.Member(archive.toString(), "used.o", "used"),
                    new SetLayout.Member(archive.toString(), "helper.o", "helper"));
            assertThat(set.find("unused")).isEmpty();
            MethodHandle entry = set.function("entry", FunctionDescriptor.of(JAVA_INT));
            assertThat((int) entry.invokeExact()).isEqualTo(78);
        }
    }

    @Test
    void sqliteMembersAreListedWithTheSymbolThatPulledThem() {
        Path main = Toolchain.compile(dir, "sqlite", """
                #include <sqlite3.h>
                int open_memory(void) { sqlite3 *db; return sqlite3_open(":memory:", &db); }
                """, "-O2", "-fPIC");
        try (JitLinker linker = JitLinker.builder().runInitializers(false).build()) {
            SetLayout layout = linker.load(main, Path.of("/usr/lib/x86_64-linux-gnu/libsqlite3.a")).layout();
            assertThat(layout.members()).first().isEqualTo(
                    new SetLayout.Member("/usr/lib/x86_64-linux-gnu/libsqlite3.a", "main.o", "sqlite3_open"));
            assertThat(layout.members().size()).isGreaterThan(5);
        }
    }

    @Test
    void thinAndMalformedArchivesAreRefused() throws Exception {
        Path thin = dir.resolve("thin.a");
        Files.write(thin, "!<thin>\n".getBytes(StandardCharsets.US_ASCII));
        Path broken = dir.resolve("broken.a");
        Files.write(broken, "!<arch>\nmember.o/       0           0     0     644     9999      `\nabc"
                .getBytes(StandardCharsets.US_ASCII));
        try (JitLinker linker = JitLinker.create()) {
            assertThatThrownBy(() -> linker.load(thin)).isInstanceOf(UnsupportedObjectException.class)
                    .hasMessageContaining("thin.a").hasMessageContaining("thin archive");
            assertThatThrownBy(() -> linker.load(broken)).isInstanceOf(MalformedObjectException.class)
                    .hasMessageContaining("broken.a").hasMessageContaining("past the end");
        }
    }
}
