package dev.jdyld.jit;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.ObjectFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Eight threads issue random API operations on one linker for a minute, in a child JVM: loads,
 * redefinitions, calls through every kind of handle (some of which call back into Java and close
 * sets from inside), closes with and without dependents, lazy symbols whose materializer may fail
 * or return nothing, a plugin that tries to close the set it is told about, data segments. Every
 * call's result must be one the definitions then current allow, every exception one the API
 * documents, with its documented message; the child must end normally, and the linker's close
 * must leave nothing mapped.
 */
class ApiSequenceTest {
    private static final FunctionDescriptor LONG_LONG = FunctionDescriptor.of(JAVA_LONG, JAVA_LONG);
    private static final int THREADS = 8;
    /** Messages the API documents for refusals and stale use, as patterns. */
    private static final List<Pattern> DOCUMENTED = List.of(
            Pattern.compile("set \\S+ is closed"),
            Pattern.compile("set \\S+ cannot be closed while code runs in it.*"),
            Pattern.compile("set \\S+ cannot be closed: a segment of its data is in use by a running native call"),
            Pattern.compile("set \\S+ is used by open sets? .*; close them first, or use closeWithDependents\\(\\)"),
            Pattern.compile("set \\S+ is being bound to by a load in progress; close it when that load ends"),
            Pattern.compile("set \\S+ is still starting .*"),
            Pattern.compile("symbol \\S+ is no longer defined: .*"),
            Pattern.compile("symbol \\S+ is not defined .*"),
            Pattern.compile(".*symbol '\\S+': .*"),                       // LinkException with a location
            Pattern.compile(".*nothing to redefine.*"),
            Pattern.compile("undefined symbols?: .*"),
            Pattern.compile(".*duplicate.*|.*already defined.*|.*is defined by.*"),
            Pattern.compile("Already closed"));                             // FFM's own, for a segment of a closed set

    @TempDir
    Path dir;

    @Test
    void randomOperationsOnEightThreadsEndWithRightResultsOrDocumentedExceptions() {
        ChildJvm.Result result = ChildJvm.run(dir, Duration.ofSeconds(180), ApiSequenceTest.class,
                Long.toString(System.nanoTime()), "60", dir.toString()).assertCleanExit();
        List<String> lines = result.output().lines().toList();
        assertThat(lines).noneMatch(line -> line.startsWith("WRONG"));
        String summary = lines.stream().filter(line -> line.startsWith("operations ")).findFirst().orElseThrow();
        long operations = Long.parseLong(summary.split(" ")[1]);
        assertThat(operations).as(summary).isGreaterThan(1_000);
        assertThat(lines).contains("nothing left behind");
    }

    // ---- the child --------------------------------------------------------------------------

    private static final AtomicLong OPERATIONS = new AtomicLong();
    private static final AtomicLong REFUSED = new AtomicLong();
    private static final Map<String, AtomicLong> KINDS = new ConcurrentHashMap<>();
    private static final List<LoadedSet> OPEN = new CopyOnWriteArrayList<>();
    private static volatile boolean failed;
    private static JitLinker linker;
    private static Path work;
    /** What the upcall does on the thread that runs it: close a random set, or nothing. */
    private static final ThreadLocal<Random> RANDOM = new ThreadLocal<>();

