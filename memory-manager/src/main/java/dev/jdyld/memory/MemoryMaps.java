package dev.jdyld.memory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The process's mappings as {@code /proc/self/maps} lists them: for finding free address ranges,
 * and for tests and accounting that check what the kernel really has.
 */
public final class MemoryMaps {
    private MemoryMaps() {}

    /**
     * One line of {@code /proc/self/maps}.
     *
     * @param start       first address
     * @param end         address after the last byte
     * @param permissions as printed, e.g. {@code r-xp}
     * @param name        the path or pseudo-name, empty for anonymous memory
     */
    public record Mapping(long start, long end, String permissions, String name) {
        /**
         * Whether the mapping shares a byte with {@code [from, to)}.
         *
         * @param from first address of the range
         * @param to   address after the range
         * @return true if they overlap
         */
        public boolean overlaps(long from, long to) {
            return start < to && from < end;
        }
    }

    /**
     * Every mapping of the process, in address order.
     *
     * @return every mapping, in address order
     * @throws MemoryException if {@code /proc/self/maps} cannot be read
     */
    public static List<Mapping> read() {
        return read("self");
    }

    /**
     * Every mapping of a process, in address order.
     *
     * @param process {@code self}, or a process id of the same user
     * @return every mapping, in address order
     * @throws MemoryException if its maps cannot be read
     */
    public static List<Mapping> read(String process) {
        try {
            return parse(Files.readAllLines(Path.of("/proc/" + process + "/maps")));
        } catch (IOException e) {
            throw new MemoryException("cannot read /proc/" + process + "/maps: " + e.getMessage());
        }
    }

    /**
     * The mappings of a {@code maps} file's lines (a process's own view, as a child executor sends it).
     *
     * @param lines the file's lines
     * @return every mapping, in the lines' order
     */
    public static List<Mapping> parse(List<String> lines) {
        List<Mapping> mappings = new ArrayList<>();
        for (String line : lines) {
            if (line.isBlank()) {
                continue;
            }
            String[] fields = line.split("\\s+", 6);
            int dash = fields[0].indexOf('-');
            mappings.add(new Mapping(Long.parseUnsignedLong(fields[0], 0, dash, 16),
                    Long.parseUnsignedLong(fields[0], dash + 1, fields[0].length(), 16),
                    fields[1], fields.length > 5 ? fields[5].trim() : ""));
        }
        return mappings;
    }

    /**
     * How many mappings overlap {@code [from, to)}.
     *
     * @param from first address of the range
     * @param to   address after the range
     * @return how many mappings overlap it
     */
    public static int countMappings(long from, long to) {
        int count = 0;
        for (Mapping mapping : read()) {
            if (mapping.overlaps(from, to)) {
                count++;
            }
        }
        return count;
    }

    /**
     * Mapped ranges of a process as {start, end} pairs, sorted by start.
     *
     * @param process {@code self}, or a process id of the same user
     * @return the ranges
     * @throws MemoryException if its maps cannot be read
     */
    public static List<long[]> mappedRanges(String process) {
        List<long[]> ranges = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + process + "/maps"))) {
                int dash = line.indexOf('-');
                int space = line.indexOf(' ');
                if (dash <= 0 || space <= dash) {
                    continue;
                }
                ranges.add(new long[] {Long.parseUnsignedLong(line, 0, dash, 16),
                        Long.parseUnsignedLong(line, dash + 1, space, 16)});
            }
        } catch (IOException e) {
            throw new MemoryException("cannot read /proc/" + process + "/maps: " + e.getMessage());
        }
        ranges.sort((a, b) -> Long.compareUnsigned(a[0], b[0]));
        return ranges;
    }

    /**
     * The address of a free range of {@code length} bytes, aligned to {@code alignment}, whose start
     * lies in {@code [minStart, maxStart]}, as close to {@code anchor} as possible; -1 if none.
     */
    static long findFree(List<long[]> mapped, long length, long alignment, long minStart, long maxStart, long anchor) {
        long best = -1;
        long bestDistance = Long.MAX_VALUE;
        long previousEnd = 0x10000; // below vm.mmap_min_addr nothing can be mapped
        List<long[]> ranges = new ArrayList<>(mapped);
        ranges.add(new long[] {0x7fff_ffff_f000L, 0x7fff_ffff_f000L}); // top of the user address space
        for (long[] range : ranges) {
            long gapStart = previousEnd;
            long gapEnd = range[0];
            previousEnd = Math.max(previousEnd, range[1]);
            if (gapEnd - gapStart < length) {
                continue;
            }
            long lo = Math.max(alignUp(gapStart, alignment), alignUp(minStart, alignment));
            long hi = Math.min(alignDown(gapEnd - length, alignment), alignDown(maxStart, alignment));
            if (lo > hi) {
                continue;
            }
            long candidate = Math.max(lo, Math.min(hi, alignDown(anchor, alignment)));
            long distance = Math.abs(candidate - anchor);
            if (distance < bestDistance) {
                best = candidate;
                bestDistance = distance;
            }
        }
        return best;
    }

    static long alignUp(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }

    static long alignDown(long value, long alignment) {
        return value & -alignment;
    }
}
