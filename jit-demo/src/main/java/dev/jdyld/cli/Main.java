package dev.jdyld.cli;

import dev.jdyld.jit.LinkException;
import dev.jdyld.memory.MemoryException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.util.Arrays;
import java.util.List;

/** The {@code jdyld} command line. */
@Command(name = "jdyld", mixinStandardHelpOptions = true, version = "jdyld 0.1.0",
        description = "Loads relocatable x86-64 ELF objects into memory, links them and runs them.",
        subcommands = {LayoutCommand.class, DisasmCommand.class, DemoCommand.class, ReplCommand.class,
                CommandLine.HelpCommand.class})
public final class Main {
    public static void main(String[] args) {
        int status;
        try {
            status = execute(args);
        } catch (Throwable t) { // an Error, which picocli's handler never sees: still one line
            System.err.println("jdyld: internal error: " + t.toString().replace('\n', ' ') + ", please report");
            status = 1;
        }
        System.exit(status);
    }

    static int execute(String... args) {
        // Everything after the first "--" of `run` belongs to the loaded program, options included.
        List<String> programArguments = List.of();
        String[] jdyldArguments = args;
        if (args.length > 0 && args[0].equals("run")) {
            int separator = Arrays.asList(args).indexOf("--");
            if (separator >= 0) {
                programArguments = List.of(Arrays.copyOfRange(args, separator + 1, args.length));
                jdyldArguments = Arrays.copyOfRange(args, 0, separator);
            }
        }
        CommandLine commandLine = new CommandLine(new Main());
        commandLine.addSubcommand("run", new RunCommand(programArguments));
        commandLine.setExecutionExceptionHandler((exception, cmd, parseResult) -> {
            if (exception instanceof LinkException || exception instanceof MemoryException) {
                cmd.getErr().println("jdyld: " + exception.getMessage());
            } else {
                // A bug of jdyld, not of the input: still one line, naming what was being processed.
                List<String> files = cmd.getParseResult().matchedPositionals().stream()
                        .flatMap(positional -> positional.stringValues().stream()).toList();
                cmd.getErr().println("jdyld: " + (files.isEmpty() ? "" : String.join(" ", files) + ": ")
                        + "internal error: " + exception.toString().replace('\n', ' ') + ", please report");
            }
            cmd.getErr().flush();
            return 1;
        });
        return commandLine.execute(jdyldArguments);
    }
}
