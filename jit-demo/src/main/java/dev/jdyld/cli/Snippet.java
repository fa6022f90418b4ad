package dev.jdyld.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the user typed, as text: whether it is complete, what kind of C it is, and the C the REPL
 * compiles for it. No C parser: the compiler decides what is valid, this class only decides what
 * to try first and how to wrap it.
 */
final class Snippet {
    private Snippet() {}

    /** Names of the struct the generated evaluation functions fill in. */
    /**
     * What an evaluation leaves in its set's global {@code <function>_value}: everything the REPL
     * prints, the type's name and a string's characters included, so that it is read from the set's
     * memory alone (the code may run in a child-process executor, whose pointers mean nothing here).
     */
    static final String VALUE_STRUCT = """
            struct __jdyld_value { char type[32]; int type_class; int size; unsigned char bytes[16];
                                   int is_string; char text[256]; };
            extern int __jdyld_fflush(void *) __asm__("fflush");
            """;
    /** Bytes of {@code struct __jdyld_value}, and the offsets of its fields. */
    static final long VALUE_SIZE = 316;
    static final long TYPE_CLASS = 32;
    static final long SIZE = 36;
    static final long BYTES = 40;
    static final long IS_STRING = 56;
    static final long TEXT = 60;

    private static final Pattern TYPE_DEFINITION = Pattern.compile(
            "^\\s*(typedef\\b|(struct|union|enum)\\s+\\w*\\s*\\{[\\s\\S]*}\\s*;\\s*$)");
    private static final Pattern FUNCTION_DEFINITION = Pattern.compile("\\)\\s*\\{[\\s\\S]*}\\s*$");

