package dev.jdyld.memory;

import dev.jdyld.memory.libc.Libc;

import java.util.List;

/**
 * The process a {@link MemoryManager} places sets in: this one ({@link #self()}), or an executor
 * process the code runs in. The manager decides every address; the address space carries out the
 * mapping calls there. A remote address space is always backed by memory files: this process maps
 * each window once, writable and never executable, and writes the sets through that view; the other
 * process maps the same file at the chosen addresses with the final permissions, so nothing is
 * copied and no mapping of either process is ever writable and executable.
 */
public abstract class AddressSpace {
    /**
     * This process, mapped with {@code mmap}/{@code mprotect} directly.
     *
     * @return the address space of the JVM itself
     */
    public static AddressSpace self() {
        return Self.INSTANCE;
    }

    /** For the executors' address spaces; this process's is {@link #self()}. */
    protected AddressSpace() {}

    /**
     * Whether the sets live in another process, written through a view of their memory files here.
     *
     * @return true for an executor's address space
     */
    public abstract boolean isRemote();

    /**
     * An address inside the host C library's code there: windows go near it, so that the sets reach
     * the host's functions with 32-bit PC-relative references.
     *
     * @return an address of the host's code
     */
    public abstract long anchor();

    /**
     * Every mapped range, as {@code {start, end}} pairs sorted by start (from {@code /proc/PID/maps}).
     *
     * @return the mapped ranges
     * @throws MemoryException if the process's maps cannot be read
     */
    public abstract List<long[]> mappedRanges();

    /**
     * How many mappings there overlap {@code [from, to)}.
     *
     * @param from first address of the range
     * @param to   address after the range
     * @return how many mappings overlap it
     */
    public int countMappings(long from, long to) {
        int count = 0;
        for (long[] range : mappedRanges()) {
            if (range[0] < to && from < range[1]) {
                count++;
            }
        }
        return count;
    }

    /**
     * Every mapping there, with its permissions and name (from {@code /proc/PID/maps}).
     *
     * @return the mappings, in address order
     * @throws MemoryException if the process's maps cannot be read
     */
    public abstract List<MemoryMaps.Mapping> mappings();

    /**
     * Maps {@code size} bytes {@code PROT_NONE} at exactly {@code address}, without replacing anything:
     * the memory file {@code memfd} from offset 0 (shared), or anonymous private memory when it is -1.
     *
     * @param address the window's base, page aligned
     * @param size    the window's size
     * @param memfd   the memory file behind the window, or -1 (refused by a remote address space)
     * @return {@code address}, or {@code -errno} ({@code -EEXIST} when something is mapped there)
     */
    public abstract long reserve(long address, long size, int memfd);

    /**
     * {@code mprotect} there.
     *
     * @param address first address, page aligned
     * @param length  bytes
     * @param prot    {@code PROT_*} bits (read 1, write 2, execute 4); never write and execute together
     * @throws MemoryException if it fails
     */
    public abstract void protect(long address, long length, int prot);

    /**
     * {@code munmap} there.
     *
     * @param address first address, page aligned
     * @param length  bytes
     * @throws MemoryException if it fails
     */
    public abstract void unmap(long address, long length);

    /** The JVM's own address space: the calls go straight to {@link Libc}. */
    private static final class Self extends AddressSpace {
        static final Self INSTANCE = new Self();

        private Self() {}

        @Override
        public boolean isRemote() {
            return false;
        }

        @Override
        public long anchor() {
            return Libc.hostAnchor();
        }

        @Override
        public List<long[]> mappedRanges() {
            return MemoryMaps.mappedRanges("self");
        }

        @Override
        public List<MemoryMaps.Mapping> mappings() {
            return MemoryMaps.read();
        }

        @Override
        public long reserve(long address, long size, int memfd) {
            int flags = Libc.MAP_NORESERVE | Libc.MAP_FIXED_NOREPLACE
                    | (memfd >= 0 ? Libc.MAP_SHARED : Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS);
            return MemoryCalls.tryMmap(address, size, Libc.PROT_NONE, flags, memfd, 0);
        }

        @Override
        public void protect(long address, long length, int prot) {
            MemoryCalls.mprotect(address, length, prot);
        }

        @Override
        public void unmap(long address, long length) {
            MemoryCalls.munmap(address, length);
        }
    }
}
