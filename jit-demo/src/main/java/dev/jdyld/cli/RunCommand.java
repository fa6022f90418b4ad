package dev.jdyld.cli;

import dev.jdyld.jit.JitLinker;
import dev.jdyld.jit.LoadedSet;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code jdyld run}: load objects as one set and call their {@code main}. */
@Command(name = "run", description = {
        "Loads FILEs as one set and calls main(argc, argv, envp); exits with main's return value.",
        "Arguments after -- are passed to the program; argv[0] is the first FILE."})
final class RunCommand implements Callable<Integer> {
    @Mixin
    LinkerOptions linkerOptions = new LinkerOptions();

    @Option(names = "--entry", paramLabel = "SYMBOL", defaultValue = "main", description = "Entry point (default: ${DEFAULT-VALUE}).")
    String entry;

    @Parameters(paramLabel = "FILE", arity = "1..*", description = "Objects to load.")
    List<Path> files = new ArrayList<>();

    private final List<String> programArguments;

    RunCommand(List<String> programArguments) {
        this.programArguments = programArguments;
    }

    @Override
    public Integer call() {
        // What the gcc driver links by default besides libc and libm (already in the process):
        // libgcc_s, for _Unwind_* (C++ and Rust unwinding, backtraces).
        if (linkerOptions.libraries.stream().noneMatch(name -> name.contains("gcc_s"))) {
            linkerOptions.libraries.add("libgcc_s.so.1");
        }
        JitLinker linker = linkerOptions.builder().build();
        LoadedSet set = linker.load(files);
        List<String> argv = new ArrayList<>();
        argv.add(files.get(0).toString());
        argv.addAll(programArguments);
        // The set stays loaded: handlers the program registered (atexit) may run at process exit.
        return set.runMain(entry, argv);
    }
}
