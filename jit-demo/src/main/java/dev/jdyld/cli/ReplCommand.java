package dev.jdyld.cli;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.SetLayout;
import dev.jdyld.jit.LoadedSet;
import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.UserInterruptException;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code jdyld repl}: a C REPL. Definitions are compiled with {@code cc -c -fPIC} and loaded as
 * sets; expressions are evaluated and printed with their C type. From a terminal it edits lines
 * and keeps a history (JLine); from a pipe it prints only results.
 */
final class ReplCommand extends Main.Command {
    final LinkerOptions linkerOptions = new LinkerOptions();

    private static final String HELP = """
            C definitions (functions, globals, #include, typedef, struct) are compiled and loaded;
            a function defined again replaces the old one for every caller. Expressions print their value.
              :disasm NAME     disassemble a function
              :symbols         what you defined, with addresses
              :layout          sections and addresses of what you defined
              :load FILE       load an object or archive (.o, .a)
              :lib NAME        search a host library (libm.so.6, a path, or m)
              :reset           forget everything
              :quit            leave""";

    @Override
    String name() {
        return "repl";
    }

    @Override
    String[] description() {
        return new String[] {"A C read-eval-print loop: definitions are compiled (cc -c -fPIC, $CC to choose) and"
                + " loaded; expressions are evaluated and printed. :help lists the commands."};
    }

    @Override
    Main.Option[] options() {
        return LinkerOptions.OPTIONS;
    }

    @Override
    void set(String longName, String value) {
        linkerOptions.set(longName, value);
    }

    @Override
    int call() throws IOException {
        if (!linkerOptions.libraries.contains("m")) {
            linkerOptions.libraries.add("m");
        }
        try (ReplSession session = new ReplSession(() -> linkerOptions.builder().build())) {
            if (System.console() == null) {
                runPiped(session);
            } else {
                runInteractive(session);
            }
        }
        return 0;
    }

    /** From a pipe: no prompt, only results on stdout, diagnostics on stderr. */
    private void runPiped(ReplSession session) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        StringBuilder pending = new StringBuilder();
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            pending.append(line).append('\n');
            if (Snippet.isComplete(pending.toString())) {
                if (!handle(session, pending.toString().strip(), false, System.out, System.err)) {
                    return;
                }
                pending.setLength(0);
            }
        }
        if (!pending.isEmpty()) {
            handle(session, pending.toString().strip(), false, System.out, System.err);
        }
    }

    /** {@code $JDYLD_HISTORY}, else {@code ~/.jdyld_history}. */
    private static Path historyFile() {
        String file = System.getenv("JDYLD_HISTORY");
        return file != null && !file.isEmpty() ? Path.of(file) : Path.of(System.getProperty("user.home"), ".jdyld_history");
    }

    private void runInteractive(ReplSession session) throws IOException {
        Main.needShutdownHooks(); // JLine's, which restore the terminal however the session ends
        try (Terminal terminal = TerminalBuilder.builder().system(true).build()) {
            // C text passes through as typed: no backslash escapes (JLine's parser would eat the one
            // in "\n"), no history expansion of '!'.
            org.jline.reader.impl.DefaultParser parser = new org.jline.reader.impl.DefaultParser();
            parser.setEscapeChars(null);
            LineReader reader = LineReaderBuilder.builder().terminal(terminal).appName("jdyld").parser(parser)
                    .variable(LineReader.HISTORY_FILE, historyFile())
                    .option(LineReader.Option.DISABLE_EVENT_EXPANSION, true)
                    .build();
            PrintStream out = new PrintStream(terminal.output(), true);
            // Ctrl-C while a snippet runs (JLine handles it while a line is read): with --isolate it
            // ends the executor, and the snippet's call reports it; in the JVM's process a call
            // cannot be stopped, and the REPL says so instead of exiting.
            terminal.handle(Terminal.Signal.INT, signal -> {
                if (!session.linker().killExecutor()) {
                    out.println("\njdyld: a call in the JVM's process cannot be interrupted; it goes on"
                            + " (with repl --isolate, Ctrl-C ends it)");
                }
            });
            out.println("jdyld C REPL: type C, :help for commands, :quit to leave.");
            StringBuilder pending = new StringBuilder();
            while (true) {
                String line;
                try {
                    line = reader.readLine(pending.isEmpty() ? "c> " : "... ");
                } catch (UserInterruptException e) {
                    pending.setLength(0);
                    continue;
                } catch (EndOfFileException e) {
                    return;
                }
                // Saved at once: a crash of loaded code must not lose what was typed.
                reader.getHistory().save();
                pending.append(line).append('\n');
                if (!Snippet.isComplete(pending.toString())) {
                    continue;
                }
                String text = pending.toString().strip();
                pending.setLength(0);
                if (!handle(session, text, true, out, out)) {
                    return;
                }
            }
        }
    }

    /** One input: a command or C. Returns false to leave. */
    private boolean handle(ReplSession session, String text, boolean withType, PrintStream out, PrintStream err) {
        if (text.startsWith(":")) {
            return command(session, text, out, err);
        }
        ReplSession.Output output = session.evaluate(text, withType);
        if (output.errors() != null) {
            err.print(output.errors().endsWith("\n") ? output.errors() : output.errors() + "\n");
            err.flush();
        }
        if (output.value() != null) {
            out.println(output.value());
            out.flush();
        }
        return true;
    }

    private boolean command(ReplSession session, String text, PrintStream out, PrintStream err) {
        String[] words = text.split("\\s+", 2);
        String argument = words.length > 1 ? words[1].strip() : "";
        try {
            switch (words[0]) {
                case ":quit", ":q", ":exit" -> {
                    return false;
                }
                case ":help" -> out.println(HELP);
                case ":reset" -> session.reset();
                case ":symbols" -> {
                    for (Map.Entry<String, LoadedSet> entry : session.definitions().entrySet()) {
                        out.printf("0x%016x  %s%n", entry.getValue().address(entry.getKey()), entry.getKey());
                    }
                }
                case ":layout" -> {
                    for (LoadedSet set : session.definitions().values().stream().distinct().toList()) {
                        out.print(LayoutPrinter.table(set.layout(), session.linker().memoryManager().usage()));
                    }
                }
                case ":disasm" -> disassemble(session, argument, out, err);
                case ":load" -> out.println("loaded " + session.load(Path.of(argument)).name());
                case ":lib" -> session.addLibrary(argument);
                default -> err.println("jdyld: unknown command " + words[0] + " (:help lists them)");
            }
        } catch (LinkException e) {
            err.println("jdyld: " + e.getMessage());
        }
        out.flush();
        return true;
    }

    private static void disassemble(ReplSession session, String name, PrintStream out, PrintStream err) {
        LoadedSet set = session.definitions().get(name);
        if (set == null) {
            err.println("jdyld: " + name + " is not defined");
            return;
        }
        // Calls between definitions go through the linker's stubs (so that a redefinition reaches
        // them): name each stub, and each definition where it is.
        List<SetLayout.Symbol> others = new ArrayList<>();
        for (Map.Entry<String, LoadedSet> definition : session.definitions().entrySet()) {
            String defined = definition.getKey();
            session.linker().stubAddress(defined).ifPresent(address ->
                    others.add(new SetLayout.Symbol(defined, SetLayout.Symbol.Kind.STUB, address, 0)));
            definition.getValue().layout().symbols().stream().filter(s -> s.name().equals(defined)).forEach(others::add);
        }
        DisasmCommand.print(set, name, out, others, dev.jdyld.jit.Target.host());
    }
}
