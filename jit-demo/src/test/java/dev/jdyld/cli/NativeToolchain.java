package dev.jdyld.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Test support: compiles C with the host gcc, links and runs the same objects natively, and runs
 * them through {@code jdyld run} in a child JVM.
 *
 * <p>Every child process has its stdout and stderr redirected to files (no pipe deadlocks, and the
 * loaded program's C stdio sees a non-terminal, i.e. fully buffered stdout, so a missing flush at
 * exit shows up as lost output) and is killed, with its descendants, when it overruns its timeout.
 */
final class NativeToolchain {

    /** Timeout for one {@code jdyld run}. */
    static final Duration JDYLD_TIMEOUT = Duration.ofSeconds(60);
    /** Timeout for gcc, as, and the native programs. */
    static final Duration NATIVE_TIMEOUT = Duration.ofSeconds(60);

    /** The CLI entry point under test. */
    static final String MAIN_CLASS = "dev.jdyld.cli.Main";

    /**
     * Set this system property (e.g. {@code -Djdyld.test.workdir=/tmp/jdyld-tests}) to keep the
     * compiled objects and the generated sources after the run, to reproduce a failure by hand.
     */
    static final String WORKDIR_PROPERTY = "jdyld.test.workdir";

    private NativeToolchain() {}

    /** Result of one child process. */
    record Result(List<String> command, int exitCode, String stdout, String stderr, boolean timedOut) {

        /** The command as a shell line (single-quoted where needed), for failure messages. */
        String commandLine() {
            return shellLine(command);
        }

        /** A multi-line description: command, exit code, stderr (and stdout, truncated). */
        String describe() {
            return "command: " + commandLine()
                    + "\nexit code: " + exitCode + (timedOut ? " (TIMED OUT, killed)" : "")
                    + "\n--- stderr ---\n" + truncate(stderr, 8000)
                    + "\n--- stdout ---\n" + truncate(stdout, 4000)
                    + "\n--------------";
        }
    }

    /** Objects compiled from one set of sources with one set of flags. */
    record Objects(List<Path> files, List<String> flags) {

