package dev.jdyld.link.arch;

import java.lang.foreign.MemorySegment;

/**
 * Everything that depends on the instruction set: which relocation types exist, what each needs
 * (decided by {@link #scan} with the symbol in view, as mold's {@code scan_relocations}), how each
 * is written ({@link #relocate}), what a stub looks like, how far code reaches, where static TLS
 * lies, and the small runtime routines jdyld emits. The engine in {@code dev.jdyld.link} never
 * switches on the machine; a new architecture is a new subclass in a package of its own.
 */
public abstract class Architecture {
    /** {@code e_machine} value of the objects this architecture links. */
    public abstract int machine();

    /**
     * The relocation type that writes a symbol's offset from the thread pointer into a data word
     * ({@code R_X86_64_TPOFF64}): how a shared object jdyld writes learns where glibc put its
     * static TLS block.
     */
    public abstract int threadPointerOffsetRelocation();

    /** Debian's multiarch triple ({@code x86_64-linux-gnu}): where the host keeps its libraries. */
    public abstract String multiarchTriple();

    /**
     * Largest distance, in bytes, that the set's PC-relative references and branches are trusted to
     * span (less room for addends). Windows of address space are no larger, and placement near
     * host or earlier-set symbols is within it.
     */
    public abstract long reach();

    /**
     * Largest distance a direct call or jump ({@code CALL26} on AArch64) spans: a set's code is no
     * larger, and calls that leave the set go through its stubs when this is less than
     * {@link #reach()}. The same as the reach where calls reach as far as data references.
     */
    public long branchReach() {
        return reach();
    }

    /** Bytes of a range-extension thunk ({@link #writeRangeExtensionThunk}); used where {@link #branchReach()} is short. */
    public int rangeExtensionThunkSize() {
        throw new IllegalStateException(getClass().getSimpleName() + " branches reach the whole set");
    }

    /** Writes a thunk at {@code offset} of {@code text} (running at {@code address}) that jumps to {@code target}. */
    public void writeRangeExtensionThunk(MemorySegment text, long offset, long address, long target) {
        throw new IllegalStateException(getClass().getSimpleName() + " branches reach the whole set");
    }

    /**
     * Whether every set's thread-locals go to static TLS, whatever model its code uses: where the
     * dynamic runtime routines would cost more than the static ones are worth (AArch64's TLS
     * descriptors must preserve every register).
     */
    public boolean threadLocalsInStaticTls() {
        return false;
    }

    /** psABI name of a relocation type, e.g. {@code R_X86_64_PC32}. */
    public abstract String relocationName(int type);

    /** Bytes a relocation of this type writes at its offset: 0 for none, -1 for a type not supported. */
    public abstract int width(int type);

    /** Whether a relocation type refers to thread-local storage. */
    public abstract boolean isThreadLocal(int type);

    /**
     * The planning pass's look at one relocation: tells {@code context} what it needs (GOT slot,
     * stub, TLS entries, placement) given what {@code symbol} is; refuses a type it cannot apply
     * with a {@link dev.jdyld.core.RelocationException} from {@link Relocation#error}.
     */
    public abstract void scan(ScanContext context, Relocation relocation, SymbolRef symbol);

    /**
     * Applies every entry of one relocation section to its target, whose symbols the engine has
     * resolved. Entries were validated by the scan. {@code gotAddress} is the set's GOT.
     */
    public abstract void relocate(RelocationTarget target, long gotAddress);

    /** Size of one stub in bytes; stubs are laid out back to back at this alignment. */
    public abstract int stubSize();

    /** Writes a stub at {@code offset} of {@code text} that jumps through the slot at {@code slotAddress}. */
    public abstract void writeStub(MemorySegment text, long offset, long stubAddress, long slotAddress);

    /** Bytes of the TLS runtime code ({@code __tls_get_addr}, descriptor resolver, key destructor). */
    public abstract int tlsCodeSize();

    /** Offsets in the TLS runtime code of its three entry points. */
    public abstract int tlsGetAddrEntry();

