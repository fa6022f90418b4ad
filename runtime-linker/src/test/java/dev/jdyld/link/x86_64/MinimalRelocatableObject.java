package dev.jdyld.link.x86_64;

import dev.jdyld.elf.ElfObject;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The smallest relocatable x86-64 ELF64 object that jdyld's reader accepts: one {@code .text} of
 * a chosen size, undefined global symbols {@code sym1..symN}, and one {@code .rela.text} with
 * chosen entries. It lets a test put any relocation type, addend and field offset in front of the
 * real relocation loop without an assembler in between.
 *
 * <p>The ELF numbers are written out here rather than taken from {@code dev.jdyld.elf.Elf}, so a
 * wrong constant in the reader cannot cancel out against the same constant in the writer.
 */
final class MinimalRelocatableObject {
    private MinimalRelocatableObject() {}

    /** One {@code Elf64_Rela}: field offset in {@code .text}, symbol index, type and addend. */
    record Entry(long offset, int symbol, int type, long addend) {}

    /** Index of {@code .text}, the section every entry relocates. */
    static final int TEXT = 1;
    /** Index of {@code .rela.text}. */
    static final int RELA_TEXT = 2;

    private static final int SYMTAB = 3;
    private static final int STRTAB = 4;
    private static final int SHSTRTAB = 5;
    private static final int SECTION_COUNT = 6;

    private static final int SHT_PROGBITS = 1;
    private static final int SHT_SYMTAB = 2;
    private static final int SHT_STRTAB = 3;
    private static final int SHT_RELA = 4;
    private static final long SHF_ALLOC = 0x2;
    private static final long SHF_EXECINSTR = 0x4;
    private static final long SHF_INFO_LINK = 0x40;
    private static final int STB_GLOBAL = 1;
    private static final int EM_X86_64 = 62;
    private static final int ET_REL = 1;
    private static final int HEADER_SIZE = 64;
    private static final int SECTION_HEADER_SIZE = 64;
    private static final int SYMBOL_SIZE = 24;
    private static final int RELA_SIZE = 24;

    /** Name of symbol {@code index} (1-based) in the objects written here. */
    static String symbolName(int index) {
        return "sym" + index;
    }

    /** Writes and parses an object with {@code symbols} undefined globals and {@code entries} against {@code .text}. */
    static ElfObject parse(String name, int textSize, int symbols, List<Entry> entries) {
        return ElfObject.parse(name, write(new byte[textSize], symbols, entries));
    }

    /** The same with {@code text} as the contents of {@code .text} (the instructions around the fields). */
    static ElfObject parse(String name, byte[] text, int symbols, List<Entry> entries) {
        return ElfObject.parse(name, write(text, symbols, entries));
    }

    static byte[] write(byte[] text, int symbols, List<Entry> entries) {
        int textSize = text.length;
        ByteArrayOutputStream strtab = new ByteArrayOutputStream();
        strtab.write(0);
        int[] nameOffset = new int[symbols + 1];
        for (int s = 1; s <= symbols; s++) {
            nameOffset[s] = strtab.size();
            strtab.writeBytes((symbolName(s) + "\0").getBytes(StandardCharsets.US_ASCII));
        }
        String[] sectionNames = {"", ".text", ".rela.text", ".symtab", ".strtab", ".shstrtab"};
        ByteArrayOutputStream shstrtab = new ByteArrayOutputStream();
        int[] sectionNameOffset = new int[SECTION_COUNT];
        for (int i = 0; i < SECTION_COUNT; i++) {
            sectionNameOffset[i] = shstrtab.size();
            shstrtab.writeBytes((sectionNames[i] + "\0").getBytes(StandardCharsets.US_ASCII));
        }

        long[] offset = new long[SECTION_COUNT];
        long[] size = new long[SECTION_COUNT];
        size[TEXT] = textSize;
        size[RELA_TEXT] = (long) RELA_SIZE * entries.size();
        size[SYMTAB] = (long) SYMBOL_SIZE * (symbols + 1);
        size[STRTAB] = strtab.size();
        size[SHSTRTAB] = shstrtab.size();
        long end = HEADER_SIZE;
        for (int i = 1; i < SECTION_COUNT; i++) {
            offset[i] = align8(end);
            end = offset[i] + size[i];
        }
        long sectionHeaders = align8(end);
        ByteBuffer out = ByteBuffer.allocate((int) (sectionHeaders + (long) SECTION_HEADER_SIZE * SECTION_COUNT))
                .order(ByteOrder.LITTLE_ENDIAN);

        // Elf64_Ehdr: 64-bit, little-endian, version 1, relocatable, x86-64, no program headers.
        out.put(0, new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1});
        out.putShort(16, (short) ET_REL);
        out.putShort(18, (short) EM_X86_64);
        out.putInt(20, 1);
        out.putLong(40, sectionHeaders);
        out.putShort(52, (short) HEADER_SIZE);
        out.putShort(58, (short) SECTION_HEADER_SIZE);
        out.putShort(60, (short) SECTION_COUNT);
        out.putShort(62, (short) SHSTRTAB);

        for (int e = 0; e < entries.size(); e++) {
            Entry entry = entries.get(e);
            int at = (int) offset[RELA_TEXT] + e * RELA_SIZE;
            out.putLong(at, entry.offset());
            out.putLong(at + 8, ((long) entry.symbol() << 32) | Integer.toUnsignedLong(entry.type()));
            out.putLong(at + 16, entry.addend());
        }
        for (int s = 1; s <= symbols; s++) { // undefined (section 0), value 0, size 0
            int at = (int) offset[SYMTAB] + s * SYMBOL_SIZE;
            out.putInt(at, nameOffset[s]);
            out.put(at + 4, (byte) (STB_GLOBAL << 4));
        }
        out.put((int) offset[TEXT], text);
        out.put((int) offset[STRTAB], strtab.toByteArray());
        out.put((int) offset[SHSTRTAB], shstrtab.toByteArray());

        sectionHeader(out, sectionHeaders, TEXT, sectionNameOffset, SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR,
                offset, size, 0, 0, 16, 0);
        sectionHeader(out, sectionHeaders, RELA_TEXT, sectionNameOffset, SHT_RELA, SHF_INFO_LINK,
                offset, size, SYMTAB, TEXT, 8, RELA_SIZE);
        // sh_info of a symbol table is the index of its first global: all symbols but the null one are global.
        sectionHeader(out, sectionHeaders, SYMTAB, sectionNameOffset, SHT_SYMTAB, 0, offset, size, STRTAB, 1, 8,
                SYMBOL_SIZE);
        sectionHeader(out, sectionHeaders, STRTAB, sectionNameOffset, SHT_STRTAB, 0, offset, size, 0, 0, 1, 0);
        sectionHeader(out, sectionHeaders, SHSTRTAB, sectionNameOffset, SHT_STRTAB, 0, offset, size, 0, 0, 1, 0);
        return out.array();
    }

    private static void sectionHeader(ByteBuffer out, long table, int index, int[] nameOffset, int type, long flags,
                                      long[] offset, long[] size, int link, int info, long align, long entrySize) {
        int at = (int) (table + (long) index * SECTION_HEADER_SIZE);
        out.putInt(at, nameOffset[index]);
        out.putInt(at + 4, type);
        out.putLong(at + 8, flags);
        out.putLong(at + 24, offset[index]);
        out.putLong(at + 32, size[index]);
        out.putInt(at + 40, link);
        out.putInt(at + 44, info);
        out.putLong(at + 48, align);
        out.putLong(at + 56, entrySize);
    }

    private static long align8(long offset) {
        return (offset + 7) & ~7L;
    }
}
