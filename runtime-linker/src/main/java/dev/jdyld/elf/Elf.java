package dev.jdyld.elf;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** ELF constants, named as in {@code <elf.h>}, and the little-endian field layouts ELF64 objects are read with. */
public final class Elf {
    private Elf() {}

    public static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public static final int EI_NIDENT = 16;
    public static final int ELFCLASS32 = 1;
    public static final int ELFCLASS64 = 2;
    public static final int ELFDATA2LSB = 1;
    public static final int ELFDATA2MSB = 2;
    public static final int EV_CURRENT = 1;

    public static final int ET_NONE = 0;
    public static final int ET_REL = 1;
    public static final int ET_EXEC = 2;
    public static final int ET_DYN = 3;
    public static final int ET_CORE = 4;

    public static final int EM_386 = 3;
    public static final int EM_ARM = 40;
    public static final int EM_X86_64 = 62;
    public static final int EM_AARCH64 = 183;
    public static final int EM_RISCV = 243;

    public static final int EHDR_SIZE = 64;
    public static final int SHDR_SIZE = 64;
    public static final int SYM_SIZE = 24;
    public static final int RELA_SIZE = 24;

    public static final int SHN_UNDEF = 0;
    public static final int SHN_LORESERVE = 0xff00;
    public static final int SHN_ABS = 0xfff1;
    public static final int SHN_COMMON = 0xfff2;
    public static final int SHN_XINDEX = 0xffff;

    public static final int SHT_NULL = 0;
    public static final int SHT_PROGBITS = 1;
    public static final int SHT_SYMTAB = 2;
    public static final int SHT_STRTAB = 3;
    public static final int SHT_RELA = 4;
    public static final int SHT_HASH = 5;
    public static final int SHT_DYNAMIC = 6;
    public static final int SHT_NOTE = 7;
    public static final int SHT_NOBITS = 8;
    public static final int SHT_REL = 9;
    public static final int SHT_DYNSYM = 11;
    public static final int SHT_INIT_ARRAY = 14;
    public static final int SHT_FINI_ARRAY = 15;
    public static final int SHT_PREINIT_ARRAY = 16;
    public static final int SHT_GROUP = 17;
    public static final int SHT_SYMTAB_SHNDX = 18;
    public static final int SHT_X86_64_UNWIND = 0x70000001;
    public static final int SHT_GNU_ATTRIBUTES = 0x6ffffff5;
    public static final int SHT_LLVM_ADDRSIG = 0x6fff4c03;

    public static final long SHF_WRITE = 0x1;
    public static final long SHF_ALLOC = 0x2;
    public static final long SHF_EXECINSTR = 0x4;
    public static final long SHF_MERGE = 0x10;
    public static final long SHF_STRINGS = 0x20;
    public static final long SHF_INFO_LINK = 0x40;
    public static final long SHF_GROUP = 0x200;
    public static final long SHF_TLS = 0x400;
    public static final long SHF_COMPRESSED = 0x800;
    public static final long SHF_EXCLUDE = 0x80000000L;
    public static final long SHF_X86_64_LARGE = 0x10000000L;

    public static final int GRP_COMDAT = 1;

    public static final int STB_LOCAL = 0;
    public static final int STB_GLOBAL = 1;
    public static final int STB_WEAK = 2;
    public static final int STB_GNU_UNIQUE = 10;

    public static final int STT_NOTYPE = 0;
    public static final int STT_OBJECT = 1;
    public static final int STT_FUNC = 2;
    public static final int STT_SECTION = 3;
    public static final int STT_FILE = 4;
    public static final int STT_COMMON = 5;
    public static final int STT_TLS = 6;
    public static final int STT_GNU_IFUNC = 10;

    public static final int STV_DEFAULT = 0;
    public static final int STV_INTERNAL = 1;
    public static final int STV_HIDDEN = 2;
    public static final int STV_PROTECTED = 3;

    public static String machineName(int machine) {
        return switch (machine) {
            case EM_386 -> "EM_386 (i386)";
            case EM_ARM -> "EM_ARM (32-bit ARM)";
            case EM_X86_64 -> "EM_X86_64 (x86-64)";
            case EM_AARCH64 -> "EM_AARCH64 (AArch64)";
            case EM_RISCV -> "EM_RISCV (RISC-V)";
            default -> "machine " + machine;
        };
    }

    public static String typeName(int type) {
        return switch (type) {
            case ET_NONE -> "ET_NONE";
            case ET_REL -> "ET_REL (relocatable object)";
            case ET_EXEC -> "ET_EXEC (executable)";
            case ET_DYN -> "ET_DYN (shared object or PIE)";
            case ET_CORE -> "ET_CORE (core dump)";
            default -> "e_type " + type;
        };
    }
}
