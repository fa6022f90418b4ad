package dev.jdyld.jit;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.SetLayout;
import dev.jdyld.memory.MemoryMaps;
import dev.jdyld.runtime.LoadStage;
import dev.jdyld.runtime.StaticTlsModule;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * Sets whose code reaches its own thread-locals at fixed offsets from the thread pointer (local
 * exec, as gcc compiles for an executable, and initial exec): their block is in glibc's static TLS,
 * the same in threads that ran before the load and threads started after it.
 */
class StaticTlsTest {
    @TempDir
    Path dir;

    /** {@code tp_offset}: the variable's offset from this thread's pointer, which must be the same in every thread. */
    private static final String COUNTER = """
            __thread long counter = 7;
            __thread char tag[8] = "tls";
            static __thread int zeroed;
            long bump(int n) { for (int i = 0; i < n; i++) counter++; zeroed++; return counter * 100 + zeroed; }
            long tag_first(void) { return tag[0]; }
            long tp_offset(void) { long tp; __asm__("mov %%fs:0, %0" : "=r"(tp)); return (long) &counter - tp; }
            """;

    private static final FunctionDescriptor LONG_INT = FunctionDescriptor.of(JAVA_LONG, JAVA_INT);
    private static final FunctionDescriptor LONG = FunctionDescriptor.of(JAVA_LONG);

    @AfterEach
    void noModuleLeftOpen() {
        LoadStage.setHook(null);
        assertThat(StaticTlsModule.openModules()).isZero();
        assertThat(staticTlsMappings()).isEmpty();
    }

    private Path compile(String compiler, String name, String source, String... flags) {
        Path file = dir.resolve(name + ".c");
        Toolchain.write(file, source);
        Path object = dir.resolve(name + ".o");
        List<String> command = new ArrayList<>(List.of(compiler, "-c"));
        command.addAll(List.of(flags));
        command.addAll(List.of(file.toString(), "-o", object.toString()));
        Toolchain.run(command);
        return object;
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gcc -O2", "gcc -O0 -fno-pic", "gcc -O2 -fPIC -ftls-model=initial-exec", "clang-14 -O2"})
    void threadsRunningBeforeTheLoadAndThreadsStartedAfterEachGetAnInitialisedCopy(String compile) throws Throwable {
        String[] words = compile.split(" ");
        Path object = compile(words[0], "counter", COUNTER, List.of(words).subList(1, words.length).toArray(String[]::new));
        assertThat(Toolchain.run(List.of("readelf", "-rW", object.toString())))
                .containsAnyOf("R_X86_64_TPOFF32", "R_X86_64_GOTTPOFF");
        CountDownLatch loaded = new CountDownLatch(1);
        AtomicReference<LoadedSet> set = new AtomicReference<>();
        List<CompletableFuture<List<Long>>> before = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            before.add(CompletableFuture.supplyAsync(() -> {
                await(loaded);
                return calls(set.get());
            }, runnable -> Thread.ofPlatform().start(runnable)));
        }
        try (JitLinker linker = JitLinker.create()) {
            set.set(linker.load(object));
            SetLayout.ThreadLocalBlock block = set.get().layout().threadLocal();
            assertThat(block.staticTls()).isTrue();
            assertThat(block.threadPointerOffset()).isNegative();
            assertThat(block.size()).isEqualTo(20); // counter and tag (.tdata, 16), then zeroed (.tbss)
            assertThat(staticTlsMappings()).hasSize(1);
            loaded.countDown();
            List<List<Long>> results = new ArrayList<>();
            for (CompletableFuture<List<Long>> result : before) {
                results.add(result.get());
            }
            results.add(calls(set.get()));
            for (int t = 0; t < 4; t++) {
                results.add(CompletableFuture.supplyAsync(() -> calls(set.get()),
                        runnable -> Thread.ofPlatform().start(runnable)).get());
            }
            long offset = results.get(0).get(3);
            assertThat(offset).isBetween(block.threadPointerOffset(), block.threadPointerOffset() + block.size() - 8);
            for (List<Long> result : results) {
                // Each thread: 7 from the template + 1 then + 10, its own zeroed, 't', and one offset for all.
                assertThat(result).containsExactly(801L, 1802L, (long) 't', offset);
            }
        }
    }

