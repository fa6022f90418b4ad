package dev.jdyld.link;

import dev.jdyld.executor.ThreadLocalBlock;
import dev.jdyld.link.layout.GotTable;

/**
 * The set's GOT, filled: the plan's {@link GotTable} gave every entry its slot, this writes what
 * each holds once addresses are known, as JITLink's table managers do. Entries by kind:
 * an address (or, for thread-locals, an offset from the thread pointer in static TLS), a
 * {@code tls_index} pair (module, offset) for general and local dynamic, and a TLS descriptor
 * (resolver, module, offset).
 */
final class GotEntries {
    private final SetImage image;
    private final GotTable got;
    /** The set's TLS module id and static-TLS offset, 0 when it has none. */
    private final long module;
    private final long threadPointerOffset;
    private final long descriptorResolver;

    GotEntries(SetImage image, ThreadLocalBlock tls) {
        this.image = image;
        this.got = image.plan.got;
        this.module = tls == null ? 0 : tls.moduleId();
        this.threadPointerOffset = tls == null ? 0 : tls.threadPointerOffset();
        this.descriptorResolver = image.tlsCode + image.plan.arch.tlsDescriptorResolverEntry();
    }

    long module() {
        return module;
    }

    long threadPointerOffset() {
        return threadPointerOffset;
    }

    /**
     * Entries of globals: addresses (an IFUNC's through its stub; a host thread-local's as its
     * offset from a thread pointer of the target, asked for only then), TLS index pairs and descriptors.
     */
    void fillGlobals(java.util.function.LongSupplier threadPointer) {
        for (GlobalSymbol global : image.plan.symbols.globals) {
            int slot = got.slot(GotTable.Entry.ADDRESS, global.id);
            if (slot >= 0) {
                long value = global.address;
                if (global.tls && global.kind == GlobalSymbol.Kind.HOST) {
                    value = image.plan.arch.initialExecOffset(global.name, global.address, threadPointer.getAsLong());
                } else if (global.tls) {
                    value = threadPointerOffset + global.address; // the set's own, in static TLS
                }
                if (global.ifunc && global.kind == GlobalSymbol.Kind.DEFINED) {
                    value = image.stubAddress(image.plan.stubs.stub(global.id));
                }
                image.putGot(slot, value);
            }
            fillTls(got.slot(GotTable.Entry.TLS_INDEX, global.id), got.slot(GotTable.Entry.TLS_DESCRIPTOR, global.id),
                    global.address);
        }
    }

    /** Entries of object {@code o}'s local symbol {@code s} at {@code address}; {@code threadLocal}: in a TLS section. */
    void fillLocal(int o, int s, long address, boolean threadLocal) {
        int slot = got.localSlot(GotTable.Entry.ADDRESS, o, s);
        if (slot >= 0) {
            image.putGot(slot, threadLocal ? threadPointerOffset + address : address);
        }
        fillTls(got.localSlot(GotTable.Entry.TLS_INDEX, o, s), got.localSlot(GotTable.Entry.TLS_DESCRIPTOR, o, s), address);
    }

    private void fillTls(int index, int descriptor, long offset) {
        if (index >= 0) {
            image.putGot(index, module, threadPointerOffset + offset);
        }
        if (descriptor >= 0) {
            image.putGot(descriptor, descriptorResolver, module, threadPointerOffset + offset);
        }
    }

    /** The local-dynamic module entry: the set's module, offset 0 in its block. */
    void fillModuleIndex() {
        int moduleIndex = got.moduleIndexSlot();
        if (moduleIndex >= 0) {
            image.putGot(moduleIndex, module, threadPointerOffset);
        }
    }
}
