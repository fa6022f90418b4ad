package dev.jdyld.jit;

import dev.jdyld.core.DuplicateSymbolException;
import dev.jdyld.core.LinkException;
import dev.jdyld.core.ObjectFile;
import org.junit.jupiter.api.Test;

import java.lang.invoke.MethodHandle;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** redefine: earlier callers and handles that follow the symbol reach the new code; what cannot be redefined. */
class RedefinitionTest extends JitApiTestBase {

    @Test
    void earlierCallersAndFollowingHandlesReachTheNewDefinition() throws Throwable {
        LoadedSet v1 = linker.loadObjects(List.of(compile("f1", "int f(int x) { return x + 1; }")));
        LoadedSet caller = linker.loadObjects(List.of(compile("g", "int f(int); int g(int x) { return f(x) * 10; }")));
        MethodHandle g = caller.function("g", INT_INT);
        MethodHandle f = linker.function("f", INT_INT);
        MethodHandle v1f = v1.function("f", INT_INT);
        assertThat((int) g.invokeExact(1)).isEqualTo(20);
        assertThat((int) f.invokeExact(1)).isEqualTo(2);

        LoadedSet v2 = linker.redefine(List.of(compile("f2", "int f(int x) { return x + 2; }")));
        assertThat((int) g.invokeExact(1)).isEqualTo(30);
        assertThat((int) f.invokeExact(1)).isEqualTo(3);
        assertThat((int) v1f.invokeExact(1)).as("a handle of the earlier set keeps its code").isEqualTo(2);
        assertThat(linker.lookup("f")).hasValue(v2.address("f"));

        // The caller now depends on v2, not v1: v1 closes, v2 is refused naming the caller.
        v1.close();
        assertThatThrownBy(v2::close).isInstanceOf(IllegalStateException.class).hasMessageContaining("g.o");
        assertThat((int) g.invokeExact(5)).isEqualTo(70);

        v2.closeWithDependents();
        assertThat(caller.isClosed()).isTrue();
        assertThatThrownBy(() -> { int unused = (int) f.invokeExact(1); })
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("no longer defined");

        // Defined again by a plain load, the same following handle reaches it.
        linker.loadObjects(List.of(compile("f3", "int f(int x) { return x + 3; }")));
        assertThat((int) f.invokeExact(1)).isEqualTo(4);
    }

    @Test
    void aSecondStrongDefinitionIsRefusedUnlessRedefined() {
        linker.loadObjects(List.of(compile("a", "int twice(int x) { return 2 * x; }")));
        ObjectFile again = compile("b", "int twice(int x) { return x + x; }");
        assertThatThrownBy(() -> linker.loadObjects(List.of(again))).isInstanceOf(DuplicateSymbolException.class)
                .hasMessageContaining("twice").hasMessageContaining("a.o").hasMessageContaining("b.o");
        assertThat(linker.memoryManager().usage().stream().mapToInt(dev.jdyld.memory.WindowUsage::slabs).sum())
                .as("the refused set is unmapped").isEqualTo(1);
        // A weak definition next to a strong one is no conflict: the first stays the scope's.
        long first = linker.lookup("twice").orElseThrow();
        linker.loadObjects(List.of(compile("w", "__attribute__((weak)) int twice(int x) { return 0; }")));
        assertThat(linker.lookup("twice")).hasValue(first);
    }

    @Test
    void dataAndJavaDefinitionsAreNotRedefinable() throws Throwable {
        linker.loadObjects(List.of(compile("d1", "int counter = 5; int get(void) { return counter; }")));
        assertThatThrownBy(() -> linker.redefine(List.of(compile("d2", "int counter = 7;"))))
                .isInstanceOf(LinkException.class).hasMessageContaining("counter")
                .hasMessageContaining("data symbols are not redefinable");
        linker.defineFunction("from_java", java.lang.invoke.MethodHandles.identity(int.class), INT_INT);
        assertThatThrownBy(() -> linker.redefine(List.of(compile("j", "int from_java(int x) { return x; }"))))
                .isInstanceOf(LinkException.class).hasMessageContaining("defined from Java");
        assertThat(linker.memoryManager().usage().stream().mapToInt(dev.jdyld.memory.WindowUsage::slabs).sum())
                .as("refused redefinitions leave nothing mapped (one set, one stub block at most)").isLessThanOrEqualTo(2);
    }

    @Test
    void aLinkerWithDirectCallsRefusesRedefinition() {
        try (JitLinker direct = JitLinker.builder().directCalls(true).build()) {
            assertThatThrownBy(() -> direct.redefine(List.of(compile("x", "int x(void) { return 1; }"))))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("directCalls");
        }
    }
}
