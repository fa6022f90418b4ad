package dev.jdyld.jit;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.ObjectFile;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static dev.jdyld.jit.ApiMisuseTest.LONG_LONG;
import static dev.jdyld.jit.ApiMisuseTest.c;
import static dev.jdyld.jit.ApiMisuseTest.linker;
import static dev.jdyld.jit.ApiMisuseTest.outcome;
import static dev.jdyld.jit.ApiMisuseTest.permissions;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** The longer scenarios of {@link ApiMisuseTest}, run in its child JVM; each prints what happened. */
final class ApiMisuseScenarios {
    private static final String OLD_F = "long upcall(long); long f(long x) { return upcall(x) + 1; }";
    private static final String NEW_F = "long f(long x) { return x + 100; }";
    private static final String SPIN_F = "long f(volatile long *flag) { flag[1] = 1; while (!flag[0]) { } return 1; }";

    private ApiMisuseScenarios() {}

    static void upcallClosesOldSet() throws Throwable {
        linker.defineFunction("upcall", ApiMisuseTest.upcallHandle(), LONG_LONG);
        ObjectFile oldF = c("f1", OLD_F);
        ObjectFile newF = c("f2", NEW_F);
        // Entered through the old set's own handle, and through a handle that follows the name: the
        // call holds the set it runs in, so the close is refused, naming the call on this thread.
        for (String way : List.of("set.function", "linker.function")) {
            LoadedSet old = linker.loadObjects(List.of(oldF));
            MethodHandle handle = way.equals("set.function") ? old.function("f", LONG_LONG) : linker.function("f", LONG_LONG);
            ApiMisuseTest.upcallAction = () -> {
                LoadedSet replacement = linker.redefine(List.of(newF));
                try {
                    old.close();
                } catch (IllegalStateException e) {
                    System.out.println(way + ": refused: " + e.getMessage());
                }
                replacement.close();
            };
            System.out.println(way + ": result " + (long) handle.invokeExact(1L));
            ApiMisuseTest.upcallAction = () -> { };
            old.close();
        }
        // Entered through another set's stub: nothing holds the old set by name once redefined, so it
        // closes; its memory is retired until the call that runs in it has returned.
        LoadedSet old = linker.loadObjects(List.of(oldF));
        LoadedSet caller = linker.loadObjects(List.of(c("g", "long f(long); long g(long x) { return f(x) * 2; }")));
        long code = old.address("f");
        ApiMisuseTest.upcallAction = () -> {
            LoadedSet replacement = linker.redefine(List.of(newF));
            old.close();
            System.out.println("stub: closed, code still " + permissions(code) + " while the call runs");
        };
        System.out.println("stub: result " + (long) caller.function("g", LONG_LONG).invokeExact(1L));
        System.out.println("stub: code after the call " + permissions(code));
        ApiMisuseTest.upcallAction = () -> { };
    }

