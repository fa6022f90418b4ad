package dev.jdyld.cli;

import dev.jdyld.core.ExecutorCrashedException;
import dev.jdyld.jit.JitLinker;
import dev.jdyld.core.LinkException;
import dev.jdyld.jit.LoadedSet;
import dev.jdyld.core.ObjectFile;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * The C REPL's state and evaluation. Each definition is compiled with the header of everything
 * defined before (includes, types, prototypes, {@code extern} globals) and loaded as a set of its
 * own; a function defined again is loaded with {@code redefine}, so every earlier caller reaches
 * the new code. An expression is wrapped in a function that describes its value, loaded, called
 * and closed; a statement likewise.
 */
final class ReplSession implements AutoCloseable {
    /**
     * What one input printed.
     *
     * @param value  the value of an expression, formatted, or null
     * @param errors compiler diagnostics or a link error, or null
     */
    record Output(String value, String errors) {
        static final Output NOTHING = new Output(null, null);

        static Output error(String errors) {
            return new Output(null, errors);
        }
    }

    private final Supplier<JitLinker> linkers;
    private final Path dir;
    private final CCompiler compiler;
    /** Header entries by key: the text of a directive or type, "fn " + name, "var " + name. */
    private final Map<String, String> header = new LinkedHashMap<>();
    /** The set that defines each function or global the user defined, latest definition. */
    private final Map<String, LoadedSet> definedBy = new LinkedHashMap<>();
    private final List<String> globals = new ArrayList<>();
    private final List<String> libraries = new ArrayList<>();
    /** Every load of the session, in order, for loading them again in a new executor. */
    private final List<Load> loads = new ArrayList<>();
    /** The set each of {@link #loads} made, now. */
    private final List<LoadedSet> loadedSets = new ArrayList<>();
    private JitLinker linker;
    private int counter;

    ReplSession(Supplier<JitLinker> linkers) throws IOException {
        this.linkers = linkers;
        this.linker = linkers.get();
        this.dir = Files.createTempDirectory("jdyld-repl");
        this.compiler = new CCompiler(dir);
    }

    JitLinker linker() {
        return linker;
    }

    /** Names defined by the user, with the set that defines each now. */
    Map<String, LoadedSet> definitions() {
        return definedBy;
    }

    /** Adds a host library to the search order of later snippets; kept across {@link #reset()}. */
    void addLibrary(String name) {
        linker.addHostLibrary(name);
        libraries.add(name);
    }

    /** Forgets every definition: a new linker, an empty header. */
    void reset() {
        linker.close();
        linker = linkers.get();
        libraries.forEach(linker::addHostLibrary);
        header.clear();
        definedBy.clear();
        globals.clear();
        loads.clear();
        loadedSets.clear();
    }

    /** {@code :load}: a file's objects as a set; replayed, as a definition is, after a crash. */
    LoadedSet load(Path file) {
        LoadedSet set;
        try {
            set = linker.load(file);
        } catch (ExecutorCrashedException e) {
            throw new LinkException(crashed(e) + restart(), e);
        }
        loads.add(new Load(null, file, false));
        loadedSets.add(set);
        for (String name : set.symbols()) {
            definedBy.put(name, set); // :symbols, :disasm and :layout know what the file defines
        }
        return set;
    }

    /** A load of the session, in order: a definition's objects (loaded or redefined), or a file. */
    private record Load(List<ObjectFile> objects, Path file, boolean redefine) {}

    /**
     * After the child-process executor died: a new linker (so a new executor), the libraries
     * added and every definition loaded again in order; what to tell the user.
     */
    private String restart() {
        try {
            linker.close();
        } catch (RuntimeException e) {
            // The dead executor's sets are gone with it; what is left to give back, the close gives back.
        }
        linker = linkers.get();
        libraries.forEach(linker::addHostLibrary);
        Map<LoadedSet, LoadedSet> renewed = new java.util.HashMap<>();
        for (int i = 0; i < loads.size(); i++) {
            Load load = loads.get(i);
            LoadedSet set = load.file() != null ? linker.load(load.file())
                    : load.redefine() ? linker.redefine(load.objects()) : linker.loadObjects(load.objects());
            renewed.put(loadedSets.set(i, set), set);
        }
        definedBy.replaceAll((name, set) -> renewed.getOrDefault(set, set));
        return "; a new executor was started and " + loads.size() + " definition" + (loads.size() == 1 ? "" : "s")
                + " loaded again (globals are back to their initial values)";
    }

    /** What killed the executor, in the user's terms: a snippet's wrapper is "the snippet". */
    private static String crashed(ExecutorCrashedException e) {
        String report = e.getMessage();
        int end = report.indexOf("; the executor (pid");
        return (end < 0 ? report : report.substring(0, end)).replaceAll("__jdyld_\\d+\\+0x[0-9a-f]+ in set input", "the snippet");
    }

