package dev.jdyld.link.binding;

import dev.jdyld.runtime.lifetime.SetLifetime;

import java.util.LinkedHashSet;
import java.util.Set;
import java.util.function.Supplier;

/**
 * One name of a scope and its current definition: a symbol of a loaded set, a definition from
 * Java, a lazy symbol not materialized yet, or nothing (the set that defined it was closed). The
 * definition is read without the linker's lock (by handles that follow redefinitions, by lazy
 * calls from loaded code) and replaced whole, so it is one immutable value in a volatile field;
 * everything else is guarded by the linker's lock.
 *
 * @param <S> the type of the loaded sets that define names
 */
public final class SymbolBinding<S> {
    /** What kind of definition a name has now. */
    public enum Kind { SET, JAVA, LAZY, UNDEFINED }

    /**
     * @param kind     what defines the name
     * @param set      the defining set (SET), else null
     * @param address  where the code or data is (SET, JAVA), else 0
     * @param lifetime what a call to it holds: the defining set's, or the linker's for a definition
     *                 from Java; null for LAZY and UNDEFINED
     */
    public record Definition<S>(Kind kind, S set, long address, SetLifetime lifetime) {}

    private final String name;
    private final Supplier<S> materializer;
    private volatile Definition<S> definition;
    private boolean function;
    private boolean weak;
    private int indirection = -1;
    /**
     * Open sets that call the name through its stub: they depend on whatever defines it. Made on
     * the first caller: most names of a large set have none, and an empty set costs 64 bytes each.
     */
    private Set<S> callers;

    private SymbolBinding(String name, Definition<S> definition, boolean function, Supplier<S> materializer) {
        this.name = name;
        this.definition = definition;
        this.function = function;
        this.materializer = materializer;
    }

    /** A function ({@code function}) or data defined from Java at {@code address}, alive while {@code lifetime} is. */
    public static <S> SymbolBinding<S> java(String name, long address, boolean function, SetLifetime lifetime) {
        return new SymbolBinding<>(name, new Definition<>(Kind.JAVA, null, address, lifetime), function, null);
    }

    /** A lazy function: {@code materializer} loads the set that defines it and returns that set. */
    public static <S> SymbolBinding<S> lazy(String name, Supplier<S> materializer) {
        return new SymbolBinding<>(name, new Definition<>(Kind.LAZY, null, 0, null), true, materializer);
    }

    /** A symbol of a loaded set, whose calls hold {@code lifetime}. */
    public static <S> SymbolBinding<S> ofSet(String name, S set, SetLifetime lifetime, long address, boolean function,
                                             boolean weak) {
        SymbolBinding<S> binding = new SymbolBinding<>(name, new Definition<>(Kind.SET, set, address, lifetime), function, null);
        binding.weak = weak;
        return binding;
    }

    /** Makes {@code set}'s symbol the definition (a first definition, a materialization or a redefinition). */
    public void define(S set, SetLifetime lifetime, long address, boolean function, boolean weak) {
        this.function = function || materializer != null;
        this.weak = weak;
        this.definition = new Definition<>(Kind.SET, set, address, lifetime);
    }

    /** The defining set closed: a lazy name becomes lazy again, any other undefined. */
    public void undefine() {
        definition = new Definition<>(materializer != null ? Kind.LAZY : Kind.UNDEFINED, null, 0, null);
    }

    public Definition<S> definition() {
        return definition;
    }

    public String name() {
        return name;
    }

    /** Loads the lazy symbol's set; null for a name that is not lazy. */
    public Supplier<S> materializer() {
        return materializer;
    }

    /** Whether the name is a function: callers may bind to it through a redirectable stub. */
    public boolean function() {
        return function;
    }

    /** Whether the definition is weak: another strong definition of the name is no conflict. */
    public boolean weak() {
        return weak;
    }

    /** Open sets bound to the name through its stub, in the order they bound; empty when none. */
    public Set<S> callers() {
        return callers == null ? Set.of() : java.util.Collections.unmodifiableSet(callers);
    }

    /** Records that {@code caller} is bound to the name through its stub. */
    public void addCaller(S caller) {
        if (callers == null) {
            callers = new LinkedHashSet<>();
        }
        callers.add(caller);
    }

    /** Forgets {@code caller}; the set goes when its last caller does. */
    public void removeCaller(S caller) {
        if (callers != null && callers.remove(caller) && callers.isEmpty()) {
            callers = null;
        }
    }

    /** Index of the name's redirectable stub, or -1 while it has none. */
    public int indirection() {
        return indirection;
    }

    public void indirection(int index) {
        this.indirection = index;
    }
}
