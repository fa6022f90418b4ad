package dev.jdyld.jit;

import dev.jdyld.core.ObjectFile;
import dev.jdyld.core.UnresolvedSymbolException;
import org.junit.jupiter.api.Test;

import java.lang.invoke.MethodHandles;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Scopes: own definitions, search order through linked scopes, then the host. */
class ScopeTest extends JitApiTestBase {

    @Test
    void eachScopeHasItsOwnDefinitionsAndSearchesTheScopesLinkedToIt() throws Throwable {
        Scope one = linker.scope("one");
        Scope two = linker.scope("two");
        assertThat(linker.scope("one")).isSameAs(one);
        one.loadObjects(List.of(compile("v1", "int value(int x) { return x + 100; }")));
        two.loadObjects(List.of(compile("v2", "int value(int x) { return x + 200; }")));
        assertThat((int) one.function("value", INT_INT).invokeExact(1)).isEqualTo(101);
        assertThat((int) two.function("value", INT_INT).invokeExact(1)).isEqualTo(201);
        assertThat(linker.lookup("value")).as("the main scope sees neither").isEmpty();

        ObjectFile user = compile("user", "int value(int); int use(int x) { return value(x) * 2; }");
        Scope client = linker.scope("client").link(two).link(one);
        LoadedSet set = client.loadObjects(List.of(user));
        assertThat((int) set.function("use", INT_INT).invokeExact(1)).as("first linked scope wins").isEqualTo(402);
        assertThatThrownBy(() -> linker.scope("alone").loadObjects(List.of(user)))
                .isInstanceOf(UnresolvedSymbolException.class).hasMessageContaining("value");
        // Its own definition comes before the linked scopes'.
        client.defineFunction("value", MethodHandles.identity(int.class), INT_INT);
        assertThat((int) linker.scope("client2").link(client).link(two).loadObjects(List.of(user))
                .function("use", INT_INT).invokeExact(21)).isEqualTo(42);
        assertThatThrownBy(() -> client.defineFunction("value", MethodHandles.identity(int.class), INT_INT))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("value");
        // A scope's sets bind to another scope's set: closing that one is refused while they are open.
        LoadedSet definer = two.sets().iterator().next();
        assertThatThrownBy(definer::close).isInstanceOf(IllegalStateException.class).hasMessageContaining("user.o");
    }
}
