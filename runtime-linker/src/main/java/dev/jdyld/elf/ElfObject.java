package dev.jdyld.elf;

import dev.jdyld.core.Location;
import dev.jdyld.core.MalformedObjectException;
import dev.jdyld.core.UnsupportedObjectException;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

import static dev.jdyld.elf.Elf.*;

/**
 * A relocatable ELF64 object, read and validated. Everything the linker later trusts is
 * checked here once: header fields, section ranges inside the file, sizes and alignments, string
 * tables, the symbol table with its section indexes, values and sizes ({@link FieldChecks}),
 * relocation sections and their links. Relocation entries are checked by the scan pass, which
 * reads each of them anyway.
 *
 * <p>Section and symbol fields are kept in flat arrays indexed by section or symbol number, so
 * the relocation loops read primitives only. The reader is machine-neutral: {@link #machine} is
 * recorded and checked by the linker against its architecture. It holds no link state; the
 * arrays are read-only once constructed.
 */
public final class ElfObject {
    public final String name;
    public final byte[] bytes;
    public final MemorySegment data;
    public final int machine;

    // Section headers, by section index.
    public final int sectionCount;
    public final String[] sectionName;
    public final int[] sectionType;
    public final long[] sectionFlags;
    public final long[] sectionOffset;
    public final long[] sectionSize;
    public final int[] sectionLink;
    public final int[] sectionInfo;
    public final long[] sectionAlign;
    public final long[] sectionEntsize;

    // Symbol table, by symbol index; index 0 is the null symbol.
    public final int symtabIndex;
    public final int symbolCount;
    public final int firstGlobal;
    public final int[] symbolNameOffset;
    public final byte[] symbolInfo;
    public final byte[] symbolOther;
    public final int[] symbolSection;
    public final long[] symbolValue;
    public final long[] symbolSize;
    private final String[] symbolNameCache;
    private final long strtabOffset;
    private final long strtabSize;

    /** Indexes of {@code SHT_RELA} sections. */
    public final int[] relaSections;

