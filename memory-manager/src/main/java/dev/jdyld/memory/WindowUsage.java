package dev.jdyld.memory;

/**
 * Accounting of one reserved window.
 *
 * @param base        first address of the window
 * @param reserved    bytes of address space reserved ({@code PROT_NONE} until used)
 * @param committed   bytes of pages handed to sets (page-rounded)
 * @param used        bytes the sets asked for
 * @param padding     {@code committed - used}: rounding to pages and alignment
 * @param slabs       sets living in the window
 * @param dualMapped  whether the window is a memory file mapped twice
 * @param mappings    kernel mappings (VMAs, lines of {@code /proc/self/maps}) the window costs now
 */
public record WindowUsage(long base, long reserved, long committed, long used, long padding, int slabs,
                          boolean dualMapped, int mappings) {}