    private static List<Long> calls(LoadedSet set) {
        try {
            MethodHandle bump = set.function("bump", LONG_INT);
            return List.of((long) bump.invokeExact(1), (long) bump.invokeExact(10),
                    (long) set.function("tag_first", LONG).invokeExact(),
                    (long) set.function("tp_offset", LONG).invokeExact());
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void everyAccessModelReachesTheSameCopy() throws Throwable {
        String user = """
                extern __thread long shared;
                long *address_NAME(void) { return &shared; }
                """;
        List<Path> objects = new ArrayList<>();
        objects.add(compile("gcc", "definer", "__thread long shared = 5;\nlong *address_le(void) { return &shared; }\n", "-O2"));
        String[][] models = {{"gd", "-fPIC"}, {"desc", "-fPIC", "-mtls-dialect=gnu2"}, {"ie", "-O2"}};
        for (String[] model : models) {
            String[] flags = List.of(model).subList(1, model.length).toArray(String[]::new);
            objects.add(compile("gcc", "user_" + model[0], user.replace("NAME", model[0]), flags));
        }
        objects.add(compile("gcc", "local", """
                static __thread long own = 3;
                long *address_ld(void) { return &own; }
                """, "-O2", "-fPIC", "-ftls-model=local-dynamic"));
        try (JitLinker linker = JitLinker.create()) {
            LoadedSet set = linker.load(objects.toArray(Path[]::new));
            assertThat(set.layout().threadLocal().staticTls()).isTrue();
            List<Long> here = addresses(set);
            List<Long> there = CompletableFuture.supplyAsync(() -> addresses(set),
                    runnable -> Thread.ofPlatform().start(runnable)).get();
            for (List<Long> thread : List.of(here, there)) {
                assertThat(thread.subList(0, 4)).as("le, gd, desc, ie").containsOnly(thread.get(0));
                assertThat(thread.get(4)).as("ld: another variable of the same block").isNotEqualTo(thread.get(0));
            }
            assertThat(there.get(0)).isNotEqualTo(here.get(0));
            assertThat(there.get(0) - here.get(0)).as("the block moves with the thread pointer only")
                    .isEqualTo(there.get(4) - here.get(4));
        }
    }

    private static List<Long> addresses(LoadedSet set) {
        List<Long> addresses = new ArrayList<>();
        try {
            for (String name : List.of("address_le", "address_gd", "address_desc", "address_ie", "address_ld")) {
                addresses.add((long) set.function(name, LONG).invokeExact());
            }
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return addresses;
    }

    @Test
    void closingGivesTheReserveBackAndRemovesTheModule() throws Throwable {
        Path object = compile("gcc", "counter", COUNTER, "-O2");
        long reserve = JitLinker.staticTlsReserveLeft();
        try (JitLinker linker = JitLinker.create()) {
            LoadedSet set = linker.load(object);
            assertThat(JitLinker.staticTlsReserveLeft()).as("20 bytes, measured in 16-byte steps")
                    .isBetween(reserve - 20 - 16, reserve - 16);
            assertThat(staticTlsMappings()).hasSize(1);
            set.close();
            assertThat(staticTlsMappings()).isEmpty();
            for (int i = 0; i < 200; i++) {
                try (LoadedSet again = linker.load(object)) {
                    assertThat((long) again.function("bump", LONG_INT).invokeExact(1)).isEqualTo(801);
                }
            }
        }
        // glibc keeps the padding that aligned the first block (under 8 bytes here) for the next one:
        // 201 loads and closes must not lose more than that.
        assertThat(JitLinker.staticTlsReserveLeft()).isBetween(reserve - 16, reserve);
    }

    @Test
    void anExhaustedReserveIsALinkExceptionThatSaysWhatToRaise() throws Throwable {
        Path big = compile("gcc", "big", "__thread char big[16 << 20];\nchar *big_address(void) { return big; }\n", "-O2");
        long reserve = JitLinker.staticTlsReserveLeft();
        try (JitLinker linker = JitLinker.create()) {
            assertThatThrownBy(() -> linker.load(big)).isInstanceOf(LinkException.class)
                    .hasMessageContaining("big.o")
                    .hasMessageContaining("need " + (16 << 20) + " bytes")
                    .hasMessageContaining(reserve + " bytes left")
                    .hasMessageContaining("GLIBC_TUNABLES=glibc.rtld.optional_static_tls=")
                    .hasMessageNotContaining("\n");
            assertThat(linker.lookup("big_address")).isEmpty();
            LoadedSet small = linker.load(compile("gcc", "counter", COUNTER, "-O2"));
            assertThat((long) small.function("bump", LONG_INT).invokeExact(1)).isEqualTo(801);
        }
    }

    @ParameterizedTest
    @EnumSource(value = LoadStage.class, names = {"TLS", "RELOCATE", "FINALIZE", "UNWIND", "PLUGINS", "CONSTRUCTOR", "REGISTER"})
    void aLoadFailedAfterTheBlockWasPlacedUnloadsIt(LoadStage stage) throws Throwable {
        Path object = compile("gcc", "counter", COUNTER + "__attribute__((constructor)) static void init(void) { counter++; }\n",
                "-O2");
        long reserve = JitLinker.staticTlsReserveLeft();
        try (JitLinker linker = JitLinker.create()) {
            LoadStage.setHook(reached -> {
                if (reached == stage) {
                    throw new IllegalStateException("injected at " + stage);
                }
            });
            assertThat(catchThrowable(() -> linker.load(object))).hasMessageContaining("injected at " + stage);
            LoadStage.setHook(null);
            assertThat(StaticTlsModule.openModules()).isZero();
            assertThat(staticTlsMappings()).isEmpty();
            assertThat(JitLinker.staticTlsReserveLeft()).isBetween(reserve - 16, reserve);
            try (LoadedSet set = linker.load(object)) {
                assertThat((long) set.function("bump", LONG_INT).invokeExact(1)).isEqualTo(901);
            }
        }
    }

    /** Mappings of the memory files that hold static TLS modules, as the kernel lists them. */
    private static List<MemoryMaps.Mapping> staticTlsMappings() {
        return MemoryMaps.read().stream().filter(m -> m.name() != null && m.name().contains("jdyld-static-tls")).toList();
    }
}
