package dev.jdyld.runtime.child;

import dev.jdyld.core.ExecutorException;
import dev.jdyld.memory.AddressSpace;
import dev.jdyld.memory.MemoryException;
import dev.jdyld.memory.MemoryMaps;

import java.util.List;

/**
 * The executor's address space, for the memory manager: placement reads its
 * {@code /proc/PID/maps}, and each mapping call is one small request; the sets' bytes never cross
 * the socket (the memory files are shared).
 */
final class ChildAddressSpace extends AddressSpace {
    private static final int EEXIST = 17;

    private final ChildProcess child;

    ChildAddressSpace(ChildProcess child) {
        this.child = child;
    }

    @Override
    public boolean isRemote() {
        return true;
    }

    @Override
    public long anchor() {
        return child.anchor();
    }

    @Override
    public List<long[]> mappedRanges() {
        return MemoryMaps.mappedRanges(Integer.toString(child.pid()));
    }

    /**
     * The executor's own view (its {@code /proc/self/maps}): under qemu-user the guest's, where code
     * is executable; the host's view of qemu's process maps it read-only. Placement reads the
     * host's ({@link #mappedRanges()}), which also has qemu's own mappings, where the guest cannot map.
     */
    @Override
    public List<MemoryMaps.Mapping> mappings() {
        byte[] text = child.request(Protocol.MAPS, new byte[0], 0);
        return MemoryMaps.parse(new String(text, java.nio.charset.StandardCharsets.UTF_8).lines().toList());
    }

    @Override
    public long reserve(long address, long size, int memfd) {
        if (memfd < 0) {
            throw new MemoryException("internal error: the executor's windows must be memory files");
        }
        try {
            child.requestWithDescriptor(Protocol.MAP_WINDOW, new Protocol.Writer().u64(address).u64(size).bytes(), memfd, 0);
            return address;
        } catch (ExecutorException e) {
            if (child.isAlive() && e.getMessage().endsWith("File exists")) {
                return -EEXIST; // mapped there since its maps were read: the manager looks again
            }
            throw new MemoryException("cannot map a window in the executor: " + e.getMessage());
        }
    }

    @Override
    public void protect(long address, long length, int prot) {
        request(Protocol.PROTECT, new Protocol.Writer().u64(address).u64(length).u32(prot).bytes());
    }

    @Override
    public void unmap(long address, long length) {
        if (child.isAlive()) { // a dead executor's mappings went with it
            request(Protocol.UNMAP, new Protocol.Writer().u64(address).u64(length).bytes());
        }
    }

    private void request(int opcode, byte[] payload) {
        try {
            child.request(opcode, payload, 0);
        } catch (ExecutorException e) {
            if (child.isAlive()) {
                throw new MemoryException(e.getMessage());
            }
            // The executor is gone, with its address space: nothing there is left to change.
        }
    }
}