        /** True if the objects are position independent (-fPIC or -fPIE): link them with -pie. */
        boolean positionIndependent() {
            return flags.stream().anyMatch(f -> f.equals("-fPIC") || f.equals("-fPIE")
                    || f.equals("-fpic") || f.equals("-fpie"));
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Work directories

    /**
     * A fresh directory for a test class: under {@value #WORKDIR_PROPERTY} if set (kept), else a
     * new temporary directory that the caller deletes with {@link #deleteRecursively}.
     */
    static Path newWorkDir(String prefix) {
        try {
            String keep = System.getProperty(WORKDIR_PROPERTY);
            if (keep != null && !keep.isBlank()) {
                Path root = Files.createDirectories(Path.of(keep).toAbsolutePath());
                return Files.createTempDirectory(root, prefix + "-");
            }
            return Files.createTempDirectory(prefix + "-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** True if work directories are to be kept (see {@link #WORKDIR_PROPERTY}). */
    static boolean keepWorkDirs() {
        String keep = System.getProperty(WORKDIR_PROPERTY);
        return keep != null && !keep.isBlank();
    }

    static void deleteRecursively(Path dir) {
        if (dir == null || !Files.exists(dir) || keepWorkDirs()) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Compiling and linking

    /**
     * Compiles each source with {@code gcc -c <flags> -I<source dir>} into {@code outDir}, one
     * object per source, named after it.
     */
    static Objects compile(List<Path> sources, Path outDir, List<String> flags) {
        return compile("gcc", sources, outDir, flags);
    }

    /** {@link #compile(List, Path, List)} with another C compiler (e.g. {@code clang-14}). */
    static Objects compile(String compiler, List<Path> sources, Path outDir, List<String> flags) {
        List<Path> objects = new ArrayList<>();
        for (Path src : sources) {
            String base = src.getFileName().toString().replaceFirst("\\.(c|cpp|s)$", "");
            Path obj = outDir.resolve(base + ".o");
            List<String> cmd = new ArrayList<>(List.of(compiler, "-c"));
            cmd.addAll(flags);
            Path dir = src.toAbsolutePath().getParent();
            if (dir != null) {
                cmd.add("-I" + dir);
            }
            cmd.addAll(List.of("-o", obj.toString(), src.toString()));
            checked(run(cmd, outDir, NATIVE_TIMEOUT), compiler + " -c");
            objects.add(obj);
        }
        return new Objects(List.copyOf(objects), List.copyOf(flags));
    }

    /** Assembles one file with the GNU assembler ({@code as --64}). */
    static Path assemble(Path source, Path obj) {
        checked(run(List.of("as", "--64", "-o", obj.toString(), source.toString()),
                obj.toAbsolutePath().getParent(), NATIVE_TIMEOUT), "as");
        return obj;
    }

    /**
     * Links objects natively with gcc: {@code -pie} for position-independent objects, else
     * {@code -no-pie}; then {@code -l<lib>} for each lib, then {@code -lm -lpthread}.
     */
    static Path link(Objects objects, Path exe, List<String> libs) {
        return link("gcc", objects, exe, libs);
    }

    /** {@link #link(Objects, Path, List)} with another compiler driver (e.g. {@code aarch64-linux-gnu-g++}). */
    static Path link(String driver, Objects objects, Path exe, List<String> libs) {
        List<String> cmd = new ArrayList<>(List.of(driver, objects.positionIndependent() ? "-pie" : "-no-pie",
                "-o", exe.toString()));
        objects.files().forEach(o -> cmd.add(o.toString()));
        libs.forEach(l -> cmd.add("-l" + l));
        cmd.addAll(List.of("-lm", "-lpthread"));
        checked(run(cmd, exe.toAbsolutePath().getParent(), NATIVE_TIMEOUT), "gcc link");
        return exe;
    }

    private static void checked(Result r, String what) {
        if (r.timedOut() || r.exitCode() != 0) {
            throw new IllegalStateException(what + " failed\n" + r.describe());
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Running

    /** Runs a natively linked program with arguments, in {@code workDir}. */
    static Result runNative(Path exe, List<String> args, Path workDir) {
        List<String> cmd = new ArrayList<>();
        cmd.add(exe.toString());
        cmd.addAll(args);
        return run(cmd, workDir, NATIVE_TIMEOUT);
    }

    /** The java launcher of the running test JVM (JDK 25). */
    static String javaCommand() {
        Optional<String> cmd = ProcessHandle.current().info().command();
        return cmd.orElseGet(() -> Path.of(System.getProperty("java.home"), "bin", "java").toString());
    }

    /**
     * The JVM part of a {@code jdyld} command line: java, native access, the test class path, and
     * an hs_err file location inside {@code workDir} so a JVM crash leaves evidence there.
     */
    static List<String> jdyldCommand(Path workDir) {
        return new ArrayList<>(List.of(
                javaCommand(),
                "--enable-native-access=ALL-UNNAMED",
                "-Xss4m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-XX:ErrorFile=" + workDir.toAbsolutePath().resolve("hs_err_pid%p.log"),
                "-cp", System.getProperty("java.class.path"),
                MAIN_CLASS));
    }

    /**
     * Runs {@code jdyld run <options> <files> [-- <args>]} in a child JVM with working directory
     * {@code workDir}; {@code --} is passed only if there are program arguments.
     */
    static Result runJdyld(List<String> options, List<Path> files, List<String> args, Path workDir) {
        return runJdyld(options, files, args, workDir, Map.of());
    }

    /** {@link #runJdyld(List, List, List, Path)} with extra environment variables. */
    static Result runJdyld(List<String> options, List<Path> files, List<String> args, Path workDir,
            Map<String, String> env) {
        List<String> cmd = jdyldCommand(workDir);
        cmd.add("run");
        cmd.addAll(options);
        files.forEach(f -> cmd.add(f.toString()));
        if (!args.isEmpty()) {
            cmd.add("--");
            cmd.addAll(args);
        }
        return run(cmd, workDir, JDYLD_TIMEOUT, env);
    }

    /** hs_err_pid*.log files in a directory (JVM crash reports). */
    static List<Path> crashReports(Path dir) {
        try (Stream<Path> list = Files.list(dir)) {
            return list.filter(p -> p.getFileName().toString().startsWith("hs_err_pid")).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Runs a command with stdin empty and stdout/stderr captured through files; kills the process
     * tree after the timeout.
     */
    static Result run(List<String> command, Path workDir, Duration timeout) {
        return run(command, workDir, timeout, Map.of());
    }

    /** {@link #run(List, Path, Duration)} with extra environment variables. */
    static Result run(List<String> command, Path workDir, Duration timeout, Map<String, String> env) {
        Path out = null;
        Path err = null;
        try {
            Path dir = workDir != null ? workDir : Path.of(System.getProperty("java.io.tmpdir"));
            out = Files.createTempFile(dir, "stdout-", ".txt");
            err = Files.createTempFile(dir, "stderr-", ".txt");
            ProcessBuilder pb = new ProcessBuilder(command)
                    .directory(dir.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile());
            // Both the native and the jdyld run see this marker (host-data-getopt looks for it in environ).
            pb.environment().put("JDYLD_TEST_MARKER", "differential");
            pb.environment().putAll(env);
            Process p = pb.start();
            boolean finished = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!finished) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
            int code = finished ? p.exitValue() : -1;
            return new Result(List.copyOf(command), code, Files.readString(out, StandardCharsets.ISO_8859_1),
                    Files.readString(err, StandardCharsets.ISO_8859_1), !finished);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + shellLine(command), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + shellLine(command), e);
        } finally {
            deleteQuietly(out);
            deleteQuietly(err);
        }
    }

    /** True if an executable of that name is on the PATH. */
    static boolean onPath(String tool) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    private static void deleteQuietly(Path p) {
        if (p != null) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // best effort
            }
        }
    }

    static String shellLine(List<String> command) {
        return command.stream().map(NativeToolchain::shellQuote).collect(Collectors.joining(" "));
    }

    private static String shellQuote(String s) {
        if (!s.isEmpty() && s.matches("[A-Za-z0-9_@%+=:,./-]+")) {
            return s;
        }
        return "'" + s.replace("'", "'\\''") + "'";
    }

    private static String truncate(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max) + "\n... (" + (s.length() - max) + " more chars)";
    }
}