    public static void main(String[] args) throws Exception {
        long seed = Long.parseLong(args[0]);
        long seconds = Long.parseLong(args[1]);
        work = Path.of(args[2]);
        System.out.println("seed " + seed);
        Fixtures fixtures = new Fixtures();
        linker = JitLinker.builder().onLazyFailure(e -> count("lazy failure without a Java caller")).plugin(new LinkPlugin() {
            @Override
            public void afterFinalize(LoadedSet set) {
                Random random = RANDOM.get();
                if (random != null && random.nextInt(50) == 0) {
                    attempt("plugin closes its set", () -> set.close()); // refused: the set is starting
                }
            }
        }).build();
        linker.defineFunction("java_hook", MethodHandles.lookup().findStatic(ApiSequenceTest.class, "hook",
                MethodType.methodType(long.class, long.class)), LONG_LONG);
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            int id = t;
            threads.add(Thread.ofPlatform().name("worker-" + t).start(() -> {
                Random random = new Random(seed + id);
                RANDOM.set(random);
                while (System.nanoTime() < end && !failed) {
                    step(fixtures, id, random);
                    OPERATIONS.incrementAndGet();
                }
            }));
        }
        for (Thread thread : threads) {
            thread.join();
        }
        linker.close();
        boolean clean = linker.memoryManager().usage().stream().allMatch(w -> w.slabs() == 0 && w.committed() == 0);
        System.out.println(clean ? "nothing left behind" : "WRONG: memory left " + linker.memoryManager().usage());
        System.out.println("operations " + OPERATIONS.get() + " refused " + REFUSED.get() + " " + new java.util.TreeMap<>(KINDS));
        System.out.flush();
        Runtime.getRuntime().halt(failed || !clean ? 1 : 0);
    }

    /** Objects compiled once, before the threads start. */
    private static final class Fixtures {
        /** Versions of f: f(x) = x + k. */
        final List<ObjectFile> versions = new ArrayList<>();
        /** A caller of f through the linker's stub, and one that calls back into Java first. */
        final ObjectFile caller = compile("g", "long f(long); long g(long x) { return f(x) * 2; }");
        final ObjectFile hooked = compile("hooked", "long f(long); long java_hook(long);"
                + " long hooked(long x) { return f(java_hook(x)) + 1000; }");
        /** Independent sets with a counter each, per thread and slot. */
        final ObjectFile[][] own = new ObjectFile[THREADS][4];

        Fixtures() {
            for (int k = 1; k <= 4; k++) {
                versions.add(compile("f" + k, "long f(long x) { return x + " + k + "; }"));
            }
            for (int t = 0; t < THREADS; t++) {
                for (int s = 0; s < 4; s++) {
                    String name = "h_" + t + "_" + s;
                    own[t][s] = compile(name, "long counter_" + name + " = " + s + "; long " + name
                            + "(long x) { return x * 3 + counter_" + name + "; }");
                }
            }
        }
    }

    private static ObjectFile compile(String name, String source) {
        try {
            return new ObjectFile(name + ".o", Files.readAllBytes(Toolchain.compile(work, name, source, "-O2", "-fPIC")));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @SuppressWarnings("unused") // called by hooked() through an upcall
    static long hook(long x) {
        Random random = RANDOM.get();
        if (random != null && random.nextInt(4) == 0 && !OPEN.isEmpty()) {
            LoadedSet set = OPEN.get(random.nextInt(OPEN.size()));
            attempt("close from an upcall", () -> {
                set.close();
                OPEN.remove(set);
            });
        }
        return x;
    }

    private static void step(Fixtures fixtures, int id, Random random) {
        long x = random.nextInt(1000);
        switch (random.nextInt(11)) {
            case 0 -> attempt("load own", () -> OPEN.add(linker.loadObjects(List.of(fixtures.own[id][random.nextInt(4)]))));
            case 1 -> attempt("define or redefine f", () -> {
                ObjectFile version = fixtures.versions.get(random.nextInt(4));
                OPEN.add(linker.lookup("f").isPresent() ? linker.redefine(List.of(version)) : linker.loadObjects(List.of(version)));
            });
            case 2 -> attempt("load caller", () -> OPEN.add(linker.loadObjects(List.of(random.nextBoolean() ? fixtures.caller : fixtures.hooked))));
            case 3 -> attempt("call f by name", () -> {
                long r = (long) linker.function("f", LONG_LONG).invokeExact(x);
                check(r >= x + 1 && r <= x + 4, "f(" + x + ") = " + r);
            });
            case 4 -> attempt("call a set's function", () -> callSomeSet(random, x));
            case 5 -> attempt("close", () -> {
                LoadedSet set = pick(random);
                set.close();
                OPEN.remove(set);
            });
            case 6 -> attempt("close with dependents", () -> {
                LoadedSet set = pick(random);
                set.closeWithDependents();
                OPEN.removeIf(LoadedSet::isClosed);
            });
            case 7 -> attempt("lazy", () -> {
                String name = "lazy_" + id + "_" + random.nextInt(1 << 30);
                int mode = random.nextInt(4);
                linker.defineLazy(name, () -> switch (mode) {
                    case 0 -> throw new IllegalStateException("materializer fails");
                    case 1 -> null;
                    default -> List.of(compileLazy(name));
                });
                long r = (long) linker.function(name, LONG_LONG).invokeExact(x);
                check(r == x - 7, name + "(" + x + ") = " + r);
            });
            case 8 -> attempt("data", () -> {
                LoadedSet set = pick(random);
                String symbol = set.symbols().stream().filter(s -> s.startsWith("counter_")).findFirst().orElse(null);
                if (symbol != null) {
                    MemorySegment counter = set.data(symbol);
                    counter.set(JAVA_LONG, 0, counter.get(JAVA_LONG, 0));
                }
            });
            case 9 -> attempt("lookup", () -> linker.lookup("f"));
            default -> attempt("scope function", () -> {
                Scope scope = linker.scope("side-" + id);
                if (scope.lookup("h_" + id + "_0").isEmpty()) {
                    scope.loadObjects(List.of(fixtures.own[id][0]));
                }
                long r = (long) scope.function("h_" + id + "_0", LONG_LONG).invokeExact(x);
                check(r == 3 * x, "side h(" + x + ") = " + r);
            });
        }
    }

    /** Lazy objects are compiled in the materializer, as a JIT would, on the calling thread. */
    private static ObjectFile compileLazy(String name) {
        return compile(name, "long " + name + "(long x) { return x - 7; }");
    }

    private static LoadedSet pick(Random random) {
        List<LoadedSet> open = List.copyOf(OPEN);
        if (open.isEmpty()) {
            throw new NoSuchElementException("no set open");
        }
        return open.get(random.nextInt(open.size()));
    }

    private static void callSomeSet(Random random, long x) throws Throwable {
        LoadedSet set = pick(random);
        for (String symbol : set.symbols()) {
            if (symbol.startsWith("counter_")) {
                continue;
            }
            MethodHandle handle = set.function(symbol, LONG_LONG);
            long r = (long) handle.invokeExact(x);
            switch (symbol) {
                case "f" -> check(r >= x + 1 && r <= x + 4, "set f(" + x + ") = " + r);
                case "g" -> check(r == 0 || (r >= 2 * (x + 1) && r <= 2 * (x + 4)), "g(" + x + ") = " + r);
                case "hooked" -> check(r == 1000 || (r >= x + 1001 && r <= x + 1004), "hooked(" + x + ") = " + r);
                default -> check(r >= 3 * x && r <= 3 * x + 3, symbol + "(" + x + ") = " + r);
            }
        }
    }

    private interface Operation {
        void run() throws Throwable;
    }

    private static void attempt(String kind, Operation operation) {
        try {
            operation.run();
            count(kind);
        } catch (NoSuchElementException e) {
            count(kind + " (nothing to act on)");
        } catch (IllegalStateException | LinkException e) {
            String message = e.getMessage();
            if (DOCUMENTED.stream().noneMatch(p -> p.matcher(message).matches())) {
                wrong(kind + ": undocumented " + e);
            }
            REFUSED.incrementAndGet();
        } catch (IllegalArgumentException e) {
            wrong(kind + ": " + e);
        } catch (Throwable t) {
            wrong(kind + ": " + t);
            t.printStackTrace(System.out);
        }
    }

    private static void count(String kind) {
        KINDS.computeIfAbsent(kind, k -> new AtomicLong()).incrementAndGet();
    }

    private static void check(boolean right, String what) {
        if (!right) {
            wrong("wrong result " + what);
        }
    }

    private static void wrong(String what) {
        failed = true;
        System.out.println("WRONG: " + what);
    }
}
