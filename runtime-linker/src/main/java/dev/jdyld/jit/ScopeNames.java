package dev.jdyld.jit;

import dev.jdyld.core.DuplicateSymbolException;
import dev.jdyld.core.LinkException;
import dev.jdyld.core.Location;
import dev.jdyld.link.LinkedSet;
import dev.jdyld.link.binding.Redirections;
import dev.jdyld.link.binding.SymbolBinding;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * The names of one {@link Scope}: each name's binding, the names of sets being loaded into it
 * (reserved against concurrent loads), and the checks a new set's names pass before they become
 * the scope's. Everything here is guarded by the linker's lock.
 */
final class ScopeNames {
    private final String scopeName;
    private final Redirections<LoadedSet> redirections;
    /**
     * Each name's binding, or, until something needs its binding (a lookup, a stub, a redefinition),
     * the open set that defines it: a set of hundreds of thousands of names makes no binding for each.
     */
    private final Map<String, Object> bindings = new HashMap<>();
    /** Sets being loaded, by their exports: names are looked up in each (few run at once), not copied. */
    private final Map<LoadedSet, LinkedSet.Exports> reserved = new java.util.LinkedHashMap<>();

    ScopeNames(String scopeName, Redirections<LoadedSet> redirections) {
        this.scopeName = scopeName;
        this.redirections = redirections;
    }

    /** Binds {@code name} to a definition from Java or a lazy one (checked with {@link #checkUndefined} first). */
    void put(String name, SymbolBinding<LoadedSet> binding) {
        bindings.put(name, binding);
    }

    void checkUndefined(String symbol) {
        SymbolBinding<LoadedSet> binding = binding(symbol);
        if ((binding != null && binding.definition().kind() != SymbolBinding.Kind.UNDEFINED) || reservedBy(symbol) != null) {
            throw new IllegalArgumentException("symbol " + symbol + " is already defined in scope " + scopeName);
        }
    }

    SymbolBinding<LoadedSet> definedHere(String symbol) {
        SymbolBinding<LoadedSet> binding = binding(symbol);
        return binding == null || binding.definition().kind() == SymbolBinding.Kind.UNDEFINED ? null : binding;
    }

    private static String describe(SymbolBinding.Definition<LoadedSet> definition) {
        return definition.set() != null ? definition.set().name()
                : definition.kind() == SymbolBinding.Kind.JAVA ? "a definition from Java" : "nothing";
    }

    /**
     * Before a linked set runs anything: refuses duplicate strong definitions, redefinitions of
     * data, and a redefinition that redefines nothing, and reserves its names against concurrent
     * loads. Caller holds the linker's lock.
     */
    void reserve(LoadedSet set, LinkedSet.Exports exports, boolean redefining) {
        if (redefining && exports.names().stream().noneMatch(bindings::containsKey)) {
            throw new LinkException(Location.file(set.name()), "nothing to redefine: none of its symbols ("
                    + String.join(", ", exports.names().stream().sorted().limit(5).toList())
                    + ") was ever defined in scope " + scopeName + "; load it instead");
        }
        // Only names defined on both sides can conflict: each check walks the smaller side, so a large
        // set loaded into a small scope (or the reverse) costs the small one's size.
        for (Map.Entry<LoadedSet, LinkedSet.Exports> pending : reserved.entrySet()) {
            LinkedSet.Exports other = pending.getValue();
            for (String symbol : smaller(exports.names(), other.names())) {
                LinkedSet.Export mine = exports.get(symbol);
                LinkedSet.Export theirs = other.get(symbol);
                if (mine != null && theirs != null && !mine.weak() && !theirs.weak()) {
                    throw new DuplicateSymbolException(symbol, pending.getKey().name() + " (being loaded)", set.name());
                }
            }
        }
        for (String symbol : smaller(exports.names(), bindings.keySet())) {
            LinkedSet.Export export = exports.get(symbol);
            SymbolBinding<LoadedSet> binding = export == null ? null : definedHere(symbol);
            if (binding != null && binding.definition().kind() != SymbolBinding.Kind.LAZY) {
                SymbolBinding.Definition<LoadedSet> current = binding.definition();
                if (redefining) {
                    if (current.kind() == SymbolBinding.Kind.JAVA) {
                        throw new LinkException(Location.file(set.name()), "cannot redefine " + symbol + ": it is defined from Java");
                    }
                    if (!binding.function() || !exports.isFunction(symbol)) {
                        throw new LinkException(Location.file(set.name()), "cannot redefine " + symbol
                                + ": data symbols are not redefinable (defined by " + current.set().name() + ")");
                    }
                } else if (!export.weak() && !binding.weak()) {
                    throw new DuplicateSymbolException(symbol, describe(current), set.name());
                }
            }
        }
        reserved.put(set, exports);
    }