    static void otherThreadClosesOldSet() throws Throwable {
        MemorySegment flag = Arena.global().allocate(16);
        ObjectFile spin = c("f1", SPIN_F);
        ObjectFile replacement = c("f2", "long f(volatile long *flag) { return 2; }");
        // A handle that follows the name, taken before the redefinition, entered the old code.
        LoadedSet old = linker.loadObjects(List.of(spin));
        MethodHandle following = linker.function("f", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        Thread looper = startLooping("looper-1", () -> (long) following.invokeExact(flag), flag, "following");
        LoadedSet v2 = linker.redefine(List.of(replacement));
        try {
            old.close();
        } catch (IllegalStateException e) {
            System.out.println("following: refused: " + e.getMessage());
        }
        release(flag, looper);
        old.close();
        System.out.println("following: closed after return");
        v2.close();
        // A set calls the old code through the linker's stub: the close goes ahead, the memory stays.
        flag.set(JAVA_LONG, 0, 0);
        flag.set(JAVA_LONG, 8, 0);
        LoadedSet old2 = linker.loadObjects(List.of(spin));
        LoadedSet caller = linker.loadObjects(List.of(c("g", "long f(volatile long *); long g(volatile long *flag) { return f(flag) * 10; }")));
        MethodHandle g = caller.function("g", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        long code = old2.address("f");
        Thread looper2 = startLooping("looper-2", () -> (long) g.invokeExact(flag), flag, "stub");
        linker.redefine(List.of(replacement));
        old2.close();
        System.out.println("stub: closed while g runs: code " + permissions(code));
        release(flag, looper2);
        System.out.println("stub: code after the call " + permissions(code));
    }

    interface LongCall {
        long call() throws Throwable;
    }

    private static Thread startLooping(String name, LongCall call, MemorySegment flag, String label) {
        Thread thread = Thread.ofPlatform().name(name).start(() -> {
            try {
                System.out.println(label + ": looper returned " + call.call());
            } catch (Throwable t) {
                System.out.println(label + ": looper " + outcome(t));
            }
        });
        while (flag.get(JAVA_LONG, 8) == 0) {
            Thread.onSpinWait();
        }
        return thread;
    }

    private static void release(MemorySegment flag, Thread thread) throws InterruptedException {
        flag.set(JAVA_LONG, 0, 1);
        thread.join();
    }

    static void pluginClosesSet() throws Throwable {
        linker.close();
        String source = "int v; __attribute__((constructor)) static void init(void) { v = 5; } int get(void) { return v; }";
        ObjectFile object = c("c", source);
        linker = JitLinker.builder().plugin(new LinkPlugin() {
            @Override
            public void afterFinalize(LoadedSet set) {
                try {
                    set.close();
                } catch (IllegalStateException e) {
                    System.out.println("plugin: " + outcome(e));
                }
            }
        }).build();
        LoadedSet set = linker.loadObjects(List.of(object));
        System.out.println("loaded, constructor ran: " + (int) set.function("get", FunctionDescriptor.of(JAVA_INT)).invokeExact());
        linker.close();
        linker = JitLinker.builder().plugin(new LinkPlugin() {
            @Override
            public void afterFinalize(LoadedSet set) {
                set.close();
            }
        }).build();
        try {
            linker.loadObjects(List.of(object));
        } catch (LinkException e) {
            System.out.println("escaping: " + outcome(e));
        }
        System.out.println("nothing registered: " + linker.lookup("get").isEmpty());
        linker.close();
        System.out.println("linker closed");
        linker = JitLinker.create();
    }

    static void constructorClosesLinker() throws Throwable {
        linker.defineFunction("upcall", ApiMisuseTest.upcallHandle(), LONG_LONG);
        ApiMisuseTest.upcallAction = () -> linker.close();
        LoadedSet set = linker.loadObjects(List.of(c("c", "long upcall(long);"
                + " __attribute__((constructor)) static void init(void) { upcall(1); }")));
        ApiMisuseTest.upcallAction = () -> { };
        System.out.println("loaded " + set.name());
        linker.close();
        System.out.println("linker closed");
    }

    static void destructorClosesLinker() throws Throwable {
        linker.defineFunction("upcall", ApiMisuseTest.upcallHandle(), LONG_LONG);
        LoadedSet set = linker.loadObjects(List.of(c("c", "long upcall(long);"
                + " __attribute__((destructor)) static void fini(void) { upcall(1); }")));
        ApiMisuseTest.upcallAction = () -> linker.close();
        set.close();
        ApiMisuseTest.upcallAction = () -> { };
        System.out.println("set closed: " + set.isClosed());
        linker.close();
        System.out.println("linker closed");
    }

    static void atomicCloses() throws Throwable {
        MemorySegment flag = Arena.global().allocate(16);
        LoadedSet a = linker.loadObjects(List.of(c("a", "long a(void) { return 1; }")));
        LoadedSet b = linker.loadObjects(List.of(c("b", "long a(void); long b(volatile long *flag) {"
                + " flag[1] = 1; while (!flag[0]) { } return a() + 10; }")));
        LoadedSet cs = linker.loadObjects(List.of(c("cc", "long a(void); long c(void) { return a() + 110; }")));
        LoadedSet d = linker.loadObjects(List.of(c("d", "long d(void) { return 7; }")));
        MethodHandle bh = b.function("b", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        Thread caller = startLooping("caller-1", () -> (long) bh.invokeExact(flag), flag, "b");
        try {
            a.closeWithDependents();
        } catch (IllegalStateException e) {
            System.out.println("closeWithDependents: " + outcome(e));
        }
        System.out.println("after refusal: a " + state(a) + ", b " + state(b) + ", c " + state(cs) + "; c() = "
                + (long) cs.function("c", FunctionDescriptor.of(JAVA_LONG)).invokeExact());
        try {
            linker.close();
        } catch (IllegalStateException e) {
            System.out.println("linker.close refused, linker usable: d() = "
                    + (long) linker.function("d", FunctionDescriptor.of(JAVA_LONG)).invokeExact());
        }
        release(flag, caller);
        linker.close();
        System.out.println("after return: a " + state(a) + ", b " + state(b) + ", c " + state(cs) + ", d " + state(d));
        linker = JitLinker.create();
    }

    private static String state(LoadedSet set) {
        return set.isClosed() ? "closed" : "open";
    }

    static void lazyFailures() throws Throwable {
        AtomicReference<String> handled = new AtomicReference<>("none");
        linker.close();
        linker = JitLinker.builder().onLazyFailure(e -> handled.set(e.getMessage())).build();
        boolean[] fail = {true};
        ObjectFile lazy = c("lazy", "long lazy(long x) { return x * 2; }");
        linker.defineLazy("lazy", () -> {
            if (fail[0]) {
                throw new IllegalStateException("compiler crashed");
            }
            return List.of(lazy);
        });
        LoadedSet user = linker.loadObjects(List.of(c("user", """
                #include <pthread.h>
                long lazy(long);
                long through(long x) { return lazy(x); }
                long other(long x) { return x + 4; }
                static void *run(void *arg) { *(long *) arg = lazy(21) + 100; return 0; }
                long from_c_thread(void) { long r = -1; pthread_t t; pthread_create(&t, 0, run, &r); pthread_join(t, 0); return r; }
                """)));
        try {
            long unused = (long) user.function("through", LONG_LONG).invokeExact(21L);
        } catch (LinkException e) {
            System.out.println("set.function: " + outcome(e));
        }
        System.out.println("unrelated call: " + (long) user.function("other", LONG_LONG).invokeExact(1L));
        for (List<ObjectFile> bad : java.util.Arrays.asList(null, List.<ObjectFile>of())) {
            linker.defineLazy(bad == null ? "lazy_null" : "lazy_empty", () -> bad);
            try {
                long unused = (long) linker.function(bad == null ? "lazy_null" : "lazy_empty", LONG_LONG).invokeExact(1L);
            } catch (LinkException e) {
                System.out.println((bad == null ? "null: " : "empty: ") + outcome(e).replace("lazy_null", "lazy").replace("lazy_empty", "lazy"));
            }
        }
        long fromC = (long) user.function("from_c_thread", FunctionDescriptor.of(JAVA_LONG)).invokeExact();
        System.out.println("c thread: returned " + (fromC - 100) + ", handler: " + handled.get());
        fail[0] = false;
        System.out.println("works afterwards: " + (long) user.function("through", LONG_LONG).invokeExact(21L));
    }

    static void messages() throws Throwable {
        LoadedSet set = linker.loadObjects(List.of(c("m", "long m(long x) { return x; } long data = 3;")));
        MethodHandle handle = set.function("m", LONG_LONG);
        set.close();
        List<Runnable> uses = List.of(() -> set.find("m"), () -> set.function("m", LONG_LONG), () -> set.data("data"));
        List<String> names = List.of("find", "function", "data");
        for (int i = 0; i < uses.size(); i++) {
            try {
                uses.get(i).run();
            } catch (IllegalStateException e) {
                System.out.println(names.get(i) + ": " + outcome(e));
            }
        }
        try {
            long unused = (long) handle.invokeExact(1L);
        } catch (IllegalStateException e) {
            System.out.println("handle: " + outcome(e));
        }
        try {
            linker.redefine(List.of(c("n", "long never(long x) { return x; }")));
        } catch (LinkException e) {
            System.out.println("redefine: " + outcome(e));
        }
    }
}
