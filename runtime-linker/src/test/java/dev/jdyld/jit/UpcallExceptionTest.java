package dev.jdyld.jit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * An exception thrown by a Java-defined function called from loaded C code is handled as FFM
 * handles any exception leaving an upcall: the exception is printed and the JVM ends, with no
 * corrupted native frame and no crash report. It ends the JVM, so it runs in a child JVM.
 */
class UpcallExceptionTest {
    @TempDir
    Path dir;

    static long failingLog(long value) {
        throw new IllegalArgumentException("java_log refuses " + value);
    }

    /** The child: C calls java_log, which throws. */
    public static void main(String[] args) throws Throwable {
        try (JitLinker linker = JitLinker.create()) {
            MethodHandle target = MethodHandles.lookup().findStatic(UpcallExceptionTest.class, "failingLog",
                    MethodType.methodType(long.class, long.class));
            linker.defineFunction("java_log", target, FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
            LoadedSet set = linker.load(Path.of(args[0]));
            MethodHandle logTwice = set.function("log_twice", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
            System.out.println("calling");
            System.out.flush();
            long result = (long) logTwice.invokeExact(42L);
            System.out.println("returned " + result);
        }
    }

    @Test
    void anExceptionLeavingAnUpcallIsReportedTheWayFfmReportsIt() throws Exception {
        Path object = Toolchain.compile(dir, "log", """
                long java_log(long);
                long log_twice(long x) { return java_log(x) + java_log(x + 1); }
                """, "-O2", "-fPIC");
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process child = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "-XX:ErrorFile=" + dir.resolve("hs_err.log"), "-cp", System.getProperty("java.class.path"),
                UpcallExceptionTest.class.getName(), object.toString()))
                .directory(dir.toFile()).redirectErrorStream(true).start();
        String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(output).contains("calling")
                .contains("Unrecoverable uncaught exception encountered")
                .contains("IllegalArgumentException: java_log refuses 42")
                .doesNotContain("returned")
                .doesNotContain("SIGSEGV").doesNotContain("A fatal error has been detected");
        assertThat(child.exitValue()).isNotZero();
        assertThat(dir.resolve("hs_err.log")).doesNotExist();
    }
}
