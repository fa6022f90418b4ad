/**
 * jdyld's runtime linker. Only {@code dev.jdyld.jit}, the embedding API, is exported; the reader
 * ({@code dev.jdyld.elf}), the engine ({@code dev.jdyld.link} and its architecture packages) and
 * the run-time support ({@code dev.jdyld.runtime}) are internal.
 */
module dev.jdyld.linker {
    requires transitive dev.jdyld.memory;

    exports dev.jdyld.jit;
}