    /**
     * Whether {@code text} can be compiled as it is: brackets balanced outside strings, character
     * constants and comments. An incomplete snippet is continued on the next line.
     */
    static boolean isComplete(String text) {
        if (isDirective(text)) {
            return !text.strip().endsWith("\\"); // a directive ends with its line
        }
        int depth = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '"' || c == '\'') {
                i = skipQuoted(text, i, c);
            } else if (c == '/' && i + 1 < text.length() && text.charAt(i + 1) == '/') {
                int end = text.indexOf('\n', i);
                i = end < 0 ? text.length() : end;
            } else if (c == '/' && i + 1 < text.length() && text.charAt(i + 1) == '*') {
                int end = text.indexOf("*/", i + 2);
                if (end < 0) {
                    return false;
                }
                i = end + 1;
            } else if (c == '{' || c == '(' || c == '[') {
                depth++;
            } else if (c == '}' || c == ')' || c == ']') {
                depth--;
            }
        }
        String end = text.strip();
        // A trailing binary operator or comma continues the expression on the next line.
        return depth <= 0 && (end.isEmpty() || "+-*/%&|^=<>,?:\\".indexOf(end.charAt(end.length() - 1)) < 0
                || end.endsWith("++") || end.endsWith("--"));
    }

    private static int skipQuoted(String text, int start, char quote) {
        for (int i = start + 1; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\\') {
                i++;
            } else if (c == quote) {
                return i;
            }
        }
        return text.length();
    }

    /** A preprocessor line ({@code #include}, {@code #define}): it goes into the header. */
    static boolean isDirective(String text) {
        return text.stripLeading().startsWith("#");
    }

    /** {@code typedef ...;} or {@code struct/union/enum NAME { ... };}: it goes into the header as it is. */
    static boolean isTypeDefinition(String text) {
        return TYPE_DEFINITION.matcher(text).find();
    }

    /** Ends like a function definition: {@code ...) { ... }}. */
    static boolean looksLikeFunctionDefinition(String text) {
        return FUNCTION_DEFINITION.matcher(text.strip()).find() && !text.strip().endsWith(";");
    }

    /** Ends with {@code ;} or {@code }}: a definition or a statement rather than an expression. */
    static boolean endsLikeDeclaration(String text) {
        String stripped = text.strip();
        return stripped.endsWith(";") || stripped.endsWith("}");
    }

    /**
     * For a definition of variables ({@code int a = 1, b[2] = {3, 4};}), the declaration other
     * snippets need ({@code extern int a, b[2];}) and the names; null for anything else.
     */
    static Declaration externDeclaration(String text) {
        String stripped = text.strip();
        if (!stripped.endsWith(";") || stripped.startsWith("typedef") || stripped.startsWith("extern")
                || looksLikeFunctionDefinition(stripped)) {
            return null;
        }
        String body = stripped.substring(0, stripped.length() - 1);
        List<String> declarators = splitTopLevel(body, ',');
        if (declarators.isEmpty()) {
            return null;
        }
        StringBuilder declaration = new StringBuilder("extern ");
        List<String> names = new ArrayList<>();
        for (int i = 0; i < declarators.size(); i++) {
            String declarator = declarators.get(i);
            int equals = indexOfTopLevel(declarator, '=');
            String withoutInitializer = (equals < 0 ? declarator : declarator.substring(0, equals)).strip();
            String name = declaredName(withoutInitializer);
            if (name == null) {
                return null;
            }
            names.add(name);
            declaration.append(i == 0 ? withoutInitializer.replaceFirst("^static\\s+", "") : ", " + withoutInitializer);
        }
        return new Declaration(declaration.append(';').toString(), names);
    }

    /** @param text the declaration for the header; @param names the variables it declares */
    record Declaration(String text, List<String> names) {}

    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_]\\w*");

    /** The declared identifier: the last identifier before any array or parameter brackets. */
    private static String declaredName(String declarator) {
        String name = null;
        int depth = 0;
        Matcher matcher = IDENTIFIER.matcher(declarator);
        int position = 0;
        while (matcher.find(position)) {
            for (int i = position; i < matcher.start(); i++) {
                char c = declarator.charAt(i);
                if (c == '[') {
                    depth++;
                } else if (c == ']') {
                    depth--;
                }
            }
            if (depth == 0) {
                name = matcher.group();
            }
            position = matcher.end();
            if (position < declarator.length() && declarator.charAt(position) == '(' && name != null
                    && declarator.substring(0, matcher.start()).indexOf('(') < 0) {
                return null; // a function declaration, not a variable
            }
        }
        return name;
    }

    private static List<String> splitTopLevel(String text, char separator) {
        List<String> parts = new ArrayList<>();
        int depth = 0;
        int start = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '"' || c == '\'') {
                i = skipQuoted(text, i, c);
            } else if (c == '{' || c == '(' || c == '[') {
                depth++;
            } else if (c == '}' || c == ')' || c == ']') {
                depth--;
            } else if (c == separator && depth == 0) {
                parts.add(text.substring(start, i));
                start = i + 1;
            }
        }
        parts.add(text.substring(start));
        return parts;
    }

    private static int indexOfTopLevel(String text, char wanted) {
        List<String> parts = splitTopLevel(text, wanted);
        return parts.size() == 1 ? -1 : parts.get(0).length();
    }

    /**
     * A function that evaluates {@code expression} once and describes its value: C type name (for
     * the types the REPL prints), {@code __builtin_classify_type} class, size and first 16 bytes.
     */
    static String evaluation(String function, String expression) {
        return VALUE_STRUCT + "struct __jdyld_value " + function + "_value;\n"
                + "void " + function + "(void) {\n"
                + "    struct __jdyld_value *out = &" + function + "_value;\n"
                + "    __auto_type v = (\n#line 1 \"input\"\n" + expression + "\n    );\n"
                + "    const char *type = _Generic(v, _Bool: \"_Bool\", char: \"char\", signed char: \"signed char\","
                + " unsigned char: \"unsigned char\", short: \"short\", unsigned short: \"unsigned short\", int: \"int\","
                + " unsigned int: \"unsigned int\", long: \"long\", unsigned long: \"unsigned long\","
                + " long long: \"long long\", unsigned long long: \"unsigned long long\", float: \"float\","
                + " double: \"double\", long double: \"long double\", char *: \"char *\","
                + " const char *: \"const char *\", void *: \"void *\", default: \"\");\n"
                + "    __builtin_strncpy(out->type, type, sizeof out->type - 1);\n"
                + "    out->type_class = __builtin_classify_type(v);\n"
                + "    out->size = sizeof v;\n"
                + "    __builtin_memcpy(out->bytes, &v, sizeof v < 16 ? sizeof v : 16);\n"
                + "    out->is_string = _Generic(v, char *: 1, const char *: 1, default: 0);\n"
                + "    const char *s = 0;\n"
                + "    if (out->is_string) __builtin_memcpy(&s, out->bytes, sizeof s);\n"
                + "    for (int i = 0; s && i < (int) sizeof out->text - 1 && s[i]; i++) out->text[i] = s[i];\n"
                + "    __jdyld_fflush(0);\n"
                + "}\n";
    }

    /** A function whose body is the statements typed. */
    static String statements(String function, String text) {
        return "extern int __jdyld_fflush(void *) __asm__(\"fflush\");\n"
                + "void " + function + "(void) {\n#line 1 \"input\"\n" + text + "\n;__jdyld_fflush(0);}\n";
    }
}
