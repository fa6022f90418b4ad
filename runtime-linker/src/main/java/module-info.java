/**
 * jdyld's runtime linker. Exported: {@code dev.jdyld.jit}, the embedding API, and
 * {@code dev.jdyld.core}, the values and errors every layer shares (inputs, layouts, locations, the
 * {@code LinkException} family). The reader ({@code dev.jdyld.elf}), the engine
 * ({@code dev.jdyld.link} and its architecture packages) and the run-time support
 * ({@code dev.jdyld.runtime}) are internal.
 */
module dev.jdyld.linker {
    requires transitive dev.jdyld.memory;

    exports dev.jdyld.jit;
    exports dev.jdyld.core;
}
