package dev.jdyld.cli;

import dev.jdyld.cli.NativeToolchain.Result;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** What a person meets first on the command line: wrong usage, missing things, C++ without flags. */
class NewUserTest {
    private static Path dir;

    @BeforeAll
    static void createDir() {
        dir = NativeToolchain.newWorkDir("jdyld-newuser");
    }

    @AfterAll
    static void deleteDir() {
        NativeToolchain.deleteRecursively(dir);
    }

    private static Result jdyld(String... args) {
        List<String> command = NativeToolchain.jdyldCommand(dir);
        command.addAll(List.of(args));
        return NativeToolchain.run(command, dir, Duration.ofSeconds(120));
    }

    private static Path compile(String name, String compiler, String extension, String source) throws IOException {
        Path file = Files.writeString(dir.resolve(name + extension), source);
        Path object = dir.resolve(name + ".o");
        NativeToolchain.run(List.of(compiler, "-c", "-O1", file.toString(), "-o", object.toString()), dir,
                Duration.ofSeconds(120));
        return object;
    }

    @Test
    void aUsageErrorIsOneLineAndWhereHelpIsWithStatus2() {
        Result r = jdyld("run");
        assertThat(r.exitCode()).as(r::describe).isEqualTo(2);
        assertThat(r.stderr().lines().toList()).as(r::describe).hasSize(2);
        assertThat(r.stderr().lines().toList().get(0)).startsWith("jdyld: ");
        assertThat(r.stderr().lines().toList().get(1)).isEqualTo("Try 'jdyld run --help'.");
        Result unknown = jdyld("--frobnicate");
        assertThat(unknown.exitCode()).isEqualTo(2);
        assertThat(unknown.stderr()).isEqualTo("jdyld: Unknown option: '--frobnicate'\nTry 'jdyld --help'.\n");
    }

    @Test
    void aMissingFileSaysWhy() {
        Result r = jdyld("run", "nosuch.o");
        assertThat(r.exitCode()).as(r::describe).isEqualTo(1);
        assertThat(r.stderr()).as(r::describe).contains("nosuch.o").contains("No such file or directory");
    }

    @Test
    void aLibraryThatCannotBeOpenedIsReportedWithTheLoadersWholeMessage() throws IOException {
        Path object = compile("plain", "gcc", ".c", "int main(void) { return 0; }\n");
        Result r = jdyld("run", "--lib", "nosuchlib", object.toString());
        assertThat(r.exitCode()).as(r::describe).isEqualTo(1);
        assertThat(r.stderr()).as(r::describe).contains("cannot open host library nosuchlib: ")
                .contains("cannot open shared object file: No such file or directory")
                .matches("(?s)[\\x20-\\x7e\\n]*"); // printable: the loader's text, not freed memory
    }

    @Test
    void disassemblingAFunctionTheSetDoesNotDefineIsAnError() throws IOException {
        Path object = compile("one", "gcc", ".c", "int one(void) { return 1; }\n");
        Result r = jdyld("disasm", "--symbol", "nosuch", object.toString());
        assertThat(r.exitCode()).as(r::describe).isEqualTo(1);
        assertThat(r.stderr()).as(r::describe).contains("no function named 'nosuch'");
    }

    /** As g++ links the C++ runtime by default, run, layout and disasm find it without --lib. */
    @Test
    void cxxNeedsNoLibOptionAndLayoutAcceptsWhatRunAccepts() throws IOException {
        Path object = compile("hello", "g++", ".cpp", """
                #include <iostream>
                #include <stdexcept>
                int main() {
                    try { throw std::runtime_error("caught"); } catch (const std::exception &e) { std::cout << e.what() << "\\n"; }
                    return 3;
                }
                """);
        Result run = jdyld("run", object.toString());
        assertThat(run.stdout()).as(run::describe).isEqualTo("caught\n");
        assertThat(run.exitCode()).as(run::describe).isEqualTo(3);
        Result layout = jdyld("layout", object.toString());
        assertThat(layout.exitCode()).as(layout::describe).isZero();
        List<String> disasm = new ArrayList<>(List.of("disasm", "--symbol", "main", object.toString()));
        Result code = jdyld(disasm.toArray(String[]::new));
        assertThat(code.exitCode()).as(code::describe).isZero();
        assertThat(code.stdout()).contains("<main>:");
    }
}
