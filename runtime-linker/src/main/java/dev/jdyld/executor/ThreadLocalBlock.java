package dev.jdyld.executor;

/** A set's thread-local storage in the target: a key of per-thread blocks, or a block in static TLS. */
public interface ThreadLocalBlock {
    /** The module id GD/LD GOT entries and TLS descriptors hold: the key. */
    long moduleId();

    /** The block's offset from the thread pointer when it is in static TLS; 0 when it is not. */
    long threadPointerOffset();

    /** Whether the block is in static TLS. */
    boolean isStatic();

    /** Bytes per thread. */
    long blockSize();

    /** The block's alignment. */
    long alignment();

    /** Deletes the key (or releases the static block); blocks of threads that still run are freed as they exit. */
    void close();
}