    private ElfObject(String name, byte[] bytes) {
        this.name = name;
        this.bytes = bytes;
        this.data = MemorySegment.ofArray(bytes);
        long size = bytes.length;
        if (size < EI_NIDENT) {
            throw malformed(null, 0, "file is " + size + " bytes, shorter than an ELF identification");
        }
        if (bytes[0] != 0x7f || bytes[1] != 'E' || bytes[2] != 'L' || bytes[3] != 'F') {
            throw malformed(null, 0, "not an ELF file (bad magic)");
        }
        int elfClass = bytes[4];
        int elfData = bytes[5];
        if (elfClass != ELFCLASS64) {
            throw unsupported(elfClass == ELFCLASS32 ? "32-bit ELF (ELFCLASS32)" : "EI_CLASS " + elfClass);
        }
        if (elfData != ELFDATA2LSB) {
            throw unsupported(elfData == ELFDATA2MSB ? "big-endian ELF (ELFDATA2MSB)" : "EI_DATA " + elfData);
        }
        if (bytes[6] != EV_CURRENT) {
            throw malformed(null, 6, "unknown ELF version " + bytes[6]);
        }
        if (size < EHDR_SIZE) {
            throw malformed(null, 0, "file is " + size + " bytes, shorter than the 64-byte ELF header");
        }
        int type = u16(16);
        machine = u16(18);
        if (type != ET_REL) {
            throw unsupported(typeName(type));
        }
        long shoff = u64(40);
        int shentsize = u16(58);
        int shnum = u16(60);
        int shstrndx = u16(62);
        if (shoff == 0) {
            throw malformed(null, 40, "no section header table");
        }
        if (shentsize != SHDR_SIZE) {
            throw malformed(null, 58, "e_shentsize is " + shentsize + ", expected " + SHDR_SIZE);
        }
        checkRange(null, 40, shoff, SHDR_SIZE, "section header table");
        if (shnum == 0) {
            long extended = u64(shoff + 32); // SHN_XINDEX scheme: the real count is section 0's sh_size
            if (extended <= 0 || extended > (size - shoff) / SHDR_SIZE) {
                throw malformed(null, shoff + 32, "extended section count " + extended + " does not fit the file");
            }
            shnum = (int) extended;
        }
        if (shstrndx == SHN_XINDEX) {
            shstrndx = u32(shoff + 40);
        }
        checkRange(null, 40, shoff, (long) shnum * SHDR_SIZE, "section header table of " + shnum + " entries");
        sectionCount = shnum;
        sectionName = new String[shnum];
        sectionType = new int[shnum];
        sectionFlags = new long[shnum];
        sectionOffset = new long[shnum];
        sectionSize = new long[shnum];
        sectionLink = new int[shnum];
        sectionInfo = new int[shnum];
        sectionAlign = new long[shnum];
        sectionEntsize = new long[shnum];
        int[] nameOffset = new int[shnum];
        for (int i = 0; i < shnum; i++) {
            long h = shoff + (long) i * SHDR_SIZE;
            nameOffset[i] = u32(h);
            sectionType[i] = u32(h + 4);
            sectionFlags[i] = u64(h + 8);
            sectionOffset[i] = u64(h + 24);
            sectionSize[i] = u64(h + 32);
            sectionLink[i] = u32(h + 40);
            sectionInfo[i] = u32(h + 44);
            sectionAlign[i] = u64(h + 48);
            sectionEntsize[i] = u64(h + 56);
            if (i > 0 && sectionType[i] == SHT_NULL) {
                // The gABI calls an SHT_NULL header inactive, its other fields undefined; GNU ld and lld
                // ignore them. Cleared, they cannot make the section loaded, sized or read.
                sectionFlags[i] = sectionOffset[i] = sectionSize[i] = sectionAlign[i] = sectionEntsize[i] = 0;
                sectionLink[i] = sectionInfo[i] = 0;
            }
        }
        if (shstrndx <= 0 || shstrndx >= shnum || sectionType[shstrndx] != SHT_STRTAB) {
            throw malformed(null, 62, "section name string table index " + shstrndx + " is not a string table");
        }
        FieldChecks.section(this, shstrndx); // before any name is read from it
        for (int i = 0; i < shnum; i++) {
            sectionName[i] = string(shstrndx, sectionOffset[shstrndx], sectionSize[shstrndx], nameOffset[i],
                    shoff + (long) i * SHDR_SIZE, "#" + i);
        }
        for (int i = 1; i < shnum; i++) {
            FieldChecks.section(this, i);
            if (sectionAlign[i] == 0) {
                sectionAlign[i] = 1;
            }
        }

        int symtab = -1;
        int symtabShndx = -1;
        int relaCount = 0;
        for (int i = 1; i < shnum; i++) {
            switch (sectionType[i]) {
                case SHT_SYMTAB -> {
                    if (symtab >= 0) {
                        throw malformed(sectionName[i], headerOffset(i), "second symbol table");
                    }
                    symtab = i;
                }
                case SHT_SYMTAB_SHNDX -> symtabShndx = i;
                case SHT_RELA -> relaCount++;
                case SHT_REL -> throw unsupported("SHT_REL section " + sectionName[i]
                        + " (relocations without addends; jdyld reads SHT_RELA)");
                case SHT_DYNAMIC, SHT_DYNSYM -> throw unsupported("dynamic section " + sectionName[i]
                        + " in a relocatable object");
                default -> { }
            }
            if ((sectionFlags[i] & SHF_COMPRESSED) != 0 && (sectionFlags[i] & SHF_ALLOC) != 0) {
                throw unsupported("compressed allocated section " + sectionName[i]);
            }
        }
        symtabIndex = symtab;
        if (symtab < 0) {
            symbolCount = 1;
            firstGlobal = 1;
            strtabOffset = 0;
            strtabSize = 0;
        } else {
            if (sectionEntsize[symtab] != SYM_SIZE || sectionSize[symtab] % SYM_SIZE != 0) {
                throw malformed(sectionName[symtab], headerOffset(symtab),
                        "symbol table entry size " + sectionEntsize[symtab] + " or size " + sectionSize[symtab]
                                + " inconsistent with " + SYM_SIZE + "-byte entries");
            }
            long count = sectionSize[symtab] / SYM_SIZE;
            if (count == 0 || count > Integer.MAX_VALUE / 2) {
                throw malformed(sectionName[symtab], headerOffset(symtab), "symbol table has " + count + " entries");
            }
            symbolCount = (int) count;
            int strtab = sectionLink[symtab];
            if (strtab <= 0 || strtab >= shnum || sectionType[strtab] != SHT_STRTAB) {
                throw malformed(sectionName[symtab], headerOffset(symtab) + 40,
                        "sh_link " + strtab + " is not a string table");
            }
            strtabOffset = sectionOffset[strtab];
            strtabSize = sectionSize[strtab];
            int info = sectionInfo[symtab];
            if (info < 1 || info > symbolCount) {
                throw malformed(sectionName[symtab], headerOffset(symtab) + 44,
                        "first global symbol index " + info + " outside 1.." + symbolCount);
            }
            firstGlobal = info;
        }
        symbolNameOffset = new int[symbolCount];
        symbolInfo = new byte[symbolCount];
        symbolOther = new byte[symbolCount];
        symbolSection = new int[symbolCount];
        symbolValue = new long[symbolCount];
        symbolSize = new long[symbolCount];
        symbolNameCache = new String[symbolCount];
        if (symtab >= 0) {
            readSymbols(symtab, symtabShndx);
        }

        relaSections = new int[relaCount];
        int r = 0;
        for (int i = 1; i < shnum; i++) {
            if (sectionType[i] != SHT_RELA) {
                continue;
            }
            if (sectionEntsize[i] != RELA_SIZE || sectionSize[i] % RELA_SIZE != 0) {
                throw malformed(sectionName[i], headerOffset(i), "relocation entry size " + sectionEntsize[i]
                        + " or size " + sectionSize[i] + " inconsistent with " + RELA_SIZE + "-byte entries");
            }
            if (sectionLink[i] != symtab) {
                throw malformed(sectionName[i], headerOffset(i) + 40,
                        "sh_link " + sectionLink[i] + " is not the symbol table");
            }
            int target = sectionInfo[i];
            if (target <= 0 || target >= shnum) {
                throw malformed(sectionName[i], headerOffset(i) + 44, "target section " + target + " does not exist");
            }
            relaSections[r++] = i;
        }
    }

