package dev.jdyld.jit;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.ObjectFile;
import dev.jdyld.memory.MemoryMaps;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Misuse of the API that used to crash or hang the JVM, one scenario per case, each in a child JVM
 * with a time limit so that a regression fails its test instead of ending the suite. A scenario
 * prints what happened, line by line; the test checks those lines and that the child ended cleanly.
 * The third case, a set closed while a thread with a pending {@code thread_local} destructor of it
 * lives, is {@link ThreadLocalDestructorTest}'s.
 */
class ApiMisuseTest {
    static final FunctionDescriptor LONG_LONG = FunctionDescriptor.of(JAVA_LONG, JAVA_LONG);
    static final Duration LIMIT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    private List<String> run(String scenario) {
        ChildJvm.Result result = ChildJvm.run(dir, LIMIT, ApiMisuseTest.class, scenario, dir.toString()).assertCleanExit();
        return result.output().lines().toList();
    }

    /** Row 1: an upcall from the old definition closes its set, after a redefine, for every way into it. */
    @Test
    void closingTheRedefinedSetFromAnUpcallOfItsOwnCodeIsRefusedOrDeferred() {
        assertThat(run("upcallClosesOldSet")).containsSubsequence(
                "set.function: refused: set f1.o cannot be closed while code runs in it: f on this thread; close it when that call has returned",
                "set.function: result 2",
                "linker.function: refused: set f1.o cannot be closed while code runs in it: f on this thread; close it when that call has returned",
                "linker.function: result 2",
                "stub: closed, code still r-xp while the call runs",
                "stub: result 4",
                "stub: code after the call ---p");
    }

    /** Row 2: another thread closes the old set while a thread loops in its code. */
    @Test
    void closingTheRedefinedSetWhileAnotherThreadRunsInItIsRefusedOrDeferred() {
        List<String> lines = run("otherThreadClosesOldSet");
        assertThat(lines).anySatisfy(line -> assertThat(line).matches(
                "following: refused: set f1\\.o cannot be closed while code runs in it: f on thread looper-1; .*"));
        assertThat(lines).containsSubsequence("following: looper returned 1", "following: closed after return",
                "stub: closed while g runs: code r-xp", "stub: looper returned 10", "stub: code after the call ---p");
    }

    /** Row 4: a data symbol is refused by every kind of function handle. */
    @Test
    void aDataSymbolIsNotAFunction() {
        assertThat(run("dataAsFunction")).containsExactly(
                "set.function: LinkException: t.o: symbol 'table': is not a function but data; a downcall to it would jump into data",
                "linker.function: LinkException: symbol 'table': is a data symbol, not a function; a downcall to it would jump into data",
                "defineData: LinkException: symbol 'java_table': is a data symbol, not a function; a downcall to it would jump into data",
                "thread-local: LinkException: t.o: symbol 'counter': is not a function but a thread-local variable; a downcall to it would jump into data");
    }

    /** Row 5: const data is a read-only segment: a write is a Java exception. */
    @Test
    void constDataIsReadOnly() {
        assertThat(run("writeConstData")).containsExactly("k[1] = 2", "read-only: true",
                "write: IllegalArgumentException: Attempt to write a read-only segment", "counter written: 42");
    }

    /** Row 6: a function is not data. */
    @Test
    void aFunctionIsNotData() {
        assertThat(run("functionAsData")).containsExactly(
                "data(f): LinkException: f.o: symbol 'f': is a function, not data: call it through function(), its code is not writable",
                "f(1) = 1");
    }

    /** Row 7: a plugin that closes the set it is told about, with a constructor; then one that lets the refusal escape. */
    @Test
    void aPluginCannotCloseAStartingSet() {
        assertThat(run("pluginClosesSet")).containsExactly(
                "plugin: IllegalStateException: set c.o is still starting (its plugins, permissions or constructors); close it after its load has returned",
                "loaded, constructor ran: 5",
                "escaping: LinkException: c.o: initialising the set failed: java.lang.IllegalStateException: set c.o is still"
                        + " starting (its plugins, permissions or constructors); close it after its load has returned",
                "nothing registered: true",
                "linker closed");
    }

    /** Row 8: a constructor's upcall closes the linker. */
    @Test
    void aConstructorCannotCloseTheLinkerThatRunsIt() {
        assertThat(run("constructorClosesLinker")).containsExactly(
                "upcall: IllegalStateException: JitLinker.close() called from a constructor, destructor or plugin of a load"
                        + " or close in progress on this thread: it would wait for itself; close the linker after that returns",
                "loaded c.o", "linker closed");
    }

    /** Row 9: a destructor's upcall closes the linker while its set closes. */
    @Test
    void aDestructorCannotCloseTheLinkerThatRunsIt() {
        assertThat(run("destructorClosesLinker")).containsExactly(
                "upcall: IllegalStateException: JitLinker.close() called from a constructor, destructor or plugin of a load"
                        + " or close in progress on this thread: it would wait for itself; close the linker after that returns",
                "set closed: true", "linker closed");
    }

    /** closeWithDependents and JitLinker.close: all or nothing, and the linker stays usable. */
    @Test
    void multiSetClosesAreAllOrNothing() {
        List<String> lines = run("atomicCloses");
        assertThat(lines).anySatisfy(line -> assertThat(line).startsWith(
                "closeWithDependents: IllegalStateException: set b.o cannot be closed while code runs in it: b on thread caller-1"));
        assertThat(lines).containsSubsequence("after refusal: a open, b open, c open; c() = 111",
                "linker.close refused, linker usable: d() = 7", "after return: a closed, b closed, c closed, d closed");
    }

