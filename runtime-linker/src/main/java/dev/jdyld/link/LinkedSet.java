package dev.jdyld.link;

import dev.jdyld.jit.ObjectFile;
import dev.jdyld.jit.SetLayout;
import dev.jdyld.memory.Slab;
import dev.jdyld.runtime.Initializers;
import dev.jdyld.runtime.ThreadLocalStorage;

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
public record LinkedSet(Slab slab, ThreadLocalStorage tls, Exports exports, SetLayout layout, long dsoHandle,
                        Initializers.Calls initializers, Set<String> comdatGroups, String name,
                        List<ObjectFile> objects) {
    /**
     * Exported names with their addresses and {@code st_size}s; which of them are functions
     * ({@code STT_FUNC}, {@code STT_GNU_IFUNC}: callable through a redirectable stub), and which
     * are weak definitions (another set's strong definition of the name is no conflict).
     */
    public record Exports(Map<String, Long> addresses, Map<String, Long> sizes, Set<String> functions, Set<String> weak) {
        public Exports {
            addresses = Map.copyOf(addresses);
            sizes = Map.copyOf(sizes);
            functions = Set.copyOf(functions);
            weak = Set.copyOf(weak);
        }
    }

    public LinkedSet {
        comdatGroups = Set.copyOf(comdatGroups);
        objects = List.copyOf(objects);
    }
}