    public abstract int tlsDescriptorResolverEntry();

    public abstract int tlsDestructorEntry();

    /**
     * Writes the TLS runtime code: it calls {@code pthreadGetspecific}, on a thread's first access
     * {@code slowPath}, and {@code free} for a block at thread exit.
     */
    public abstract void writeTlsCode(MemorySegment text, long offset, long pthreadGetspecific, long slowPath,
                                      long free);

    /**
     * Writes the TLS runtime code of a set whose block is in static TLS, at the same entry points:
     * {@code __tls_get_addr} and the descriptor resolver add the {@code tls_index} or descriptor
     * offset, which then is the variable's offset from the thread pointer, to the thread pointer.
     */
    public abstract void writeStaticTlsCode(MemorySegment text, long offset);

    /**
     * The offset from a thread pointer of the target ({@code threadPointer}) of a host thread-local variable at
     * {@code address}, for an initial-exec GOT slot; refuses (naming {@code name}) a variable that
     * is not in static TLS, where that offset would be wrong on other threads.
     */
    public abstract long initialExecOffset(String name, long address, long threadPointer);

    /** Bytes of the C runtime glue ({@code atexit}, {@code at_quick_exit}, {@code pthread_atfork}). */
    public abstract int glueCodeSize();

    /** Offset of a glue function ({@code atexit}, {@code at_quick_exit} or {@code pthread_atfork}). */
    public abstract int glueEntry(String name);

    /**
     * Writes the glue at {@code offset} of {@code text} (running at {@code address}): tail calls of
     * the host's registration functions with the set's {@code __dso_handle}.
     */
    public abstract void writeGlueCode(MemorySegment text, long offset, long address, long dsoHandle, long cxaAtexit,
                                       long cxaAtQuickExit, long registerAtfork);

    /** Bytes of the shared entry of lazy calls, including the function that returns zero after a failed resolution. */
    public abstract int lazyEntrySize();

    /** Offset, in the lazy entry code, of a function that returns 0: where a failed resolution continues. */
    public abstract int lazyReturnZeroEntry();

    /**
     * Writes the shared entry of lazy calls at {@code offset} of {@code text}: it preserves the
     * caller's argument registers, calls {@code resolver} (a C function {@code long(long id)}) with
     * the id its thunk loaded, and continues at the address the resolver returns.
     */
    public abstract void writeLazyEntry(MemorySegment text, long offset, long resolver);

    /** Bytes of one lazy thunk. */
    public abstract int lazyThunkSize();

    /** Writes a thunk (running at {@code thunkAddress}) that enters the lazy entry with {@code id}. */
    public abstract void writeLazyThunk(MemorySegment text, long offset, long thunkAddress, int id, long entryAddress);

    /** Bytes of the thread-exit entries ({@link #writeThreadExitCode}). */
    public abstract int threadExitCodeSize();

    /** Offset of the registration entry: {@code int (void (*dtor)(void *), void *obj, void *dso_symbol)}. */
    public abstract int threadExitRegisterEntry();

    /** Offset of the entry glibc runs at thread exit: {@code void (struct { void (*dtor)(void *); void *obj; } *r)}. */
    public abstract int threadExitRunEntry();

    /**
     * Writes, at {@code offset} of {@code text} (position-independent), the entries of jdyld's
     * thread-local destructor registration: each calls {@code jniGetCreatedJavaVms(NULL, 0, &n)} and
     * goes on to its upcall ({@code registerUpcall}, {@code runUpcall}) while a JVM exists (n > 0);
     * with none, registration tail-calls {@code cxaThreadAtexitImpl} with its arguments unchanged,
     * and run calls {@code r->dtor(r->obj)} then tail-calls {@code free(r)}.
     */
    public abstract void writeThreadExitCode(MemorySegment text, long offset, long jniGetCreatedJavaVms,
                                             long registerUpcall, long cxaThreadAtexitImpl, long runUpcall, long free);
}