    private static Set<String> smaller(Set<String> a, Set<String> b) {
        return a.size() <= b.size() ? a : b;
    }

    /** The set being loaded that reserved {@code symbol} with a strong definition, or null. */
    LoadedSet reservedBy(String symbol) {
        for (Map.Entry<LoadedSet, LinkedSet.Exports> pending : reserved.entrySet()) {
            if (pending.getValue().get(symbol) instanceof LinkedSet.Export export && !export.weak()) {
                return pending.getKey();
            }
        }
        return null;
    }

    /** Releases what {@link #reserve} took for {@code set}. Caller holds the linker's lock. */
    void unreserve(LoadedSet set) {
        reserved.remove(set);
    }

    /**
     * Makes a started set's definitions the scope's: new names, lazy and undefined ones, and with
     * {@code redefining} the functions it replaces, whose stubs are re-pointed. Caller holds the lock.
     */
    void register(LoadedSet set, LinkedSet.Exports exports, boolean redefining) {
        exports.forEach((symbol, export) -> {
            if (bindings.putIfAbsent(symbol, set) == null) {
                return;
            }
            SymbolBinding<LoadedSet> binding = binding(symbol);
            SymbolBinding.Kind kind = binding.definition().kind();
            if (kind == SymbolBinding.Kind.LAZY || kind == SymbolBinding.Kind.UNDEFINED || (redefining && kind == SymbolBinding.Kind.SET)) {
                binding.define(set, set.lifetime(), export.address(), export.kind() == LinkedSet.ExportKind.FUNCTION, export.weak());
                redirections.retarget(binding);
            }
        });
        unreserve(set);
    }

    /** Open sets that call a name {@code set} defines through its stub. */
    Set<LoadedSet> callersThroughStubs(LoadedSet set) {
        Set<LoadedSet> callers = new java.util.LinkedHashSet<>();
        // Only a binding with a redirectable stub has callers: those are usually far fewer than the
        // set's names, and are walked instead when they are.
        java.util.List<SymbolBinding<LoadedSet>> redirected = redirections.redirected();
        if (redirected.size() < set.exports().names().size()) {
            for (SymbolBinding<LoadedSet> binding : redirected) {
                if (binding.definition().set() == set) {
                    callers.addAll(binding.callers());
                }
            }
            return callers;
        }
        for (String symbol : set.exports().names()) {
            SymbolBinding<LoadedSet> binding = bindingIfMade(symbol);
            if (binding != null && binding.definition().set() == set) {
                callers.addAll(binding.callers());
            }
        }
        return callers;
    }

    /** The binding of {@code symbol} if one was made: a name no lookup, stub or handle used has none. */
    @SuppressWarnings("unchecked")
    SymbolBinding<LoadedSet> bindingIfMade(String symbol) {
        return bindings.get(symbol) instanceof SymbolBinding<?> binding ? (SymbolBinding<LoadedSet>) binding : null;
    }

    /**
     * The scope's own binding of {@code symbol}, defined or not, made from its set's export on first
     * use. Caller holds the linker's lock.
     */
    @SuppressWarnings("unchecked")
    SymbolBinding<LoadedSet> binding(String symbol) {
        Object entry = bindings.get(symbol);
        if (entry instanceof LoadedSet set) {
            LinkedSet.Export export = set.exports().get(symbol);
            SymbolBinding<LoadedSet> binding = SymbolBinding.ofSet(symbol, set, set.lifetime(), export.address(),
                    export.kind() == LinkedSet.ExportKind.FUNCTION, export.weak());
            bindings.put(symbol, binding);
            return binding;
        }
        return (SymbolBinding<LoadedSet>) entry;
    }

    /**
     * After {@code set} closed: names it defined become lazy again (when they were lazy) or
     * undefined; their stubs return 0 until defined again. Caller holds the linker's lock.
     */
    void unregister(LoadedSet set, boolean wholeLinker) {
        if (wholeLinker) {
            // The scope goes with the linker: only the stubs that lead into the set need re-pointing.
            for (SymbolBinding<LoadedSet> binding : redirections.redirected()) {
                if (binding.definition().set() == set) {
                    binding.undefine();
                    redirections.retarget(binding);
                }
            }
            return;
        }
        for (String symbol : set.exports().names()) {
            Object entry = bindings.get(symbol);
            if (entry == set) {
                bindings.remove(symbol);
                continue;
            }
            if (!(entry instanceof SymbolBinding<?> any) || any.definition().set() != set) {
                continue;
            }
            SymbolBinding<LoadedSet> binding = binding(symbol);
            binding.undefine();
            redirections.retarget(binding);
            if (!redirections.isRedirected(binding) && binding.definition().kind() == SymbolBinding.Kind.UNDEFINED) {
                bindings.remove(symbol);
            }
        }
    }

}
