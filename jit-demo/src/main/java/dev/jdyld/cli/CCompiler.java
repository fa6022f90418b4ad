package dev.jdyld.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The C compiler the REPL runs ({@code $CC}, else {@code gcc}): {@code -c -fPIC} into an object
 * in memory, with the prototypes of the functions the snippet defines ({@code -aux-info}) so
 * later snippets can call them.
 */
final class CCompiler {
    /**
     * @param object      the object's bytes, or null when compiling failed
     * @param diagnostics what the compiler printed
     * @param prototypes  functions the snippet defines, with their prototypes
     */
    record Result(byte[] object, String diagnostics, List<Prototype> prototypes) {
        boolean ok() {
            return object != null;
        }
    }

    /** @param name the function's name; @param declaration {@code extern int sq (int x);} */
    record Prototype(String name, String declaration) {}

    /** Lines {@code -aux-info} writes for functions defined ({@code F}) in the user's text. */
    private static final Pattern DEFINED = Pattern.compile("^/\\* input:\\d+:[NO]F \\*/ (extern .*?;)");
    private static final Pattern FUNCTION_NAME = Pattern.compile("(\\w+) \\(");
    // No -w: it silences the warnings -Werror= makes errors too, and an undeclared function must be
    // one (a pointer result would be cut to an int). Warnings of a snippet that compiles are not shown.
    private static final List<String> FLAGS = List.of("-c", "-fPIC", "-O1",
            "-Werror=implicit-function-declaration", "-Werror=implicit-int", "-Werror=return-type");

    private final Path dir;
    private final String compiler;

    CCompiler(Path dir) {
        this.dir = dir;
        String cc = System.getenv("CC");
        this.compiler = cc == null || cc.isBlank() ? "gcc" : cc;
    }

    Result compile(String name, String source) {
        Path c = dir.resolve(name + ".c");
        Path o = dir.resolve(name + ".o");
        Path aux = dir.resolve(name + ".aux");
        try {
            Files.writeString(c, source);
            List<String> command = new ArrayList<>(List.of(compiler));
            command.addAll(FLAGS);
            // Snippets compile in a directory of their own: #include "x.h" looks where the user is.
            command.addAll(List.of("-iquote", System.getProperty("user.dir")));
            if (compiler.contains("gcc")) {
                command.addAll(List.of("-aux-info", aux.toString()));
            }
            command.addAll(List.of(c.toString(), "-o", o.toString()));
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            // The wrapper's name is jdyld's, not the user's: its "In function" lines go.
            String diagnostics = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8)
                    .replaceAll("(?m)^[^\\n]*: In function [\u2018']__jdyld_\\d+[\u2019']:\\R", "");
            if (process.waitFor() != 0) {
                return new Result(null, diagnostics, List.of());
            }
            return new Result(Files.readAllBytes(o), diagnostics, prototypes(aux));
        } catch (IOException e) {
            return new Result(null, "cannot run " + compiler + ": " + e.getMessage(), List.of());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(null, "interrupted", List.of());
        } finally {
            for (Path file : List.of(c, o, aux)) {
                try {
                    Files.deleteIfExists(file);
                } catch (IOException ignored) {
                    // a temporary file the next snippet overwrites anyway
                }
            }
        }
    }

    private static List<Prototype> prototypes(Path aux) throws IOException {
        List<Prototype> prototypes = new ArrayList<>();
        if (!Files.exists(aux)) {
            return prototypes;
        }
        for (String line : Files.readAllLines(aux)) {
            Matcher defined = DEFINED.matcher(line);
            if (defined.find()) {
                Matcher name = FUNCTION_NAME.matcher(defined.group(1));
                if (name.find()) {
                    prototypes.add(new Prototype(name.group(1), defined.group(1)));
                }
            }
        }
        return prototypes;
    }
}
