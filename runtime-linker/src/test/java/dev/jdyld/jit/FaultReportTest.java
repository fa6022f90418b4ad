package dev.jdyld.jit;

import dev.jdyld.core.ObjectFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A fault in loaded code called through the API ends the process promptly with the signal's exit
 * status and one line naming the fault, the set and the function, not the JVM's crash report; a
 * jump into a thread's stack that is not executable ends so too instead of spinning; and the JVM's
 * own faults (implicit null checks, stack banging) still reach the JVM with jdyld's handler in
 * front of it. Each runs in a child JVM with a time limit.
 */
class FaultReportTest {
    private static final Duration LIMIT = Duration.ofSeconds(30);
    private static final int SIGSEGV_STATUS = 128 + 11;

    @TempDir
    Path dir;

    private ChildJvm.Result child(String scenario, Path object) {
        return ChildJvm.run(dir, LIMIT, FaultReportTest.class, scenario, object.toString());
    }

    @Test
    void aNullStoreInACallThroughAHandleEndsTheProcessNamingTheSetAndFunction() {
        Path object = Toolchain.compile(dir, "crash", "void crash(int *p) { *p = 42; } long safe(long x) { return x + 1; }", "-O2", "-fPIC");
        ChildJvm.Result result = child("null-store", object);
        assertThat(result.timedOut()).isFalse();
        assertThat(result.exitCode()).as(result.output()).isEqualTo(SIGSEGV_STATUS);
        assertThat(result.crashReport()).as("no JVM crash report").isFalse();
        assertThat(result.output()).doesNotContain("A fatal error has been detected").contains("safe(1) = 2").containsPattern(
                "jdyld: SIGSEGV in loaded code: write to 0x0 \\(not mapped\\) at 0x[0-9a-f]+ \\(crash(\\+0x[0-9a-f]+)?\\) in set crash.o\n");
    }

    @Test
    void aJumpIntoAStackThatIsNotExecutableEndsInsteadOfSpinning() {
        // The object says it needs no executable stack, and its nested function's trampoline is on the stack.
        Toolchain.write(dir.resolve("lying.c"), "static int apply(int (*f)(int), int x) { return f(x); }"
                + " int nested(int x) { int k = 3; int add(int v) { return v + k; } return apply(add, x); }");
        Toolchain.run(List.of("gcc", "-S", "-O0", "-fPIC", dir.resolve("lying.c").toString(), "-o", dir.resolve("lying.s").toString()));
        Path object = Toolchain.assemble(dir, "lying", read(dir.resolve("lying.s")).replace(".note.GNU-stack,\"x\"", ".note.GNU-stack,\"\""));
        ChildJvm.Result result = child("stack-jump", object);
        assertThat(result.timedOut()).as("the JVM must not spin").isFalse();
        assertThat(result.exitCode()).as(result.output()).isEqualTo(SIGSEGV_STATUS);
        assertThat(result.output()).containsPattern("jdyld: SIGSEGV in loaded code: jump into this thread's stack at 0x[0-9a-f]+,"
                + " called from 0x[0-9a-f]+ \\(apply\\+0x[0-9a-f]+\\) in set lying.o; the code needs an executable stack");
    }

    @Test
    void theJvmsOwnFaultsStillReachTheJvm() {
        Path object = Toolchain.compile(dir, "main", """
                long java_work(long);
                long safe(long x) { return x + 1; }
                int main(void) { return (int) java_work(7); }
                """, "-O2", "-fPIC");
        List<String> lines = child("jvm-faults", object).assertCleanExit().output().lines().toList();
        assertThat(lines).containsExactly("main thread: null pointers caught 100000, stack overflow caught",
                "run thread, in an upcall: null pointers caught 100000, stack overflow caught", "main returned 7");
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    // ---- the child ----

    public static void main(String[] args) throws Throwable {
        try (JitLinker linker = JitLinker.create()) {
            linker.defineFunction("java_work", MethodHandles.lookup().findStatic(FaultReportTest.class, "javaWork",
                    MethodType.methodType(long.class, long.class)), FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
            LoadedSet set = linker.loadObjects(List.of(new ObjectFile(Path.of(args[1]).getFileName().toString(),
                    Files.readAllBytes(Path.of(args[1])))));
            switch (args[0]) {
                case "null-store" -> {
                    System.out.println("safe(1) = " + (long) set.function("safe", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG)).invokeExact(1L));
                    System.out.flush();
                    MethodHandle crash = set.function("crash", FunctionDescriptor.ofVoid(JAVA_LONG));
                    crash.invokeExact(0L);
                    System.out.println("WRONG: still running");
                }
                case "stack-jump" -> {
                    int ignored = (int) set.function("nested", FunctionDescriptor.of(JAVA_INT, JAVA_INT)).invokeExact(4);
                    System.out.println("WRONG: still running");
                }
                case "jvm-faults" -> {
                    System.out.println("main thread: " + provokeJvmFaults());
                    System.out.println("main returned " + set.runMain("main", List.of("main.o")));
                }
                default -> throw new IllegalArgumentException(args[0]);
            }
        }
    }

    @SuppressWarnings("unused") // java_work, called by main on the thread runMain makes (it has an alternate signal stack)
    static long javaWork(long x) {
        System.out.println("run thread, in an upcall: " + provokeJvmFaults());
        return x;
    }

    /** Null pointers in compiled code (implicit null checks: SIGSEGV the JVM turns into exceptions) and a stack overflow. */
    static String provokeJvmFaults() {
        int caught = 0;
        int[][] arrays = new int[2][];
        for (int i = 0; i < 100_000; i++) {
            try {
                caught += arrays[i & 1].length;
            } catch (NullPointerException e) {
                caught++;
            }
        }
        String overflow;
        try {
            overflow = "no stack overflow: " + deep(0);
        } catch (StackOverflowError e) {
            overflow = "stack overflow caught";
        }
        return "null pointers caught " + caught + ", " + overflow;
    }

    private static int deep(int n) {
        return deep(n + 1) + 1;
    }
}
