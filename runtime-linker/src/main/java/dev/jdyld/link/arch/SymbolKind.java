package dev.jdyld.link.arch;

/** What a relocation's symbol resolved to, as far as an architecture's scan cares. */
public enum SymbolKind {
    /** A local symbol of the object (section symbols included). */
    LOCAL,
    /** A global defined in the set: by an object, as a common symbol, or by the linker. */
    SET,
    /** Defined by a set loaded earlier. */
    EARLIER_SET,
    /** Found in the host process or a host library. */
    HOST,
    /** Undefined and weak: address 0. */
    UNDEFINED_WEAK
}
