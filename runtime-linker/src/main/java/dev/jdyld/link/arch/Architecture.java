package dev.jdyld.link;

import java.lang.foreign.MemorySegment;

/**
 * Everything that depends on the instruction set: which relocation types exist, what each needs
 * from the planning pass, how each is written, and what a stub looks like. The driver
 * ({@link SetLinker}) never switches on the machine; a new architecture is a new subclass.
 */
abstract class Architecture {
    /** The relocation needs a GOT slot for its symbol. */
    static final int NEEDS_GOT = 1;
    /** A call: if the target is outside the set it goes through a stub. */
    static final int CALL = 1 << 1;
    /** A 32-bit absolute address: the set must live below 2 GiB. */
    static final int ABSOLUTE_32 = 1 << 2;
    /** A 32-bit PC-relative data reference: an external target must be within ±2 GiB. */
    static final int PC_RELATIVE_32 = 1 << 3;
    /** Refers to thread-local storage. */
    static final int TLS = 1 << 4;
    /** General dynamic TLS: a {@code tls_index} pair for the symbol. */
    static final int TLS_GENERAL_DYNAMIC = 1 << 5;
    /** Local dynamic TLS: the set's {@code tls_index} pair with offset 0. */
    static final int TLS_LOCAL_DYNAMIC = 1 << 6;
    /** A TLS descriptor for the symbol. */
    static final int TLS_DESCRIPTOR = 1 << 7;
    /** Initial exec: a GOT slot holding the thread-pointer offset (host variables only). */
    static final int TLS_INITIAL_EXEC = 1 << 8;
    /** Local exec: a thread-pointer offset in the code (refused). */
    static final int TLS_LOCAL_EXEC = 1 << 9;
    /** A type the scan knows and refuses. */
    static final int UNSUPPORTED = 1 << 31;

    /** {@code e_machine} value. */
    abstract int machine();

    /** psABI name of a relocation type, e.g. {@code R_X86_64_PC32}. */
    abstract String relocationName(int type);

    /** Needs of a relocation type as bits above; {@link #UNSUPPORTED} for unknown or refused types. */
    abstract int classify(int type);

    /** Bytes a relocation of this type writes at its offset (0 for none). */
    abstract int width(int type);

    /** Size of one stub in bytes; stubs are laid out back to back at this alignment. */
    abstract int stubSize();

    /** Writes a stub at {@code offset} of {@code text} that jumps through the GOT slot at {@code slotAddress}. */
    abstract void writeStub(MemorySegment text, long offset, long stubAddress, long slotAddress);

    /** Bytes of the TLS runtime code ({@code __tls_get_addr}, descriptor resolver, key destructor). */
    abstract int tlsCodeSize();

    /** Offsets in the TLS runtime code of its three entry points. */
    abstract int tlsGetAddrEntry();

    abstract int tlsDescriptorResolverEntry();

    abstract int tlsDestructorEntry();

    /**
     * Writes the TLS runtime code: it calls {@code pthreadGetspecific}, on a thread's first access
     * {@code slowPath}, and {@code free} for a block at thread exit.
     */
    abstract void writeTlsCode(MemorySegment text, long offset, long pthreadGetspecific, long slowPath, long free);

    /** Bytes of the C runtime glue ({@code atexit}, {@code at_quick_exit}, {@code pthread_atfork}). */
    abstract int glueCodeSize();

    /** Offset of a glue function ({@code atexit}, {@code at_quick_exit} or {@code pthread_atfork}). */
    abstract int glueEntry(String name);

    /** Writes the glue at {@code offset} of {@code text} (running at {@code address}) for the set's handle. */
    abstract void writeGlueCode(MemorySegment text, long offset, long address, long dsoHandle);

    /**
     * Applies every entry of relocation section {@code rela} of {@code object} to
     * {@code target}, a segment of exactly the target section's loaded bytes at
     * {@code targetAddress}. Entries were validated by the scan pass.
     */
    abstract void relocate(ElfObject object, int rela, MemorySegment target, long targetAddress,
                           ResolvedSymbols symbols, long gotAddress);

    /** The overflow error every relocation writer raises, naming object, section, offset, type and symbol. */
    final RelocationException overflow(ElfObject object, int rela, long entry, long value, String range) {
        int target = object.sectionInfo[rela];
        long info = object.u64(entry + 8);
        int symbol = (int) (info >>> 32);
        int type = (int) info;
        long offset = object.u64(entry);
        return new RelocationException(object.name + ": section " + object.sectionName[target] + " offset 0x"
                + Long.toHexString(offset) + ": " + relocationName(type) + " against "
                + describeSymbol(object, symbol) + ": value 0x" + Long.toHexString(value) + " does not fit " + range);
    }

    /** Whether a relocation refers to a section of a dropped COMDAT group (only .eh_frame may); it is left unapplied. */
    static boolean targetsDroppedGroup(ElfObject object, long entry) {
        int symbol = (int) (object.u64(entry + 8) >>> 32);
        int section = object.symbolSection[symbol];
        return section > 0 && section < object.sectionCount && object.discarded[section];
    }

    static String describeSymbol(ElfObject object, int symbol) {
        String name = object.symbolName(symbol);
        return name.isEmpty() ? "symbol #" + symbol : "'" + name + "'";
    }
}