    /** Reads and validates {@code bytes} as a relocatable object named {@code name} in messages. */
    public static ElfObject parse(String name, byte[] bytes) {
        return new ElfObject(name, bytes);
    }

    private void readSymbols(int symtab, int symtabShndx) {
        long base = sectionOffset[symtab];
        long shndxBase = -1;
        if (symtabShndx >= 0) {
            if (sectionLink[symtabShndx] != symtab || sectionSize[symtabShndx] < (long) symbolCount * 4) {
                throw malformed(sectionName[symtabShndx], headerOffset(symtabShndx),
                        "SHT_SYMTAB_SHNDX does not cover the symbol table");
            }
            shndxBase = sectionOffset[symtabShndx];
        }
        for (int s = 0; s < symbolCount; s++) {
            long e = base + (long) s * SYM_SIZE;
            int nameOff = u32(e);
            if (Integer.toUnsignedLong(nameOff) >= strtabSize && nameOff != 0) {
                throw malformed(sectionName[symtab], e, "symbol " + s + " name offset " + Integer.toUnsignedString(nameOff)
                        + " outside the string table");
            }
            symbolNameOffset[s] = nameOff;
            symbolInfo[s] = bytes[(int) e + 4];
            symbolOther[s] = bytes[(int) e + 5];
            int shndx = u16(e + 6);
            if (shndx == SHN_XINDEX) {
                if (shndxBase < 0) {
                    throw malformed(sectionName[symtab], e + 6, "symbol " + s + " uses SHN_XINDEX without SHT_SYMTAB_SHNDX");
                }
                shndx = u32(shndxBase + 4L * s);
                if (shndx <= 0 || shndx >= sectionCount) {
                    throw malformed(sectionName[symtab], e + 6, "symbol " + s + " extended section index " + shndx);
                }
            } else if (shndx >= sectionCount && shndx < SHN_LORESERVE) {
                throw malformed(sectionName[symtab], e + 6, "symbol " + s + " section index " + shndx
                        + " but there are " + sectionCount + " sections");
            } else if (shndx >= SHN_LORESERVE && shndx != SHN_ABS && shndx != SHN_COMMON) {
                throw unsupported("symbol " + s + " in reserved section index 0x" + Integer.toHexString(shndx));
            }
            symbolSection[s] = shndx;
            symbolValue[s] = u64(e + 8);
            symbolSize[s] = u64(e + 16);
            int bind = binding(s);
            if (s >= firstGlobal && bind == STB_LOCAL) {
                throw malformed(sectionName[symtab], e + 4, "local symbol " + s + " after the first global " + firstGlobal);
            }
            if (s > 0 && s < firstGlobal && bind != STB_LOCAL) {
                throw malformed(sectionName[symtab], e + 4, "non-local symbol " + s + " before the first global " + firstGlobal);
            }
            if (bind != STB_LOCAL && bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE) {
                throw unsupported("symbol " + symbolName(s) + " binding " + bind);
            }
            FieldChecks.symbol(this, s, e);
        }
    }

    /** Decodes and hashes the names of the global symbols now, so that later lookups find them ready. */
    public void hashGlobalNames() {
        for (int s = firstGlobal; s < symbolCount; s++) {
            symbolName(s).hashCode();
        }
    }

    public int binding(int symbol) {
        return (symbolInfo[symbol] & 0xff) >>> 4;
    }

    public int symbolType(int symbol) {
        return symbolInfo[symbol] & 0xf;
    }

