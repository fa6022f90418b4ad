package dev.jdyld.jit;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.ObjectFile;
import dev.jdyld.memory.MemoryMaps;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Sets whose code needs an executable stack (GNU C nested functions whose address is taken):
 * refused by default with the object and the reason, loaded with {@code executableStack(true)},
 * and then only the threads that run them get an executable stack. Running such code on a thread
 * without one used to spin the JVM forever, so those scenarios run in a child JVM.
 */
class ExecutableStackTest {
    static final String NESTED = """
            #include <pthread.h>
            static int apply(int (*f)(int), int x) { return f(x); }
            int constructed;
            __attribute__((constructor)) static void init(void) { int k = 2; int add(int x) { return x + k; } constructed = apply(add, 1); }
            int nested(int x) { int k = 3; int add(int v) { return v + k; } return apply(add, x); }
            static void *worker(void *p) { int *v = p; int k = 5; int add(int y) { return y + k; } *v = apply(add, *v); return 0; }
            int in_thread(int x) { pthread_t t; if (pthread_create(&t, 0, worker, &x) != 0) return -1; pthread_join(t, 0); return x; }
            int get_constructed(void) { return constructed; }
            """;

    @TempDir
    Path dir;

    @Test
    void aSetThatNeedsAnExecutableStackIsRefusedByDefaultNamingTheObjectAndWhy() {
        ObjectFile nested = new ObjectFile("nested.o", read(Toolchain.compile(dir, "nested", NESTED, "-O2", "-fPIC")));
        Path bare = dir.resolve("bare.o");
        Toolchain.write(dir.resolve("bare.s"), ".text\n.globl f\nf: ret\n");
        Toolchain.run(List.of("as", dir.resolve("bare.s").toString(), "-o", bare.toString()));
        try (JitLinker linker = JitLinker.create()) {
            assertThatThrownBy(() -> linker.loadObjects(List.of(nested))).isInstanceOf(LinkException.class)
                    .hasMessageStartingWith("nested.o: section .note.GNU-stack: needs an executable stack: its .note.GNU-stack"
                            + " section is executable, as gcc marks code whose GNU C nested functions write trampolines on the stack;")
                    .hasMessageContaining("JitLinker.builder().executableStack(true)");
            assertThatThrownBy(() -> linker.load(bare)).isInstanceOf(LinkException.class)
                    .hasMessageContaining("bare.o: needs an executable stack: it has no .note.GNU-stack section, which GNU ld"
                            + " takes to mean an executable stack; give it an empty one (as --noexecstack");
            assertThat(linker.memoryManager().usage().stream().mapToInt(w -> w.slabs()).sum()).as("nothing mapped").isZero();
            LoadedSet plain = linker.loadObjects(List.of(ObjectFile.read(Toolchain.compile(dir, "plain", "int f(void) { return 1; }", "-O2"))));
            assertThat(plain.layout().executableStack()).isNull();
        }
    }

    @Test
    void withTheOptInOnlyTheThreadsThatRunTheSetGetAnExecutableStack() {
        Path nested = Toolchain.compile(dir, "nested", NESTED, "-O2", "-fPIC");
        List<String> lines = ChildJvm.run(dir, Duration.ofSeconds(60), ExecutableStackTest.class, nested.toString())
                .assertCleanExit().output().lines().toList();
        assertThat(lines).containsExactly(
                "layout: nested.o: its .note.GNU-stack section is executable",
                "constructor on the loading thread: 3, its stack rwxp",
                "another thread's stack before it calls: rw-p",
                "nested(4) on it: 7, its stack now rwxp",
                "in_thread(1), through jdyld's pthread_create: 6",
                "an idle thread's stack: rw-p");
    }

    private static byte[] read(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The child: loads the set with the opt-in and reports which stacks became executable. */
    public static void main(String[] args) throws Throwable {
        try (JitLinker linker = JitLinker.builder().executableStack(true).build()) {
            LoadedSet set = linker.loadObjects(List.of(new ObjectFile("nested.o", Files.readAllBytes(Path.of(args[0])))));
            System.out.println("layout: " + set.layout().executableStack());
            MethodHandle constructed = set.function("get_constructed", FunctionDescriptor.of(JAVA_INT));
            System.out.println("constructor on the loading thread: " + (int) constructed.invokeExact()
                    + ", its stack " + stackPermissions());
            MethodHandle nested = set.function("nested", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            MethodHandle inThread = set.function("in_thread", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            String[] seen = new String[3];
            Thread caller = Thread.ofPlatform().start(() -> {
                try {
                    seen[0] = stackPermissions();
                    int result = (int) nested.invokeExact(4);
                    seen[1] = result + ", its stack now " + stackPermissions();
                    seen[2] = Integer.toString((int) inThread.invokeExact(1));
                } catch (Throwable t) {
                    throw new AssertionError(t);
                }
            });
            caller.join();
            System.out.println("another thread's stack before it calls: " + seen[0]);
            System.out.println("nested(4) on it: " + seen[1]);
            System.out.println("in_thread(1), through jdyld's pthread_create: " + seen[2]);
            String[] idle = new String[1];
            Thread other = Thread.ofPlatform().start(() -> idle[0] = stackPermissions());
            other.join();
            System.out.println("an idle thread's stack: " + idle[0]);
        }
    }

    /**
     * The permissions of the calling thread's stack: the mapping that holds a native frame of it,
     * found as the one holding the address {@code pthread_getattr_np} reports as its top, less a page.
     */
    static String stackPermissions() {
        long top = NativeThreadStack.top();
        return MemoryMaps.read().stream().filter(m -> m.start() <= top - 4096 && top - 4096 < m.end())
                .map(MemoryMaps.Mapping::permissions).findFirst().orElse("unmapped");
    }
}
