/**
 * Address-space reservation, slabs and permission groups for loaded code, mapped through FFM. The
 * C library's binding ({@code dev.jdyld.memory.libc}) is shared with the runtime linker only.
 */
module dev.jdyld.memory {
    exports dev.jdyld.memory;
    exports dev.jdyld.memory.libc to dev.jdyld.linker;
}
