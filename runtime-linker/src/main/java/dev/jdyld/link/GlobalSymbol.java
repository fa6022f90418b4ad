package dev.jdyld.link;

/**
 * One global name of a set, after resolution: where it is defined. What it needs (GOT entries,
 * stubs) lives in the planning pass's tables, keyed by {@link #id}.
 */
final class GlobalSymbol implements LinkedSet.Export {
    enum Kind {
        /** Defined by an object of the set. */
        DEFINED,
        /** A common symbol ({@code SHN_COMMON}) with no strong definition: the linker allocates it. */
        COMMON,
        /** Defined by a set loaded earlier by the same linker. */
        EARLIER_SET,
        /** Found in the host process or a host library. */
        HOST,
        /** Undefined and weak: resolves to 0. */
        UNDEFINED_WEAK,
        /** Defined by the linker itself, like {@code _GLOBAL_OFFSET_TABLE_}. */
        LINKER_DEFINED,
        /** Not resolved (yet). */
        UNDEFINED
    }

    final String name;
    final int id;
    Kind kind = Kind.UNDEFINED;
    /** Defining object and symbol index, for DEFINED. */
    int object = -1;
    int symbol = -1;
    boolean weakDefinition;
    /** Address once known (HOST and EARLIER_SET at resolution, others after layout). */
    long address;
    long size;
    /** An indirect function (STT_GNU_IFUNC): its address is what its resolver returns at load time. */
    boolean ifunc;
    /** A thread-local variable (some definition or reference says STT_TLS). */
    boolean tls;
    /** An object that references the symbol, for error messages. */
    int firstReference = -1;
    boolean referencedStrongly;

    /** Once linked: what the name is to other sets, or null when it is not exported (hidden, or not defined here). */
    LinkedSet.ExportKind exportKind;
    /** Once linked: the address other sets bind to (an IFUNC's stub). */
    long exportAddress;

    GlobalSymbol(String name, int id) {
        this.name = name;
        this.id = id;
    }

    boolean isInSet() {
        return kind == Kind.DEFINED || kind == Kind.COMMON || kind == Kind.LINKER_DEFINED;
    }

    @Override
    public long address() {
        return exportAddress;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public LinkedSet.ExportKind kind() {
        return exportKind;
    }

    @Override
    public boolean weak() {
        return weakDefinition;
    }
}
