package dev.jdyld.cli;

import dev.jdyld.core.ExecutorCrashedException;
import dev.jdyld.jit.JitLinker;
import dev.jdyld.jit.LoadedSet;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code jdyld run}: load objects as one set and call their {@code main}. */
final class RunCommand extends Main.LoadingCommand {
    String entry = "main";
    private final List<String> programArguments;

    RunCommand(List<String> programArguments) {
        super(new Main.Option(null, "--entry", "SYMBOL", "Entry point (default: main)."));
        this.programArguments = programArguments;
    }

    @Override
    String name() {
        return "run";
    }

    @Override
    String[] description() {
        return new String[] {
                "Loads FILEs as one set and calls main(argc, argv, envp); exits with main's return value.",
                "Arguments after -- are passed to the program; argv[0] is the first FILE."};
    }

    @Override
    String usageTail() {
        return " [-- ARG...]";
    }

    @Override
    void setOwn(String value) {
        entry = value; // --entry
    }

    @Override
    int call() {
        JitLinker linker = linkerOptions.builder().build();
        List<Path> files = files();
        LoadedSet set = LinkerOptions.load(linker, files);
        if (set.layout().executableStack() != null) {
            System.err.println("jdyld: warning: " + set.layout().executableStack()
                    + "; the threads that run it get an executable stack");
        }
        List<String> argv = new ArrayList<>();
        argv.add(positionals.get(0));
        argv.addAll(programArguments);
        if (!linkerOptions.isolate) {
            // The set stays loaded: handlers the program registered (atexit) may run at process exit.
            return set.runMain(entry, argv);
        }
        try {
            return set.runMain(entry, argv);
        } catch (ExecutorCrashedException e) {
            // As a shell reports a child's death, and with its status: 128 + the signal.
            String report = e.getMessage();
            int end = report.indexOf("; the executor");
            System.err.println("jdyld: " + files.get(0) + ": " + (end < 0 ? report : report.substring(0, end)));
            return 128 + e.signal();
        } finally {
            linker.close(); // the program's exit handlers run in the child, then it exits: all its output is out
        }
    }
}
