/** Address-space reservation, slabs and permission groups for loaded code, mapped through FFM. */
module dev.jdyld.memory {
    exports dev.jdyld.memory;
}
