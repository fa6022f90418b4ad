package dev.jdyld.jit;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.SetLayout;
import dev.jdyld.runtime.LoadStage;
import dev.jdyld.memory.MemoryMaps;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The life of a set around its link: plugins see it linked (writable, not executable), finalized
 * (final permissions) and closing, in order; and a load that fails after linking (in a plugin, in
 * a constructor) undoes everything and leaves the set unregistered.
 */
class LoadLifecycleTest {
    @TempDir
    Path dir;

    @AfterEach
    void removeHook() {
        LoadStage.setHook(null);
    }

    /** A plugin that records what it saw, with the TEXT group's permissions at that moment. */
    private static final class Recorder implements LinkPlugin {
        final String name;
        final List<String> events;

        Recorder(String name, List<String> events) {
            this.name = name;
            this.events = events;
        }

        @Override
        public void afterLayout(SetLayout layout) {
            events.add(name + " afterLayout text " + textPermissions(layout));
        }

        @Override
        public void afterFinalize(LoadedSet set) {
            events.add(name + " afterFinalize text " + textPermissions(set.layout()));
        }

        @Override
        public void beforeClose(LoadedSet set) {
            events.add(name + " beforeClose text " + textPermissions(set.layout()));
        }
    }

    private static String textPermissions(SetLayout layout) {
        long text = layout.groups().stream().filter(g -> g.name().equals("TEXT")).findFirst().orElseThrow().address();
        return MemoryMaps.read().stream().filter(m -> m.start() <= text && text < m.end()).findFirst()
                .map(MemoryMaps.Mapping::permissions).orElse("unmapped");
    }

    @Test
    void pluginsSeeTheSetLinkedFinalizedAndClosingInOrder() throws Throwable {
        Path object = Toolchain.compile(dir, "add", "int add(int a, int b) { return a + b; }", "-O2", "-fPIC");
        List<String> events = new ArrayList<>();
        try (JitLinker linker = JitLinker.builder().plugin(new Recorder("first", events))
                .plugin(new Recorder("second", events)).build()) {
            LoadedSet set = linker.load(object);
            MethodHandle add = set.function("add", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
            assertThat((int) add.invokeExact(2, 3)).isEqualTo(5);
            set.close();
        }
        assertThat(events).containsExactly(
                "first afterLayout text rw-p",
                "second afterLayout text rw-p",
                "first afterFinalize text r-xp",
                "second afterFinalize text r-xp",
                "second beforeClose text r-xp",
                "first beforeClose text r-xp");
    }

    @Test
    void aFailingPluginFailsTheLoadAndEarlierPluginsAreUndone() {
        Path object = Toolchain.compile(dir, "plugged", "int plugged(void) { return 7; }", "-O2", "-fPIC");
        List<String> events = new ArrayList<>();
        LinkPlugin failing = new LinkPlugin() {
            @Override
            public void afterFinalize(LoadedSet set) {
                throw new IllegalStateException("debugger registration refused");
            }
        };
        try (JitLinker linker = JitLinker.builder().plugin(new Recorder("first", events)).plugin(failing).build()) {
            assertThatThrownBy(() -> linker.load(object))
                    .isInstanceOf(LinkException.class)
                    .hasMessageContaining("plugged.o").hasMessageContaining("debugger registration refused");
            assertThat(events).containsExactly("first afterLayout text rw-p", "first afterFinalize text r-xp",
                    "first beforeClose text r-xp");
            assertThat(linker.lookup("plugged")).isEmpty();
            LoaderTest.assertNothingLeftBehind(linker);
        }
    }

    @Test
    void aLoadThatFailsInAConstructorRunsTheDestructorsRegisteredAndLeavesTheSetUnregistered() throws IOException {
        Path log = dir.resolve("calls.log");
        Path object = Toolchain.compile(dir, "ctors", """
                #include <stdio.h>
                static void note(const char *what) { FILE *f = fopen("%s", "a"); fputs(what, f); fclose(f); }
                __attribute__((constructor(101))) static void first(void) { note("first constructor\\n"); }
                __attribute__((constructor(102))) static void second(void) { note("second constructor\\n"); }
                __attribute__((destructor)) static void fini(void) { note("destructor\\n"); }
                int value(void) { return 42; }
                """.formatted(log), "-O2", "-fPIC");
        AtomicInteger constructors = new AtomicInteger();
        LoadStage.setHook(stage -> {
            if (stage == LoadStage.CONSTRUCTOR && constructors.incrementAndGet() == 2) {
                throw new LinkException("injected failure before the second constructor");
            }
        });
        try (JitLinker linker = JitLinker.create()) {
            assertThatThrownBy(() -> linker.load(object)).isInstanceOf(LinkException.class)
                    .hasMessageContaining("injected failure");
            assertThat(linker.lookup("value")).isEmpty();
            LoaderTest.assertNothingLeftBehind(linker);
            // The first constructor ran; the set's exit handlers (its destructor) ran when the load was undone.
            assertThat(Files.readString(log)).isEqualTo("first constructor\ndestructor\n");

            LoadStage.setHook(null);
            try (LoadedSet set = linker.load(object)) {
                assertThat(linker.lookup("value")).hasValue(set.address("value"));
            }
            assertThat(Files.readString(log)).isEqualTo(
                    "first constructor\ndestructor\nfirst constructor\nsecond constructor\ndestructor\n");
        }
    }
}