    public int visibility(int symbol) {
        return symbolOther[symbol] & 0x3;
    }

    /** Whether the symbol table entry is a definition (COMDAT groups dropped by the linker aside). */
    public boolean isDefined(int symbol) {
        return symbolSection[symbol] != SHN_UNDEF;
    }

    /** Whether the symbol is defined in a section (not absolute, common or undefined). */
    public boolean isInSection(int symbol) {
        int section = symbolSection[symbol];
        return section > 0 && section < SHN_LORESERVE;
    }

    /** {@code 'name'}, or {@code #N} for an unnamed symbol, as {@link Location} shows symbols. */
    public String describeSymbol(int symbol) {
        String name = symbolName(symbol);
        return name.isEmpty() ? "#" + symbol : name;
    }

    /** The location of this object, for errors. */
    public Location location() {
        return Location.file(name);
    }

    /** The location of a byte offset inside a section of this object, for errors. */
    public Location location(int section, long offset) {
        return Location.file(name).section(sectionName[section]).offset(offset);
    }

    /** The symbol's name; a section symbol is named after its section. */
    public String symbolName(int symbol) {
        String cached = symbolNameCache[symbol];
        if (cached != null) {
            return cached;
        }
        String result;
        if (symbolType(symbol) == STT_SECTION && symbolSection[symbol] > 0 && symbolSection[symbol] < sectionCount) {
            result = sectionName[symbolSection[symbol]];
        } else {
            result = string(symtabIndex < 0 ? 0 : sectionLink[symtabIndex], strtabOffset, strtabSize,
                    symbolNameOffset[symbol], sectionOffset[Math.max(symtabIndex, 0)] + (long) symbol * SYM_SIZE,
                    symtabIndex < 0 ? null : sectionName[symtabIndex]);
        }
        symbolNameCache[symbol] = result;
        return result;
    }

    public long headerOffset(int section) {
        return u64(40) + (long) section * SHDR_SIZE;
    }

    /** A NUL-terminated string at {@code offset} inside the string table at {@code tableOffset}. */
    private String string(int table, long tableOffset, long tableSize, int offset, long recordOffset, String section) {
        long off = Integer.toUnsignedLong(offset);
        if (tableSize == 0 && off == 0) {
            return "";
        }
        if (off >= tableSize) {
            throw malformed(section, recordOffset, "name offset " + off + " outside string table #" + table);
        }
        int start = (int) (tableOffset + off);
        int limit = (int) (tableOffset + tableSize);
        for (int i = start; i < limit; i++) {
            if (bytes[i] == 0) {
                return new String(bytes, start, i - start, StandardCharsets.UTF_8);
            }
        }
        throw malformed(section, recordOffset, "name at string table #" + table + " offset " + off
                + " is not NUL-terminated");
    }

    void checkRange(String section, long fieldOffset, long offset, long length, String what) {
        if (offset < 0 || length < 0 || offset > bytes.length || length > bytes.length - offset) {
            throw malformed(section, fieldOffset, what + " at 0x" + Long.toHexString(offset) + " of "
                    + Long.toUnsignedString(length) + " bytes extends past the end of the " + bytes.length + "-byte file");
        }
    }

    /*
     * Little-endian fields read from the array byte by byte: a heap segment's get costs several times
     * more before the JIT compiles it, and a load reads hundreds of thousands of fields (symbols and
     * relocations) at start-up. Out of range is an IndexOutOfBoundsException, as from the segment.
     */
    public int u16(long offset) {
        int at = index(offset, 2);
        return (bytes[at] & 0xff) | (bytes[at + 1] & 0xff) << 8;
    }

    public int u32(long offset) {
        int at = index(offset, 4);
        return (bytes[at] & 0xff) | (bytes[at + 1] & 0xff) << 8 | (bytes[at + 2] & 0xff) << 16 | bytes[at + 3] << 24;
    }

    public long u64(long offset) {
        return (u32(offset) & 0xffff_ffffL) | (long) u32(offset + 4) << 32;
    }

    private int index(long offset, int size) {
        if (offset < 0 || offset > bytes.length - size) {
            throw new IndexOutOfBoundsException("field of " + size + " bytes at " + offset + " in " + bytes.length + " bytes");
        }
        return (int) offset;
    }

    public MalformedObjectException malformed(String section, long offset, String what) {
        Location at = Location.file(name).offset(offset);
        return new MalformedObjectException(section == null ? at : at.section(section), what);
    }

    private UnsupportedObjectException unsupported(String what) {
        return new UnsupportedObjectException(Location.file(name), "unsupported: " + what
                + "; jdyld loads ELF64 little-endian relocatable objects (ET_REL)");
    }

    @Override
    public String toString() {
        return name;
    }
}
