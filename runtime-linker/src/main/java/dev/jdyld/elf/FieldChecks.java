package dev.jdyld.elf;

import dev.jdyld.core.Location;
import dev.jdyld.core.UnsupportedObjectException;

import static dev.jdyld.elf.Elf.*;

/**
 * The checks of an object's 64-bit section and symbol fields that the layout later does
 * arithmetic with: sizes, file ranges, alignments, symbol values and sizes. ELF defines these
 * fields as unsigned, so every limit is compared unsigned: a signed comparison lets values of
 * 2^63 and above through as negative numbers (2^63 is a power of two, and as a signed number it
 * is below 1 GiB).
 */
final class FieldChecks {
    /** Largest section (or symbol) a set can hold: everything of a set lies within ±2 GiB. */
    static final long MAX_SIZE = 1L << 31;
    /** Largest alignment a slab honours; larger ones are well-formed but refused as unsupported. */
    static final long MAX_ALIGNMENT = 1L << 30;

    private FieldChecks() {}

    /** Whether {@code value}, read as unsigned, is greater than {@code limit}. */
    static boolean above(long value, long limit) {
        return Long.compareUnsigned(value, limit) > 0;
    }

    static String hex(long value) {
        return "0x" + Long.toHexString(value);
    }

    /**
     * Section {@code i}'s header: contents inside the file for every section with contents (all
     * but NOBITS; inactive SHT_NULL headers were cleared to an empty range), a NOBITS size a set can
     * hold, and an alignment that is 0 or a power of two no larger than {@link #MAX_ALIGNMENT}.
     */
    static void section(ElfObject object, int i) {
        String name = object.sectionName[i] != null ? object.sectionName[i] : "#" + i;
        long header = object.headerOffset(i);
        long size = object.sectionSize[i];
        if (object.sectionType[i] != SHT_NOBITS) {
            object.checkRange(name, header + 24, object.sectionOffset[i], size, "section contents");
        } else if (above(size, MAX_SIZE)) {
            throw object.malformed(name, header + 32, "size " + hex(size) + " is more than a set can hold ("
                    + (MAX_SIZE >> 30) + " GiB)");
        }
        long align = object.sectionAlign[i];
        if (Long.bitCount(align) > 1) {
            throw object.malformed(name, header + 48, "alignment " + hex(align) + " is not a power of two");
        }
        if (above(align, MAX_ALIGNMENT)) {
            throw new UnsupportedObjectException(Location.file(object.name).section(name).offset(header + 48),
                    "unsupported: alignment " + hex(align) + " is more than a set can honour ("
                            + (MAX_ALIGNMENT >> 30) + " GiB)");
        }
    }

    /**
     * Symbol {@code s}, whose entry is at file offset {@code entry} of the symbol table: a defined
     * symbol's size fits a set; one defined in a section lies inside it (value, then value plus
     * size), and that section is not an inactive SHT_NULL one; a common symbol's value, its
     * alignment, is a power of two no larger than {@link #MAX_ALIGNMENT}.
     */
    static void symbol(ElfObject object, int s, long entry) {
        int section = object.symbolSection[s];
        if (section == SHN_UNDEF) {
            return; // the value and size of an undefined symbol are never used
        }
        String table = object.sectionName[object.symtabIndex];
        long value = object.symbolValue[s];
        long size = object.symbolSize[s];
        if (above(size, MAX_SIZE)) {
            throw object.malformed(table, entry + 16, name(object, s) + " size " + hex(size)
                    + " is more than a set can hold (" + (MAX_SIZE >> 30) + " GiB)");
        }
        if (section == SHN_COMMON) {
            if (Long.bitCount(value) != 1) {
                throw object.malformed(table, entry + 8, "common " + name(object, s) + " alignment "
                        + hex(value) + " is not a power of two");
            }
            if (above(value, MAX_ALIGNMENT)) {
                throw new UnsupportedObjectException(Location.file(object.name).section(table).offset(entry + 8),
                        "unsupported: common " + name(object, s) + " alignment " + hex(value)
                                + " is more than a set can honour (" + (MAX_ALIGNMENT >> 30) + " GiB)");
            }
        } else if (section != SHN_ABS) {
            String in = object.sectionName[section];
            if (object.sectionType[section] == SHT_NULL) {
                // GNU ld makes such a symbol absolute; here its address would be its value, anywhere.
                throw object.malformed(table, entry + 6, name(object, s) + " is defined in section " + in
                        + ", which is inactive (SHT_NULL)");
            }
            long room = object.sectionSize[section];
            if (above(value, room)) {
                throw object.malformed(table, entry + 8, name(object, s) + " value " + hex(value)
                        + " beyond the end of section " + in + " (" + hex(room) + " bytes)");
            }
            if (above(size, room - value)) {
                throw object.malformed(table, entry + 16, name(object, s) + " at " + hex(value) + " of size "
                        + hex(size) + " runs past the end of section " + in + " (" + hex(room) + " bytes)");
            }
        }
    }

    /** {@code symbol 'name'}, or {@code symbol #N} for an unnamed one; only made for a message. */
    private static String name(ElfObject object, int s) {
        String name = object.symbolName(s);
        return name.isEmpty() ? "symbol #" + s : "symbol '" + name + "'";
    }
}