    Output evaluate(String text, boolean withType) {
        if (text.isBlank()) {
            return Output.NOTHING;
        }
        if (Snippet.isDirective(text) || Snippet.isTypeDefinition(text)) {
            CCompiler.Result result = compiler.compile(nextName(), headerText() + text + "\n");
            if (!result.ok()) {
                return Output.error(result.diagnostics());
            }
            header.put(text, text.strip());
            return Output.NOTHING;
        }
        if (Snippet.endsLikeDeclaration(text)) {
            Snippet.Declaration global = Snippet.externDeclaration(text);
            if (global != null && globals.containsAll(global.names())) {
                return assign(text, global);
            }
            CCompiler.Result definition = compiler.compile(nextName(), headerText() + "#line 1 \"input\"\n" + text + "\n");
            if (definition.ok()) {
                return define(text, definition);
            }
            if (Snippet.looksLikeFunctionDefinition(text)) {
                return Output.error(definition.diagnostics());
            }
            return runStatements(text, definition.diagnostics());
        }
        String function = nextName();
        CCompiler.Result evaluation = compiler.compile(function, headerText() + Snippet.evaluation(function, text));
        if (!evaluation.ok()) {
            if (DECLARATION_START.matcher(text).lookingAt() && !text.strip().endsWith(";")) {
                return evaluate(text.strip() + ";", withType); // a definition typed without its ';'
            }
            return runStatements(text, evaluation.diagnostics());
        }
        return call(evaluation.object(), function, withType);
    }

    /** Text that starts as a declaration does: a type, with its qualifiers. */
    private static final java.util.regex.Pattern DECLARATION_START = java.util.regex.Pattern.compile(
            "\\s*((const|static|volatile|unsigned|signed|extern)\\s+)*(int|char|long|short|float|double|_Bool|bool|void"
                    + "|size_t|\\w+_t|(struct|union|enum)\\s+\\w+)\\b");

    private Output define(String text, CCompiler.Result result) {
        Snippet.Declaration declaration = Snippet.externDeclaration(text);
        if (declaration == null && result.prototypes().isEmpty() && !text.contains("{")) {
            // A prototype or an extern declaration (of what :load brought, say): it defines nothing,
            // and later snippets must see it, as a C file's later functions would.
            header.put("decl " + text.strip(), text.strip());
            return Output.NOTHING;
        }
        boolean redefinesFunction = result.prototypes().stream().anyMatch(p -> definedBy.containsKey(p.name()));
        LoadedSet set;
        // Named after what it defines, so that :layout and messages tell definitions apart.
        String label = !result.prototypes().isEmpty() ? result.prototypes().getFirst().name()
                : declaration != null ? String.join(",", declaration.names()) : "input";
        List<ObjectFile> objects = List.of(new ObjectFile(label, result.object()));
        try {
            set = redefinesFunction ? linker.redefine(objects) : linker.loadObjects(objects);
        } catch (ExecutorCrashedException e) {
            return Output.error("jdyld: " + crashed(e) + restart());
        } catch (LinkException e) {
            return Output.error("jdyld: " + e.getMessage());
        }
        loads.add(new Load(objects, null, redefinesFunction));
        loadedSets.add(set);
        for (CCompiler.Prototype prototype : result.prototypes()) {
            header.put("fn " + prototype.name(), prototype.declaration());
            definedBy.put(prototype.name(), set);
        }
        if (declaration != null) {
            header.put("var " + String.join(",", declaration.names()), declaration.text());
            for (String name : declaration.names()) {
                definedBy.put(name, set);
                globals.add(name);
            }
        }
        return Output.NOTHING;
    }

    /** A global defined again keeps its storage (data cannot be redefined) and takes the new value. */
    private Output assign(String text, Snippet.Declaration declaration) {
        String stripped = text.strip();
        int equals = stripped.indexOf('=');
        if (declaration.names().size() != 1 || equals < 0 || stripped.substring(equals).contains("{")) {
            return Output.error("jdyld: " + String.join(", ", declaration.names())
                    + " is already defined; a global keeps its storage: assign to it instead");
        }
        String assignment = declaration.names().getFirst() + " = " + stripped.substring(equals + 1);
        return runStatements(assignment, null);
    }

    private Output runStatements(String text, String earlierDiagnostics) {
        String function = nextName();
        CCompiler.Result result = compiler.compile(function, headerText() + Snippet.statements(function, text));
        if (!result.ok()) {
            return Output.error(earlierDiagnostics != null && Snippet.endsLikeDeclaration(text)
                    ? result.diagnostics() : earlierDiagnostics != null ? earlierDiagnostics : result.diagnostics());
        }
        return callOnce(result.object(), function, FunctionDescriptor.ofVoid(), false, false);
    }

    private Output call(byte[] object, String function, boolean withType) {
        return callOnce(object, function, FunctionDescriptor.ofVoid(), true, withType);
    }

