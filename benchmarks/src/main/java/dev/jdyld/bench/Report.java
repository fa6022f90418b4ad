package dev.jdyld.bench;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code bin/bench} without arguments: every performance figure jdyld has a target for, each
 * measured in this run next to its yardstick (the C loop, llvm-jitlink, a plain JVM), printed as
 * one table of figure, target, ratio and whether the target is met.
 *
 * <p>Every figure is a median with its range (min–max) over at least five repeats, so that a reader
 * can tell a change from noise: warm figures over JMH's measured iterations (short runs: the table
 * is for tracking, the JMH classes for detail), whole-process figures over alternating runs of the
 * two commands, timed from this process with {@link System#nanoTime} around start and exit.
 */
public final class Report {
    private static final Path SQLITE = Path.of("/usr/lib/x86_64-linux-gnu/libsqlite3.a");
    static final int PROCESS_RUNS = 11;
    private static final String PACKAGE = Report.class.getPackageName() + ".";

    /** A figure over repeats: the median, and the range the repeats spanned. */
    record Figure(double median, double min, double max) {
        /** The median with {@code number} (a format such as {@code %.2f}), then the range: "1.23 (1.10–1.40)". */
        String show(String number) {
            return String.format(number, median) + " (" + String.format(number, min) + "–" + String.format(number, max) + ")";
        }

        static Figure of(List<Double> values) {
            double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            return new Figure(sorted[sorted.length / 2], sorted[0], sorted[sorted.length - 1]);
        }
    }

    private final Path root;
    private final List<String[]> rows = new ArrayList<>();

    private Report(Path root) {
        this.root = root;
    }

    public static void main(String[] args) throws Exception {
        Path root = Path.of(args.length > 0 ? args[0] : ".").toAbsolutePath().normalize();
        Report report = new Report(root);
        Path dir = Fixtures.tempDir("jdyld-bench-report");
        // After the root, names of sections to run alone (hotLoop sqliteLoad coldStart smallSets isolation
        // aarch64 scale), e.g. `java -cp ... dev.jdyld.bench.Report . scale`; none: every section.
        java.util.function.Predicate<String> runs = section -> args.length <= 1 || java.util.Arrays.asList(args)
                .subList(1, args.length).contains(section);
        try {
            if (runs.test("hotLoop")) {
                report.hotLoop();
            }
            if (runs.test("sqliteLoad")) {
                report.sqliteLoad(dir);
            }
            if (runs.test("coldStart")) {
                report.coldStart(dir);
            }
            if (runs.test("smallSets")) {
                report.smallSets();
            }
            if (runs.test("isolation")) {
                report.isolation();
            }
            if (runs.test("aarch64")) {
                report.aarch64(dir);
            }
            if (runs.test("scale")) {
                report.scale();
            }
        } finally {
            Fixtures.delete(dir);
        }
        report.print();
    }

    /** Target 1: the relocation loop alone, as a share of the C loop's relocations per second. */
    private void hotLoop() throws RunnerException {
        Map<String, Figure> score = jmh("dev.jdyld.link.x86_64.RelocationLoopBenchmark");
        double jdyld = score.get("jdyldLoop").median();
        double c = score.get("cLoop").median();
        row("hot relocation loop (sqlite mix)", score.get("jdyldLoop").show("%.2f") + " ns/reloc vs C "
                + score.get("cLoop").show("%.2f"), "≥ 0.50 of C", c / jdyld, c / jdyld >= 0.5);
    }

    /** Target 2: a warm whole load of the SQLite program against llvm-jitlink's link time. */
    private void sqliteLoad(Path dir) throws Exception {
        Map<String, Figure> score = jmh(PACKAGE + "SqliteLoadBenchmark");
        double jdyld = score.get("loadAndClose").median();
        Path main = sqliteProgram(dir);
        List<Double> links = new ArrayList<>();
        Pattern link = Pattern.compile("([0-9.]+) \\([ 0-9.]+%\\)\\s+time to link object files");
        for (int i = 0; i < PROCESS_RUNS; i++) {
            String output = Processes.capture(List.of("llvm-jitlink-14", "-noexec", "-show-times", main.toString(), SQLITE.toString()));
            Matcher m = link.matcher(output);
            if (!m.find()) {
                throw new IOException("no link time in llvm-jitlink's output:\n" + output);
            }
            links.add(Double.parseDouble(m.group(1)) * 1000); // the wall-time column comes last on the line
        }
        double llvm = Figure.of(links).median();
        row("warm load of SQLite (main.o + libsqlite3.a)", score.get("loadAndClose").show("%.2f") + " ms vs llvm-jitlink "
                + Figure.of(links).show("%.2f") + " ms", "≤ 0.25", jdyld / llvm, jdyld / llvm <= 0.25);
    }

    /** Target 3: whole processes, cold: jdyld run against llvm-jitlink, jdyld --help against a JVM hello world. */
    private void coldStart(Path dir) throws Exception {
        Path main = sqliteProgram(dir);
        String jdyld = root.resolve("bin/jdyld").toString();
        Processes.capture(List.of(jdyld, "--help")); // builds and records the AOT cache if needed: not a cold run to count
        Figure[] run = Processes.paired(List.of(jdyld, "run", main.toString(), SQLITE.toString()),
                List.of("llvm-jitlink-14", main.toString(), SQLITE.toString()));
        row("cold `jdyld run` of the SQLite program", run[0].show("%.3f") + " s vs llvm-jitlink " + run[1].show("%.3f")
                + " s", "≤ 2 (1.5)", run[0].median() / run[1].median(), run[0].median() / run[1].median() <= 2);
        Figure[] isolated = Processes.paired(List.of(jdyld, "run", "--isolate", main.toString(), SQLITE.toString()),
                List.of("llvm-jitlink-14", "-oop-executor=" + oopExecutor(), main.toString(), SQLITE.toString()));
        row("cold `jdyld run --isolate` of the SQLite program", isolated[0].show("%.3f") + " s vs llvm-jitlink"
                + " -oop-executor " + isolated[1].show("%.3f") + " s", "", isolated[0].median() / isolated[1].median(), true);
        Path hello = Fixtures.write(dir.resolve("Hello.java"),
                "public class Hello { public static void main(String[] a) { System.out.println(\"hello\"); } }\n");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Processes.capture(List.of(Path.of(System.getProperty("java.home"), "bin", "javac").toString(), "-d", dir.toString(),
                hello.toString()));
        Figure[] help = Processes.paired(List.of(jdyld, "--help"),
                List.of(java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", dir.toString(), "Hello"));
        row("cold `jdyld --help`", help[0].show("%.3f") + " s vs java hello " + help[1].show("%.3f") + " s", "≤ 2",
                help[0].median() / help[1].median(), help[0].median() / help[1].median() <= 2);
    }

    /** Targets 4 and 5: small sets' throughput on one and two threads, and what each open set costs. */
    private void smallSets() throws RunnerException {
        // Its own warm-up and measurement: C2 needs its eight iterations for the load path.
        Map<String, Figure> score = jmh(PACKAGE + "SmallSetBenchmark", false);
        for (String mapping : List.of("plain", "dual")) {
            String mode = mapping.equals("plain") ? "" : ", dual mapping";
            Figure oneThread = score.get("loadCallClose1Thread[" + mapping + "]");
            Figure twoThreads = score.get("loadCallClose2Threads[" + mapping + "]");
            double one = oneThread.median();
            double two = twoThreads.median();
            row("small sets: load+call+close, 1 thread" + mode, oneThread.show("%,.0f") + " ops/s", "≥ 20,000",
                    one / 20_000, one >= 20_000);
            row("small sets: 2 threads vs 1" + mode, twoThreads.show("%,.0f") + " vs " + oneThread.show("%,.0f")
                    + " ops/s", "≥ 1.5", two / one, two / one >= 1.5);
            double committed = score.get("footprint[" + mapping + "]:committedBytesPerSet").median();
            // The tiny set's content (a few bytes of code and unwind table) rounded up to one page.
            row("small sets: native bytes committed per open set" + mode, String.format("%,.0f B", committed),
                    "≤ 4,096", committed / 4096, committed <= 4096);
            double heap = score.get("footprint[" + mapping + "]:heapBytesPerSet").median();
            row("small sets: Java heap retained per open set" + mode, String.format("%,.0f B", heap), "", Double.NaN,
                    true);
        }
    }

    /** What isolation costs: a call and a tiny set's load, call and close, through the child against in process. */
    private void isolation() throws RunnerException {
        Map<String, Figure> score = jmh(PACKAGE + "ExecutorBenchmark");
        Figure inProcess = score.get("call[in-process]");
        Figure child = score.get("call[child]");
        row("call of int f(int): child executor vs in process", child.show("%.2f") + " µs vs " + inProcess.show("%.3f")
                + " µs", "", child.median() / inProcess.median(), true);
        Figure childSets = score.get("loadCallClose[child]");
        Figure ownSets = score.get("loadCallClose[in-process]");
        row("small sets through the child executor: load+call+close", String.format("%,.0f", 1e6 / childSets.median())
                + " sets/s (" + String.format("%,.0f", 1e6 / childSets.max()) + "–" + String.format("%,.0f", 1e6
                / childSets.min()) + ") vs in process " + String.format("%,.0f", 1e6 / ownSets.median()), "",
                childSets.median() / ownSets.median(), true);
    }

    /**
     * AArch64 through its executor (qemu-user here): a warm load of the SQLite program against
     * the warm x86-64 load, and a cold run against the native link and run of the same objects,
     * where the cross toolchain and Debian's arm64 archive are installed. llvm-jitlink-14 is tried
     * on the same objects and its answer shown.
     */
    private void aarch64(Path dir) throws Exception {
        if (!Files.isExecutable(Path.of("/usr/bin/aarch64-linux-gnu-gcc")) || !Files.exists(Aarch64SqliteLoadBenchmark.SQLITE)) {
            row("AArch64 rows", "skipped: no aarch64-linux-gnu-gcc or arm64 libsqlite3.a (.ci/arm64-archives)", "", Double.NaN, true);
            return;
        }
        Map<String, Figure> score = jmh(PACKAGE + "Aarch64SqliteLoadBenchmark");
        Map<String, Figure> x86 = jmh(PACKAGE + "SqliteLoadBenchmark");
        Figure load = score.get("loadAndClose");
        row("AArch64: warm load of SQLite into the AArch64 executor", load.show("%.2f") + " ms vs x86-64 in process "
                + x86.get("loadAndClose").show("%.2f") + " ms", "", load.median() / x86.get("loadAndClose").median(), true);
        Path object = Fixtures.sqliteProgram(dir, "aarch64-linux-gnu-gcc", "main64.o");
        Path program = dir.resolve("main64");
        String sqlite = Aarch64SqliteLoadBenchmark.SQLITE.toString();
        List<String> link = List.of("aarch64-linux-gnu-gcc", "-o", program.toString(), object.toString(), sqlite, "-lm");
        List<String> run = List.of("qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", program.toString());
        String jdyld = root.resolve("bin/jdyld").toString();
        Figure[] cold = Processes.paired(List.of(jdyld, "run", "--target", "aarch64", object.toString(), sqlite),
                List.of("sh", "-c", Processes.shell(link) + " && " + Processes.shell(run)));
        row("AArch64: cold `jdyld run --target aarch64` of the SQLite program", cold[0].show("%.3f")
                + " s vs cross link + qemu run " + cold[1].show("%.3f") + " s", "", cold[0].median() / cold[1].median(), true);
        Process jitlink = new ProcessBuilder("llvm-jitlink-14", "-noexec", object.toString(), sqlite).redirectErrorStream(true)
                .start();
        String answer = new String(jitlink.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines()
                .filter(line -> !line.isBlank()).findFirst().orElse("");
        row("AArch64: llvm-jitlink-14 -noexec on the same objects", jitlink.waitFor() == 0 ? "links"
                : "fails: " + answer, "", Double.NaN, true);
    }

    /**
     * Issue 25's curve: the generated program ({@link LargeProgram}) at 2,000, 20,000 and 200,000
     * functions (12k, 120k and 1.2M relocations), cold {@code jdyld run} against mold's and GNU ld's
     * links of the same objects and one run of llvm-jitlink-14, stopped after a minute (LLVM 14's
     * JITLink takes minutes and gigabytes from 20k functions on; at 1.2M it runs only with
     * {@code JDYLD_BENCH_JITLINK_LARGE=1}); then the growth exponent of jdyld's time
     * per relocation, and names that collide in {@code String.hashCode} beside ordinary ones. The
     * objects are compiled once into {@code benchmarks/target/large} (the 200k program takes gcc
     * about five minutes) and reused.
     */
    private void scale() throws Exception {
        Path cache = root.resolve("benchmarks/target/large");
        String jdyld = root.resolve("bin/jdyld").toString();
        boolean mold = Files.isExecutable(Path.of("/usr/bin/mold"));
        int[] sizes = {2_000, 20_000, 200_000};
        double[] perRelocation = new double[sizes.length];
        long[] relocations = new long[sizes.length];
        for (int i = 0; i < sizes.length; i++) {
            List<Path> objects = LargeProgram.cached(cache, sizes[i], false);
            relocations[i] = LargeProgram.relocations(objects);
            List<String> files = objects.stream().map(Path::toString).toList();
            Figure run = Processes.repeated(Processes.concat(List.of(jdyld, "run"), files), 3);
            Figure ld = Processes.repeated(Processes.concat(List.of("gcc", "-o", cache.resolve("prog-ld").toString()), files), 3);
            String moldShown = "mold not installed (apt-get install mold)";
            double moldSeconds = Double.NaN;
            if (mold) {
                Figure linked = Processes.repeated(Processes.concat(List.of("gcc", "-fuse-ld=mold", "-o", cache.resolve("prog-mold").toString()),
                        files), 3);
                moldSeconds = linked.median();
                moldShown = "mold " + linked.show("%.2f") + " s";
            }
            // llvm-jitlink-14 is quadratic here (20k functions: minutes and gigabytes): one run, cut off at a minute.
            String jitlink = "llvm-jitlink skipped";
            if (sizes[i] < 200_000 || "1".equals(System.getenv("JDYLD_BENCH_JITLINK_LARGE"))) {
                double seconds = Processes.timeOnce(Processes.concat(List.of("llvm-jitlink-14"), files), 60);
                jitlink = Double.isNaN(seconds) ? "llvm-jitlink-14 > 60 s (stopped)" : String.format("llvm-jitlink-14 %.2f s", seconds);
            }
            perRelocation[i] = run.median() / relocations[i];
            boolean largest = sizes[i] == 200_000;
            double ratio = run.median() / moldSeconds;
            row(String.format("scale: %,d functions, %,d relocations", sizes[i], relocations[i]), "jdyld run "
                    + run.show("%.2f") + " s; " + moldShown + "; GNU ld " + ld.show("%.2f") + " s; " + jitlink,
                    largest ? "≤ 2 of mold, ≤ ld" : "", largest ? ratio : Double.NaN,
                    !largest || (ratio <= 2 && run.median() <= ld.median()));
            if (largest) {
                double jdyldRss = Processes.peakRssMiB(Processes.concat(List.of(jdyld, "run"), files));
                double ldRss = Processes.peakRssMiB(Processes.concat(List.of("gcc", "-o", cache.resolve("prog-ld").toString()), files));
                row("scale: peak RSS at 200,000 functions, jdyld run vs GNU ld", Double.isNaN(jdyldRss)
                        ? "not measured (apt-get install time)" : String.format("%.0f MiB vs %.0f MiB", jdyldRss, ldRss),
                        "≤ 1.5", jdyldRss / ldRss, jdyldRss / ldRss <= 1.5);
            }
        }
        // Whole processes: the JVM's start (about 0.25 s) is most of the smallest run, so the curve from
        // 120k is the one the work shows; both are printed.
        double exponent = 1 + Math.log(perRelocation[2] / perRelocation[1]) / Math.log((double) relocations[2] / relocations[1]);
        double whole = 1 + Math.log(perRelocation[2] / perRelocation[0]) / Math.log((double) relocations[2] / relocations[0]);
        row("scale: growth exponent of jdyld run, 120k to 1.2M relocations", String.format("%.2f (12k to 1.2M: %.2f; %.0f,"
                + " %.0f, %.0f ns per relocation)", exponent, whole, perRelocation[0] * 1e9, perRelocation[1] * 1e9,
                perRelocation[2] * 1e9), "≤ 1.1", exponent, exponent <= 1.1);
        // 34,000 functions: 102,000 names (a function, its data and its string each), the 100k.
        List<String> ordinary = LargeProgram.cached(cache, 34_000, false).stream().map(Path::toString).toList();
        List<String> colliding = LargeProgram.cached(cache, 34_000, true).stream().map(Path::toString).toList();
        Figure[] names = Processes.paired(Processes.concat(List.of(jdyld, "run"), colliding), Processes.concat(List.of(jdyld, "run"), ordinary));
        row("scale: 102,000 names with one String.hashCode vs ordinary names", names[0].show("%.2f") + " s vs "
                + names[1].show("%.2f") + " s", "small factor", names[0].median() / names[1].median(),
                names[0].median() / names[1].median() <= 3);
    }

    /** llvm-jitlink's out-of-process executor, beside llvm-jitlink-14. */
    private static String oopExecutor() {
        return Files.isExecutable(Path.of("/usr/bin/llvm-jitlink-executor-14")) ? "/usr/bin/llvm-jitlink-executor-14"
                : "/usr/lib/llvm-14/bin/llvm-jitlink-executor";
    }

    private Path sqliteProgram(Path dir) throws IOException, InterruptedException {
        Path object = dir.resolve("main.o");
        return Files.exists(object) ? object : Fixtures.sqliteProgram(dir, "gcc", "main.o");
    }

    /** For the benchmark class named {@code benchmark}: method name → its iterations (in the benchmark's own unit). */
    private static Map<String, Figure> jmh(String benchmark) throws RunnerException {
        return jmh(benchmark, true);
    }

    /** {@code shortRun}: 3 × 1 s of warm-up, 5 × 1 s measured, instead of the benchmark's own settings. */
    private static Map<String, Figure> jmh(String benchmark, boolean shortRun) throws RunnerException {
        Map<String, Figure> scores = jmhIfPresent(benchmark, shortRun);
        if (scores.isEmpty()) {
            throw new IllegalStateException("no JMH benchmark " + benchmark + " in this build");
        }
        return scores;
    }

    private static Map<String, Figure> jmhIfPresent(String benchmark, boolean shortRun) throws RunnerException {
        try {
            Class.forName(benchmark);
        } catch (ClassNotFoundException e) {
            return Map.of();
        }
        OptionsBuilder options = new OptionsBuilder();
        options.include(Pattern.quote(benchmark) + "\\.").forks(1)
                .jvmArgsAppend("--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow")
                .verbosity(VerboseMode.SILENT);
        if (shortRun) {
            options.warmupIterations(3).warmupTime(TimeValue.seconds(1))
                    .measurementIterations(5).measurementTime(TimeValue.seconds(1));
        }
        Collection<RunResult> results = new Runner(options.build()).run();
        Map<String, Figure> scores = new LinkedHashMap<>();
        for (RunResult result : results) {
            String label = result.getParams().getBenchmark();
            String params = result.getParams().getParamsKeys().isEmpty() ? "" : result.getParams().getParamsKeys()
                    .stream().map(result.getParams()::getParam).collect(java.util.stream.Collectors.joining(",", "[", "]"));
            String name = label.substring(label.lastIndexOf('.') + 1) + params;
            scores.put(name, figure(result.getPrimaryResult().getStatistics()));
            result.getSecondaryResults().forEach((key, value) -> scores.put(name + ":" + key, figure(value.getStatistics())));
        }
        return scores;
    }

    private static Figure figure(org.openjdk.jmh.util.Statistics statistics) {
        return new Figure(statistics.getPercentile(50), statistics.getMin(), statistics.getMax());
    }

    private void row(String figure, String measured, String target, double ratio, boolean met) {
        rows.add(new String[] {figure, measured, target, Double.isNaN(ratio) ? "" : String.format("%.2f", ratio),
                target.isEmpty() ? "" : met ? "met" : "NOT met"});
    }

    private void print() {
        String[] header = {"figure", "measured", "target", "ratio", ""};
        int[] width = new int[header.length];
        Arrays.fill(width, 1); // "%-0s" is no format: a column with nothing in it is one space wide
        List<String[]> all = new ArrayList<>(List.<String[]>of(header));
        all.addAll(rows);
        for (String[] row : all) {
            for (int c = 0; c < row.length; c++) {
                width[c] = Math.max(width[c], row[c].length());
            }
        }
        StringBuilder out = new StringBuilder("\n");
        for (String[] row : all) {
            for (int c = 0; c < row.length; c++) {
                out.append(String.format("%-" + width[c] + "s", row[c])).append(c + 1 < row.length ? " | " : "\n");
            }
            if (row == header) {
                Arrays.stream(width).forEach(w -> out.append("-".repeat(w)).append("-+-"));
                out.setLength(out.length() - 3);
                out.append('\n');
            }
        }
        System.out.print(out);
    }
}
