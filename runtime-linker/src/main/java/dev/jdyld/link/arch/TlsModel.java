package dev.jdyld.link.arch;

/** The thread-local storage access model a relocation belongs to (see Drepper, "ELF Handling For Thread-Local Storage"). */
public enum TlsModel {
    /** A {@code tls_index} pair for the symbol: module and offset. */
    GENERAL_DYNAMIC,
    /** The set's {@code tls_index} pair with offset 0. */
    LOCAL_DYNAMIC,
    /** A TLS descriptor for the symbol. */
    DESCRIPTOR,
    /** A GOT slot holding the thread-pointer offset. */
    INITIAL_EXEC,
    /** A thread-pointer offset in the code itself. */
    LOCAL_EXEC,
    /** An offset inside the block, a module id, or a marker: only the symbol must be thread-local. */
    BLOCK_OFFSET
}