    /**
     * Loads the wrapper as a set, calls it (its C output flushed at its end), reads the value it left
     * in its {@code _value} global, closes it.
     */
    private Output callOnce(byte[] object, String function, FunctionDescriptor descriptor, boolean hasValue,
                            boolean withType) {
        try (LoadedSet set = linker.loadObjects(List.of(new ObjectFile("input", object)))) {
            MethodHandle handle = set.function(function, descriptor);
            handle.invokeExact();
            return hasValue ? new Output(ValueFormat.format(set.data(function + "_value"), withType), null) : Output.NOTHING;
        } catch (ExecutorCrashedException e) {
            return Output.error("jdyld: " + crashed(e) + restart());
        } catch (LinkException e) {
            return Output.error("jdyld: " + e.getMessage());
        } catch (Throwable t) {
            return Output.error("jdyld: " + t);
        } finally {
            CStdio.flushAll();
        }
    }

    private String nextName() {
        return "__jdyld_" + counter++;
    }

    private String headerText() {
        StringBuilder text = new StringBuilder();
        for (String declaration : header.values()) {
            text.append(declaration).append('\n');
        }
        return text.toString();
    }

    @Override
    public void close() {
        linker.close();
        try {
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            System.err.println("jdyld: cannot remove " + dir + ": " + e.getMessage());
        }
    }

    /** Formats the value an evaluation function described. */
    static final class ValueFormat {
        private ValueFormat() {}

        /** {@code __builtin_classify_type} classes. */
        private static final int POINTER_TYPE_CLASS = 5;
        private static final int ENUMERAL_TYPE_CLASS = 3;

        /** The value as an evaluation's {@code struct __jdyld_value} describes it ({@link Snippet#VALUE_STRUCT}). */
        static String format(MemorySegment out, boolean withType) {
            String typeName = out.asSlice(0, Snippet.TYPE_CLASS).getString(0);
            int typeClass = out.get(JAVA_INT_UNALIGNED, Snippet.TYPE_CLASS);
            int size = out.get(JAVA_INT_UNALIGNED, Snippet.SIZE);
            MemorySegment bytes = out.asSlice(Snippet.BYTES, 16);
            String type = typeName.isEmpty() ? null : typeName;
            String text;
            if (type == null) {
                if (typeClass == POINTER_TYPE_CLASS) {
                    type = "pointer";
                    text = "0x" + Long.toHexString(bytes.get(JAVA_LONG_UNALIGNED, 0));
                } else if (typeClass == ENUMERAL_TYPE_CLASS) {
                    type = "enum";
                    text = Long.toString(signed(bytes, size));
                } else {
                    type = "value";
                    text = "<" + size + " bytes>";
                }
            } else {
                text = switch (type) {
                    case "float" -> Float.toString(bytes.get(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, 0));
                    case "double" -> Double.toString(bytes.get(java.lang.foreign.ValueLayout.JAVA_DOUBLE_UNALIGNED, 0));
                    case "long double" -> Double.toString(x87ToDouble(bytes));
                    case "char *", "const char *" -> bytes.get(JAVA_LONG_UNALIGNED, 0) == 0 ? "NULL"
                            : quoted(out.asSlice(Snippet.TEXT, Snippet.VALUE_SIZE - Snippet.TEXT).getString(0));
                    case "void *" -> "0x" + Long.toHexString(bytes.get(JAVA_LONG_UNALIGNED, 0));
                    case "char" -> charLiteral((byte) signed(bytes, 1));
                    default -> type.startsWith("unsigned") || type.equals("_Bool")
                            ? Long.toUnsignedString(unsigned(bytes, size)) : Long.toString(signed(bytes, size));
                };
            }
            return withType ? "(" + type + ") " + text : text;
        }

        private static long signed(MemorySegment bytes, int size) {
            long value = unsigned(bytes, size);
            int shift = 64 - 8 * Math.min(size, 8);
            return (value << shift) >> shift;
        }

        private static long unsigned(MemorySegment bytes, int size) {
            long value = 0;
            for (int i = Math.min(size, 8) - 1; i >= 0; i--) {
                value = (value << 8) | (bytes.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i) & 0xff);
            }
            return value;
        }

        /** The x87 80-bit format: 64-bit significand with an explicit integer bit, 15-bit exponent. */
        private static double x87ToDouble(MemorySegment bytes) {
            long significand = bytes.get(JAVA_LONG_UNALIGNED, 0);
            int signAndExponent = bytes.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 8) & 0xffff;
            int exponent = signAndExponent & 0x7fff;
            double magnitude = exponent == 0x7fff
                    ? (significand << 1 == 0 ? Double.POSITIVE_INFINITY : Double.NaN)
                    : Math.scalb((double) (significand >>> 11), exponent - 16383 - 52);
            return (signAndExponent & 0x8000) != 0 ? -magnitude : magnitude;
        }

        private static String quoted(String text) {
            return '"' + text.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n").replace("\t", "\\t") + '"';
        }

        private static String charLiteral(byte c) {
            return c >= 32 && c < 127 ? c + " '" + (char) c + "'" : Byte.toString(c);
        }
    }
}
