package dev.jdyld.cli;

import dev.jdyld.core.LinkException;
import dev.jdyld.memory.MemoryException;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The {@code jdyld} command line, parsed here by hand: subcommands with GNU-style options
 * ({@code --name value}, {@code --name=value}, {@code -x value}, {@code -xvalue}), positional
 * files, {@code --} ending the options, and help made from each command's own option table.
 *
 * <p>Exit codes: what the command returns (for {@code run}, {@code main}'s value); 1 when it
 * fails, with one {@code jdyld: } line on stderr; 2 for a usage error, with the message and where
 * help is ({@code Try 'jdyld run --help'.}) on stderr, as GNU tools do.
 */
public final class Main {
    static final String VERSION = "jdyld 0.1.0";
    private static final String[] COMMANDS = {"run", "layout", "disasm", "demo", "repl"};
    /** Where descriptions start in an option or command table, and the width text is wrapped to. */
    private static final int INDENT = 23;
    private static final int WIDTH = 80;

    private Main() {}

    public static void main(String[] args) {
        if ("large".equals(System.getProperty("jdyld.aotTraining"))) {
            exit(trainForLargeLoads());
        }
        if (Boolean.getBoolean("jdyld.aotTraining")) {
            // bin/jdyld's AOT training run (the demo) also loads what help and the parser use.
            usage();
            for (String name : COMMANDS) {
                usage(command(name, List.of()));
            }
            parse(new RunCommand(List.of()), new String[] {"run", "--entry", "main", "-lm", "--lib=m", "x.o"});
        }
        int status;
        try {
            status = execute(args);
        } catch (Throwable t) { // an Error: still one line
            System.err.println("jdyld: internal error: " + t.toString().replace('\n', ' ') + ", please report");
            status = 1;
        }
        exit(status);
    }

    /**
     * bin/jdyld's training run for large loads: {@code run} of 100,000 generated functions in 10
     * objects ({@link dev.jdyld.cli.jit.LargeTraining}), in a temporary directory removed after.
     */
    private static int trainForLargeLoads() {
        java.nio.file.Path dir = null;
        try {
            dir = java.nio.file.Files.createTempDirectory("jdyld-training");
            List<String> args = new ArrayList<>(List.of("run"));
            for (java.nio.file.Path object : dev.jdyld.cli.jit.LargeTraining.write(dir, 10, 10_000)) {
                args.add(object.toString());
            }
            int status = execute(args.toArray(String[]::new));
            DemoCommand.removeDirectory(dir);
            return status;
        } catch (java.io.IOException e) {
            System.err.println("jdyld: training in " + dir + ": " + e);
            return 1;
        }
    }

    /** Set when something this run did registered a shutdown hook: the GDB interface's temporary library. */
    private static volatile boolean shutdownHooksNeeded;

    /** Makes {@link #exit} run the JVM's shutdown hooks. */
    static void needShutdownHooks() {
        shutdownHooksNeeded = true;
    }

    /**
     * Ends the process. {@code System.exit} first sets up the JDK's System.Logger (it logs
     * Runtime.exit at debug level): ~9 ms of a ~140 ms cold run. So unless a shutdown hook was
     * registered, the streams are flushed and the JVM halted; the C library's exit handlers (loaded
     * code's {@code atexit}) run either way, when the JVM calls {@code exit}.
     */
    private static void exit(int status) {
        if (shutdownHooksNeeded) {
            System.exit(status);
        }
        System.out.flush();
        System.err.flush();
        Runtime.getRuntime().halt(status);
    }

    /** One option of a command: its short name (or null), long name, its value's label (null for a flag), description. */
    record Option(String shortName, String longName, String label, String description) {}

    /** A subcommand: its help, and what the parser hands it. */
    abstract static class Command {
        /** The positional arguments as given: what a failure message names as being processed. */
        final List<String> positionals = new ArrayList<>();

        /** The name on the command line. */
        abstract String name();

        /** Paragraphs of description; the first is the summary in {@code jdyld --help}. */
        abstract String[] description();

        /** Its options, in the order help lists them. */
        Option[] options() {
            return new Option[0];
        }

        /** The label of its positional arguments (at least one required), or null when it takes none. */
        String positionalLabel() {
            return null;
        }

        /** What follows the positional label in the usage line, e.g. {@code [-- ARG...]}. */
        String usageTail() {
            return "";
        }

        /** Applies the option called {@code longName} with its value (null for a flag). */
        void set(String longName, String value) {
            throw new IllegalStateException("no option " + longName);
        }

        /** Runs the command; its result is the exit code. */
        abstract int call() throws Exception;
    }

    /** A command that loads its FILEs as one set with the linker options and one option of its own. */
    abstract static class LoadingCommand extends Command {
        final LinkerOptions linkerOptions = new LinkerOptions();
        private final Option[] options;

        LoadingCommand(Option own) {
            options = LinkerOptions.with(own);
        }

        @Override
        Option[] options() {
            return options;
        }

        @Override
        String positionalLabel() {
            return "FILE";
        }

        @Override
        void set(String longName, String value) {
            if (!linkerOptions.set(longName, value)) {
                setOwn(value);
            }
        }

        /** Applies the command's own option (null for a flag). */
        abstract void setOwn(String value);

        /** The FILEs, in order. */
        java.util.List<java.nio.file.Path> files() {
            return positionals.stream().map(java.nio.file.Path::of).toList();
        }
    }

    /** A fresh instance of the command called {@code name}, or null. */
    private static Command command(String name, List<String> programArguments) {
        return switch (name) {
            case "run" -> new RunCommand(programArguments);
            case "layout" -> new LayoutCommand();
            case "disasm" -> new DisasmCommand();
            case "demo" -> new DemoCommand();
            case "repl" -> new ReplCommand();
            default -> null;
        };
    }

    static int execute(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        if (args.length == 0) {
            return usageError(err, "Missing required subcommand", null);
        }
        switch (args[0]) {
            case "-h", "--help" -> {
                out.print(usage());
                out.flush();
                return 0;
            }
            case "-V", "--version" -> {
                out.println(VERSION);
                out.flush();
                return 0;
            }
            case "help" -> {
                if (args.length == 1) {
                    out.print(usage());
                } else {
                    Command command = command(args[1], List.of());
                    if (command == null) {
                        return usageError(err, "Unknown subcommand '" + args[1] + "'.", null);
                    }
                    out.print(usage(command));
                }
                out.flush();
                return 0;
            }
            default -> { }
        }
        // Everything after the first "--" of `run` belongs to the loaded program, options included.
        List<String> programArguments = List.of();
        String[] jdyldArguments = args;
        if (args[0].equals("run")) {
            int separator = Arrays.asList(args).indexOf("--");
            if (separator >= 0) {
                programArguments = List.of(Arrays.copyOfRange(args, separator + 1, args.length));
                jdyldArguments = Arrays.copyOfRange(args, 0, separator);
            }
        }
        Command command = command(args[0], programArguments);
        if (command == null) {
            return usageError(err, (args[0].startsWith("-") ? "Unknown option: '" : "Unknown command: '") + args[0] + "'", null);
        }
        String problem = parse(command, jdyldArguments);
        if (problem != null) {
            if (problem.isEmpty()) { // --help
                out.print(usage(command));
                out.flush();
                return 0;
            }
            return usageError(err, problem, command);
        }
        try {
            return command.call();
        } catch (LinkException | MemoryException e) {
            err.println("jdyld: " + e.getMessage());
            err.flush();
            return 1;
        } catch (Exception e) {
            // A bug of jdyld, not of the input: still one line, naming what was being processed.
            err.println("jdyld: " + (command.positionals.isEmpty() ? "" : String.join(" ", command.positionals) + ": ")
                    + "internal error: " + e.toString().replace('\n', ' ') + ", please report");
            err.flush();
            return 1;
        }
    }

    /**
     * Hands {@code args[1..]} to {@code command}: null when they are all taken, "" for a request for
     * help, otherwise what is wrong.
     */
    private static String parse(Command command, String[] args) {
        Option[] options = command.options();
        boolean optionsEnded = false;
        for (int i = 1; i < args.length; i++) {
            String arg = args[i];
            if (optionsEnded || !arg.startsWith("-") || arg.equals("-")) {
                if (command.positionalLabel() == null) {
                    return "Unexpected argument: '" + arg + "'";
                }
                command.positionals.add(arg);
                continue;
            }
            if (arg.equals("--")) {
                optionsEnded = true;
                continue;
            }
            if (arg.equals("-h") || arg.equals("--help")) {
                return "";
            }
            String name = arg;
            String value = null;
            boolean attached = false;
            int equals = arg.indexOf('=');
            if (arg.startsWith("--") && equals > 0) {
                name = arg.substring(0, equals);
                value = arg.substring(equals + 1);
                attached = true;
            } else if (!arg.startsWith("--") && arg.length() > 2) { // -lm, -l=m
                name = arg.substring(0, 2);
                value = arg.substring(arg.charAt(2) == '=' ? 3 : 2);
                attached = true;
            }
            Option option = find(options, name);
            if (option == null) {
                return "Unknown option: '" + arg + "'";
            }
            if (option.label() == null) {
                if (attached) {
                    return "Option '" + option.longName() + "' takes no value";
                }
            } else if (!attached) {
                if (i + 1 >= args.length) {
                    return "Missing required parameter for option '" + option.longName() + "' (" + option.label() + ")";
                }
                value = args[++i];
            }
            try {
                command.set(option.longName(), value);
            } catch (IllegalArgumentException e) { // a value the option does not take
                return e.getMessage();
            }
        }
        if (command.positionalLabel() != null && command.positionals.isEmpty()) {
            return "Missing required parameter: '" + command.positionalLabel() + "'";
        }
        return null;
    }

    private static Option find(Option[] options, String name) {
        for (Option option : options) {
            if (name.equals(option.longName()) || name.equals(option.shortName())) {
                return option;
            }
        }
        return null;
    }

    /** GNU style: the problem on one line, then where help is; exit status 2. */
    private static int usageError(PrintStream err, String message, Command command) {
        err.println("jdyld: " + message);
        err.println("Try 'jdyld " + (command == null ? "" : command.name() + " ") + "--help'.");
        err.flush();
        return 2;
    }

    /** {@code jdyld --help}. */
    static String usage() {
        StringBuilder text = new StringBuilder("Usage: jdyld [-hV] COMMAND [OPTION]... [ARG]...\n");
        wrap(text, "Loads relocatable x86-64 ELF objects into memory, links them and runs them.", 0, 0);
        text.append("  -h, --help      Show this help message and exit.\n");
        text.append("  -V, --version   Print version information and exit.\n");
        text.append("Commands:\n");
        for (String name : COMMANDS) {
            text.append("  ").append(name).append(" ".repeat(8 - name.length()));
            wrap(text, command(name, List.of()).description()[0], 10, 10);
        }
        text.append("  help    ");
        wrap(text, "Display help information about the specified command.", 10, 10);
        text.append("Run 'jdyld COMMAND --help' for a command's options.\n");
        return text.toString();
    }

    /** {@code jdyld COMMAND --help}. */
    static String usage(Command command) {
        StringBuilder text = new StringBuilder("Usage: jdyld ").append(command.name()).append(" [OPTION]...");
        if (command.positionalLabel() != null) {
            text.append(' ').append(command.positionalLabel()).append("...");
        }
        text.append(command.usageTail()).append('\n');
        for (String paragraph : command.description()) {
            wrap(text, paragraph, 0, 0);
        }
        text.append("Options:\n");
        for (Option option : command.options()) {
            row(text, option);
        }
        row(text, new Option("-h", "--help", null, "Show this help message and exit."));
        return text.toString();
    }

    private static void row(StringBuilder text, Option option) {
        StringBuilder names = new StringBuilder(option.shortName() == null ? "      " : "  " + option.shortName() + ", ");
        names.append(option.longName());
        if (option.label() != null) {
            names.append('=').append(option.label());
        }
        text.append(names);
        if (names.length() + 2 > INDENT) {
            text.append('\n').append(" ".repeat(INDENT));
        } else {
            text.append(" ".repeat(INDENT - names.length()));
        }
        wrap(text, option.description(), INDENT, INDENT);
    }

    /**
     * Appends {@code paragraph} wrapped at word boundaries to {@link #WIDTH} columns: the first
     * line continues a line already at column {@code first}, the others start at {@code indent}.
     */
    private static void wrap(StringBuilder text, String paragraph, int first, int indent) {
        int column = first;
        boolean lineStart = true;
        for (String word : paragraph.split(" ")) {
            if (!lineStart && column + 1 + word.length() > WIDTH) {
                text.append('\n').append(" ".repeat(indent));
                column = indent;
                lineStart = true;
            }
            if (!lineStart) {
                text.append(' ');
                column++;
            }
            text.append(word);
            column += word.length();
            lineStart = false;
        }
        text.append('\n');
    }
}