    /** Lazy failures are thrown by the Java call that led to them, never by a later one; null is refused. */
    @Test
    void lazyFailuresAreReportedWhereTheyHappen() {
        assertThat(run("lazyFailures")).containsExactly(
                "set.function: LinkException: a lazy symbol called from loaded code could not be materialized (the native caller got 0):"
                        + " symbol 'lazy': materializing failed: java.lang.IllegalStateException: compiler crashed",
                "unrelated call: 5",
                "null: LinkException: symbol 'lazy': the materializer returned null instead of objects defining it",
                "empty: LinkException: symbol 'lazy': the materializer returned no objects instead of objects defining it",
                "c thread: returned 0, handler: a lazy symbol called from loaded code could not be materialized (the native"
                        + " caller got 0): symbol 'lazy': materializing failed: java.lang.IllegalStateException: compiler crashed",
                "works afterwards: 42");
    }

    /** Exceptions after close name the set; redefining what was never defined is refused. */
    @Test
    void messagesNameTheSet() {
        assertThat(run("messages")).containsExactly(
                "find: IllegalStateException: set m.o is closed",
                "function: IllegalStateException: set m.o is closed",
                "data: IllegalStateException: set m.o is closed",
                "handle: IllegalStateException: set m.o is closed",
                "redefine: LinkException: n.o: nothing to redefine: none of its symbols (never) was ever defined in scope main; load it instead");
    }

    // ---- the child's side -------------------------------------------------------------------

    static Path work;
    static JitLinker linker;
    static Runnable upcallAction = () -> { };

    @SuppressWarnings("unused") // called from C through an upcall
    static long upcall(long x) {
        try {
            upcallAction.run();
        } catch (RuntimeException e) {
            System.out.println("upcall: " + e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        return x;
    }

    /** Compiles with {@code gcc -O2 -fPIC}; the object is named {@code name.o}, as messages show it. */
    static ObjectFile c(String name, String source) {
        Path object = Toolchain.compile(work, name, source, "-O2", "-fPIC");
        try {
            return new ObjectFile(name + ".o", java.nio.file.Files.readAllBytes(object));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static MethodHandle upcallHandle() throws ReflectiveOperationException {
        return MethodHandles.lookup().findStatic(ApiMisuseTest.class, "upcall", MethodType.methodType(long.class, long.class));
    }

    static String outcome(Throwable t) {
        return t.getClass().getSimpleName() + ": " + t.getMessage();
    }

    /** The permissions of the mapping that holds {@code address}, or "unmapped". */
    static String permissions(long address) {
        return MemoryMaps.read().stream().filter(m -> m.start() <= address && address < m.end())
                .map(MemoryMaps.Mapping::permissions).findFirst().orElse("unmapped");
    }

    public static void main(String[] args) throws Throwable {
        work = Path.of(args[1]);
        linker = JitLinker.create();
        switch (args[0]) {
            case "upcallClosesOldSet" -> ApiMisuseScenarios.upcallClosesOldSet();
            case "otherThreadClosesOldSet" -> ApiMisuseScenarios.otherThreadClosesOldSet();
            case "dataAsFunction" -> dataAsFunction();
            case "writeConstData" -> writeConstData();
            case "functionAsData" -> functionAsData();
            case "pluginClosesSet" -> ApiMisuseScenarios.pluginClosesSet();
            case "constructorClosesLinker" -> ApiMisuseScenarios.constructorClosesLinker();
            case "destructorClosesLinker" -> ApiMisuseScenarios.destructorClosesLinker();
            case "atomicCloses" -> ApiMisuseScenarios.atomicCloses();
            case "lazyFailures" -> ApiMisuseScenarios.lazyFailures();
            case "messages" -> ApiMisuseScenarios.messages();
            default -> throw new IllegalArgumentException(args[0]);
        }
        linker.close();
        System.out.flush();
    }

    private static void dataAsFunction() {
        LoadedSet set = linker.loadObjects(List.of(c("t", "long table[4] = {1, 2, 3, 4}; __thread int counter;")));
        try {
            set.function("table", LONG_LONG);
        } catch (LinkException e) {
            System.out.println("set.function: " + outcome(e));
        }
        try {
            linker.function("table", LONG_LONG);
        } catch (LinkException e) {
            System.out.println("linker.function: " + outcome(e));
        }
        linker.defineData("java_table", Arena.global().allocate(32));
        try {
            linker.function("java_table", LONG_LONG);
        } catch (LinkException e) {
            System.out.println("defineData: " + outcome(e));
        }
        try {
            set.function("counter", LONG_LONG);
        } catch (LinkException e) {
            System.out.println("thread-local: " + outcome(e));
        }
    }

    private static void writeConstData() {
        LoadedSet set = linker.loadObjects(List.of(c("k", "const int k[4] = {1, 2, 3, 4}; int counter;"
                + " const int *keep(void) { return k; }")));
        MemorySegment k = set.data("k");
        System.out.println("k[1] = " + k.getAtIndex(JAVA_INT, 1));
        System.out.println("read-only: " + k.isReadOnly());
        try {
            k.setAtIndex(JAVA_INT, 0, 1);
        } catch (IllegalArgumentException e) {
            System.out.println("write: " + outcome(e));
        }
        MemorySegment counter = set.data("counter");
        counter.set(JAVA_INT, 0, 42);
        System.out.println("counter written: " + counter.get(JAVA_INT, 0));
    }

    private static void functionAsData() throws Throwable {
        LoadedSet set = linker.loadObjects(List.of(c("f", "long f(long x) { return x; }")));
        try {
            set.data("f");
        } catch (LinkException e) {
            System.out.println("data(f): " + outcome(e));
        }
        System.out.println("f(1) = " + (long) set.function("f", LONG_LONG).invokeExact(1L));
    }
}
