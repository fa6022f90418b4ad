package dev.jdyld.link.arch;

import dev.jdyld.elf.ElfObject;
import dev.jdyld.core.Location;
import dev.jdyld.core.RelocationException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.jdyld.elf.Elf.U16;
import static dev.jdyld.elf.Elf.U32;
import static dev.jdyld.elf.Elf.U64;

/**
 * One relocation section being applied: the loaded bytes of its target section (a segment of
 * exactly that size, so every write is bounds-checked), the address they run at, and the
 * object's resolved symbols. Its field writers check the range of every value before writing:
 * nothing is ever silently truncated.
 */
public final class RelocationTarget {
    public final ElfObject object;
    /** Index of the {@code SHT_RELA} section. */
    public final int rela;
    public final MemorySegment bytes;
    public final long address;
    public final ResolvedSymbols symbols;
    /** Thunks for branches that do not reach; null when the set has none. */
    public final RangeExtensions rangeExtensions;
    private final Architecture arch;

    public RelocationTarget(Architecture arch, ElfObject object, int rela, MemorySegment bytes, long address,
                            ResolvedSymbols symbols) {
        this(arch, object, rela, bytes, address, symbols, null);
    }

    public RelocationTarget(Architecture arch, ElfObject object, int rela, MemorySegment bytes, long address,
                            ResolvedSymbols symbols, RangeExtensions rangeExtensions) {
        this.rangeExtensions = rangeExtensions;
        this.arch = arch;
        this.object = object;
        this.rela = rela;
        this.bytes = bytes;
        this.address = address;
        this.symbols = symbols;
    }

    public void put64(long offset, long value) {
        bytes.set(U64, offset, value);
    }

    /**
     * A signed 32-bit field. Out of range is an error, except for a reference to a dropped COMDAT
     * group (only {@code .eh_frame} has those), which is left unapplied as static linkers do.
     */
    public void putSigned32(long offset, long value, long entry) {
        if (value != (int) value) {
            if (symbols.inDroppedGroup[symbolOf(entry)]) {
                return;
            }
            throw overflow(entry, value, "a signed 32-bit field");
        }
        bytes.set(U32, offset, (int) value);
    }

    public void putUnsigned32(long offset, long value, long entry) {
        if ((value >>> 32) != 0) {
            throw overflow(entry, value, "an unsigned 32-bit field");
        }
        bytes.set(U32, offset, (int) value);
    }

    /** A 16-bit field that may hold a signed or an unsigned value. */
    public void put16(long offset, long value, long entry) {
        if (value < Short.MIN_VALUE || value > 0xffff) {
            throw overflow(entry, value, "a 16-bit field");
        }
        bytes.set(U16, offset, (short) value);
    }

    public void putSigned16(long offset, long value, long entry) {
        if (value != (short) value) {
            throw overflow(entry, value, "a signed 16-bit field");
        }
        bytes.set(U16, offset, (short) value);
    }

    /** An 8-bit field that may hold a signed or an unsigned value. */
    public void put8(long offset, long value, long entry) {
        if (value < Byte.MIN_VALUE || value > 0xff) {
            throw overflow(entry, value, "an 8-bit field");
        }
        bytes.set(ValueLayout.JAVA_BYTE, offset, (byte) value);
    }

    public void putSigned8(long offset, long value, long entry) {
        if (value != (byte) value) {
            throw overflow(entry, value, "a signed 8-bit field");
        }
        bytes.set(ValueLayout.JAVA_BYTE, offset, (byte) value);
    }

    /** The error for a value that does not fit its field, naming object, section, offset, type and symbol. */
    public RelocationException overflow(long entry, long value, String range) {
        return new RelocationException(location(entry), "value 0x" + Long.toHexString(value) + " does not fit " + range);
    }

    /** An error about the entry at {@code entry}, naming object, section, offset, type and symbol. */
    public RelocationException error(long entry, String what) {
        return new RelocationException(location(entry), what);
    }

    /** The error for a type the apply loop does not know (the scan refuses these first). */
    public RelocationException unsupported(long entry) {
        return new RelocationException(location(entry), "unsupported relocation");
    }

    private int symbolOf(long entry) {
        return (int) (object.u64(entry + 8) >>> 32);
    }

    private Location location(long entry) {
        int type = (int) object.u64(entry + 8);
        return object.location(object.sectionInfo[rela], object.u64(entry)).relocation(arch.relocationName(type))
                .symbol(object.describeSymbol(symbolOf(entry)));
    }
}
