package dev.jdyld.link;

import dev.jdyld.core.ObjectFile;
import dev.jdyld.core.SetLayout;
import dev.jdyld.memory.Slab;
import dev.jdyld.runtime.Initializers;
import dev.jdyld.executor.ThreadLocalBlock;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A set as the engine hands it over: mapped, relocated, still writable (the caller finalizes the
 * permissions), with what running and closing it needs.
 *
 * @param slab         the set's memory
 * @param tls          its thread-local storage, or null
 * @param exports      its exported symbols
 * @param layout       where everything is
 * @param dsoHandle    its {@code __dso_handle}, or 0 when nothing registers exit handlers with it
 * @param initializers IFUNC resolvers, constructors and destructors to run
 * @param comdatGroups signatures of the COMDAT groups it kept
 * @param name         its inputs, for messages: the first, and how many more
 * @param objects      the objects it was linked from, archive members included, as read
 */
public record LinkedSet(Slab slab, ThreadLocalBlock tls, Exports exports, SetLayout layout, long dsoHandle,
                        Initializers.Calls initializers, Set<String> comdatGroups, String name,
                        List<ObjectFile> objects) {
    /** What an exported name is, as handles and segments of it need to know. */
    public enum ExportKind {
        /** {@code STT_FUNC} or {@code STT_GNU_IFUNC}: callable, and redirectable between sets. */
        FUNCTION("a function"),
        /** An untyped symbol in executable code (an assembly label): callable, bound by address. */
        CODE_LABEL("code"),
        /** Data in writable memory. */
        DATA("data"),
        /** Data in memory that is read-only once the set is finalized ({@code .rodata}, RELRO). */
        READ_ONLY_DATA("read-only data"),
        /** A thread-local variable: its address differs per thread. */
        THREAD_LOCAL("a thread-local variable"),
        /** An absolute symbol ({@code SHN_ABS}): a value, not memory of the set. */
        ABSOLUTE("an absolute symbol");

        private final String description;

        ExportKind(String description) {
            this.description = description;
        }

        /** What it is, for messages: "data", "a thread-local variable". */
        public String description() {
            return description;
        }

        /** Whether a downcall handle may call it. */
        public boolean callable() {
            return this == FUNCTION || this == CODE_LABEL;
        }
    }

    /** One exported definition: its address, {@code st_size}, kind, and whether it is weak. */
    public interface Export {
        long address();

        long size();

        ExportKind kind();

        boolean weak();
    }

    /**
     * Exported names with their definitions: a view of the set's symbol table (its global names,
     * hashed once) that shows the exported ones, so a set of hundreds of thousands of names builds no
     * second map. {@link java.util.HashMap}, not {@code Map.copyOf}, whose probing clusters on names
     * with sequential or colliding hashes; HashMap bins of many colliding names become trees,
     * ordered by the names.
     */
    public static final class Exports {
        private final Map<String, ? extends Export> globals;
        private final Set<String> names;

        /** {@code globals}: every global name of the set; a name whose {@link Export#kind()} is null is not exported. */
        Exports(Map<String, ? extends Export> globals, int exported) {
            this.globals = globals;
            this.names = new java.util.AbstractSet<>() {
                @Override
                public java.util.Iterator<String> iterator() {
                    return globals.entrySet().stream().filter(e -> e.getValue().kind() != null).map(Map.Entry::getKey).iterator();
                }

                @Override
                public int size() {
                    return exported;
                }

                @Override
                public boolean contains(Object name) {
                    return name instanceof String symbol && get(symbol) != null;
                }
            };
        }

        /** The definition of {@code name}, or null. */
        public Export get(String name) {
            Export export = globals.get(name);
            return export == null || export.kind() == null ? null : export;
        }

        /** The exported names (an unmodifiable view). */
        public Set<String> names() {
            return names;
        }

        /** Every exported name with its definition. */
        public void forEach(java.util.function.BiConsumer<String, Export> action) {
            globals.forEach((name, export) -> {
                if (export.kind() != null) {
                    action.accept(name, export);
                }
            });
        }

        /** Whether {@code name} is a function: calls from other sets may go through a redirectable stub. */
        public boolean isFunction(String name) {
            Export export = globals.get(name);
            return export != null && export.kind() == ExportKind.FUNCTION;
        }
    }

    public LinkedSet {
        comdatGroups = Set.copyOf(comdatGroups);
        objects = List.copyOf(objects);
    }
}
