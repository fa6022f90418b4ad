package dev.jdyld.runtime;

import dev.jdyld.core.SetLayout;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * ELF files jdyld writes for other programs to read: the shared object that defines the GDB JIT
 * interface's symbols, and the symbol file a debugger reads for one loaded set.
 */
public final class ElfImages {
    private ElfImages() {}

    /**
     * What an image needs to know of the machine it is for; the architecture package supplies it.
     *
     * @param machine                         {@code e_machine}
     * @param threadPointerOffsetRelocation   the relocation type that writes a symbol's offset from the
     *                                        thread pointer into a data word ({@code TPOFF64} on x86-64)
     */
    public record Target(int machine, int threadPointerOffsetRelocation) {}

    private static final int PAGE = 0x1000;
    private static final int SHT_PROGBITS = 1, SHT_SYMTAB = 2, SHT_STRTAB = 3, SHT_HASH = 5, SHT_DYNAMIC = 6,
            SHT_NOBITS = 8, SHT_DYNSYM = 11;
    private static final int PT_LOAD = 1, PT_DYNAMIC = 2, PT_TLS = 7, PT_GNU_STACK = 0x6474e551;
    private static final int PF_X = 1, PF_W = 2, PF_R = 4;
    private static final long SHF_WRITE = 1, SHF_ALLOC = 2, SHF_EXECINSTR = 4;

    /**
     * A shared object defining {@code void __jit_debug_register_code(void)} (a {@code ret}) and
     * {@code struct jit_descriptor __jit_debug_descriptor = {1, 0, NULL, NULL}}: text and data in
     * separate pages (never writable and executable), a SysV hash table for {@code dlsym}, section
     * headers for gdb.
     */
    public static byte[] jitDebugLibrary(Target target) {
        String dynstr = "\0__jit_debug_register_code\0__jit_debug_descriptor\0.shstrtab\0.hash\0.dynsym\0.dynstr\0"
                + ".text\0.dynamic\0.data\0";
        int dynsym = 0x200, dynstrAt = 0x248, hash = 0x300, text = PAGE, dynamic = 2 * PAGE, data = 2 * PAGE + 0x100;
        int shoff = 2 * PAGE + 0x200;
        int sections = 8; // null, .hash, .dynsym, .dynstr, .text, .dynamic, .data, .shstrtab
        ByteBuffer b = buffer(shoff + sections * 64);
        header(b, target, 3 /* ET_DYN */, 64, 4, shoff, sections, 7);
        programHeader(b, 0, PT_LOAD, PF_R | PF_X, 0, 0, text + 1, PAGE);
        programHeader(b, 1, PT_LOAD, PF_R | PF_W, dynamic, dynamic, 0x118, PAGE);
        programHeader(b, 2, PT_DYNAMIC, PF_R | PF_W, dynamic, dynamic, 6 * 16, 8);
        programHeader(b, 3, PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 16);
        symbol(b, dynsym + 24, dynstr.indexOf("__jit_debug_register_code"), 0x12, 4, text, 1);  // FUNC in .text
        symbol(b, dynsym + 48, dynstr.indexOf("__jit_debug_descriptor"), 0x11, 6, data, 24);    // OBJECT in .data
        b.put(dynstrAt, dynstr.getBytes(StandardCharsets.US_ASCII));
        // SysV hash: one bucket starting at symbol 2, chained to symbol 1.
        b.putInt(hash, 1).putInt(hash + 4, 3).putInt(hash + 8, 2).putInt(hash + 12, 0).putInt(hash + 16, 0).putInt(hash + 20, 1);
        b.put(text, (byte) 0xc3);
        long[][] entries = {{4 /* DT_HASH */, hash}, {5 /* DT_STRTAB */, dynstrAt}, {6 /* DT_SYMTAB */, dynsym},
                {10 /* DT_STRSZ */, dynstr.length()}, {11 /* DT_SYMENT */, 24}, {0 /* DT_NULL */, 0}};
        for (int i = 0; i < entries.length; i++) {
            b.putLong(dynamic + 16 * i, entries[i][0]).putLong(dynamic + 16 * i + 8, entries[i][1]);
        }
        b.putInt(data, 1); // version 1, no action, no entries
        section(b, shoff, 1, dynstr.indexOf(".hash"), SHT_HASH, SHF_ALLOC, hash, hash, 24, 2, 0, 4, 4);
        section(b, shoff, 2, dynstr.indexOf(".dynsym"), SHT_DYNSYM, SHF_ALLOC, dynsym, dynsym, 72, 3, 1, 8, 24);
        section(b, shoff, 3, dynstr.indexOf(".dynstr"), SHT_STRTAB, SHF_ALLOC, dynstrAt, dynstrAt, dynstr.length(), 0, 0, 1, 0);
        section(b, shoff, 4, dynstr.indexOf(".text"), SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, text, text, 1, 0, 0, 16, 0);
        section(b, shoff, 5, dynstr.indexOf(".dynamic"), SHT_DYNAMIC, SHF_ALLOC | SHF_WRITE, dynamic, dynamic, 6 * 16, 3, 0, 8, 16);
        section(b, shoff, 6, dynstr.indexOf(".data"), SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, data, data, 24, 0, 0, 8, 0);
        // The dynamic string table doubles as the section-name table.
        section(b, shoff, 7, dynstr.indexOf(".shstrtab"), SHT_STRTAB, 0, dynstrAt, 0, dynstr.length(), 0, 0, 1, 0);
        return b.array();
    }

    /** The one symbol of {@link #staticTlsModule}: the word that receives the block's thread-pointer offset. */
    public static final String TLS_OFFSET_SYMBOL = "jdyld_tls_offset";

    /**
     * A shared object with nothing but a thread-local block: {@code PT_TLS} of {@code blockSize}
     * bytes aligned to {@code alignment}, initialised from {@code template} (the rest zero), with
     * {@code DF_STATIC_TLS} and one {@code R_X86_64_TPOFF64} relocation of a data word,
     * {@value #TLS_OFFSET_SYMBOL}, against the block itself. {@code dlopen} must then place the block
     * in static TLS (or fail), copy the template into every thread's block, and write the block's
     * offset from the thread pointer into the word. One read-write {@code PT_LOAD}, no code; a
     * {@code PT_GNU_STACK} so that loading it never makes stacks executable.
     */
    public static byte[] staticTlsModule(Target target, byte[] template, long blockSize, long alignment) {
        String dynstr = "\0" + TLS_OFFSET_SYMBOL + "\0";
        int phdrs = 4;
        int dynsym = 64 + 56 * phdrs, dynstrAt = dynsym + 48, hash = (dynstrAt + dynstr.length() + 7) & ~7;
        int rela = hash + 24, dynamic = rela + 24, word = dynamic + 11 * 16;
        long tls = (word + 8 + alignment - 1) & -alignment;
        int size = Math.toIntExact(tls + template.length);
        ByteBuffer b = buffer(size);
        header(b, target, 3 /* ET_DYN */, 64, phdrs, 0, 0, 0);
        programHeader(b, 0, PT_LOAD, PF_R | PF_W, 0, 0, size, PAGE);
        programHeader(b, 1, PT_DYNAMIC, PF_R | PF_W, dynamic, dynamic, 11 * 16, 8);
        programHeader(b, 2, PT_TLS, PF_R, tls, tls, template.length, alignment);
        b.putLong(64 + 56 * 2 + 40, blockSize); // p_memsz: the .tbss part follows the template
        programHeader(b, 3, PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 16);
        symbol(b, dynsym + 24, 1, 0x11 /* GLOBAL OBJECT */, 1 /* any defined, non-absolute section */, word, 8);
        b.put(dynstrAt, dynstr.getBytes(StandardCharsets.US_ASCII));
        b.putInt(hash, 1).putInt(hash + 4, 2).putInt(hash + 8, 1).putInt(hash + 12, 0).putInt(hash + 16, 0);
        b.putLong(rela, word).putLong(rela + 8, target.threadPointerOffsetRelocation()) // symbol 0: the module's own block
                .putLong(rela + 16, 0);
        long[][] entries = {{4 /* DT_HASH */, hash}, {5 /* DT_STRTAB */, dynstrAt}, {6 /* DT_SYMTAB */, dynsym},
                {10 /* DT_STRSZ */, dynstr.length()}, {11 /* DT_SYMENT */, 24}, {7 /* DT_RELA */, rela},
                {8 /* DT_RELASZ */, 24}, {9 /* DT_RELAENT */, 24}, {30 /* DT_FLAGS */, 0x10 /* DF_STATIC_TLS */},
                {0 /* DT_NULL */, 0}};
        for (int i = 0; i < entries.length; i++) {
            b.putLong(dynamic + 16 * i, entries[i][0]).putLong(dynamic + 16 * i + 8, entries[i][1]);
        }
        b.put((int) tls, template);
        return b.array();
    }

    /**
     * A relocatable object naming a loaded set's functions and data at their load addresses: one
     * {@code SHT_NOBITS} section per permission group at its address (gdb reads the code itself
     * from memory) and a symbol table.
     */
    public static byte[] symbolFile(Target target, SetLayout layout) {
        List<SetLayout.Group> groups = layout.groups();
        ByteArrayOutputStream strtab = new ByteArrayOutputStream();
        strtab.write(0);
        ByteArrayOutputStream symbols = new ByteArrayOutputStream();
        symbols.writeBytes(new byte[24]);
        int count = 1;
        for (SetLayout.Symbol symbol : layout.symbols()) {
            if (symbol.kind() == SetLayout.Symbol.Kind.GOT) {
                continue;
            }
            int group = groupOf(groups, symbol.address());
            if (group < 0) {
                continue;
            }
            String name = symbol.kind() == SetLayout.Symbol.Kind.STUB ? symbol.name() + "@stub" : symbol.name();
            ByteBuffer entry = buffer(24);
            boolean function = symbol.kind() != SetLayout.Symbol.Kind.OBJECT;
            // In a relocatable object a symbol's value is its offset in its section; the section
            // carries the load address.
            symbol(entry, 0, strtab.size(), function ? 0x12 : 0x11, group + 1, symbol.address() - groups.get(group).address(),
                    symbol.size());
            strtab.writeBytes((name + "\0").getBytes(StandardCharsets.UTF_8));
            symbols.writeBytes(entry.array());
            count++;
        }
        String names = "\0.symtab\0.strtab\0.shstrtab\0.text\0.rodata\0.relro\0.data\0";
        int sections = groups.size() + 4;
        int symtabAt = 64;
        int strtabAt = symtabAt + symbols.size();
        int namesAt = strtabAt + strtab.size();
        int shoff = (namesAt + names.length() + 7) & ~7;
        ByteBuffer b = buffer(shoff + sections * 64);
        header(b, target, 1 /* ET_REL */, 0, 0, shoff, sections, sections - 1);
        b.put(symtabAt, symbols.toByteArray()).put(strtabAt, strtab.toByteArray());
        b.put(namesAt, names.getBytes(StandardCharsets.US_ASCII));
        for (int g = 0; g < groups.size(); g++) {
            SetLayout.Group group = groups.get(g);
            int name = switch (group.name()) { case "TEXT" -> 27; case "RODATA" -> 33; case "RELRO" -> 41; default -> 48; };
            long flags = SHF_ALLOC | (group.name().equals("TEXT") ? SHF_EXECINSTR : 0) | (group.name().equals("DATA") ? SHF_WRITE : 0);
            section(b, shoff, g + 1, name, SHT_NOBITS, flags, 0, group.address(), group.size(), 0, 0, 16, 0);
        }
        int symtab = groups.size() + 1;
        section(b, shoff, symtab, 1, SHT_SYMTAB, 0, symtabAt, 0, symbols.size(), symtab + 1, 1, 8, 24);
        section(b, shoff, symtab + 1, 9, SHT_STRTAB, 0, strtabAt, 0, strtab.size(), 0, 0, 1, 0);
        section(b, shoff, symtab + 2, 17, SHT_STRTAB, 0, namesAt, 0, names.length(), 0, 0, 1, 0);
        return b.array();
    }

    /**
     * An object with debug information, as gdb reads a relocatable object: its own bytes with
     * every loaded section's {@code sh_addr} set to where the section was loaded. gdb relocates the
     * {@code .debug_*} sections itself, from the object's relocations and those addresses, and
     * reads code and data from memory. Null when the object has no {@code .debug_info}.
     */
    public static byte[] debugObject(dev.jdyld.core.ObjectFile object, List<SetLayout.Section> sections) {
        byte[] bytes = object.bytes();
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 64) {
            return null;
        }
        long shoff = b.getLong(40);
        int count = Short.toUnsignedInt(b.getShort(60));
        int names = Short.toUnsignedInt(b.getShort(62));
        if (shoff <= 0 || names >= count || count > (bytes.length - shoff) / 64) {
            return null;
        }
        long namesAt = b.getLong((int) (shoff + 64L * names + 24));
        boolean debug = false;
        for (int i = 1; i < count && !debug; i++) {
            long name = namesAt + Integer.toUnsignedLong(b.getInt((int) (shoff + 64L * i)));
            debug = name >= 0 && name + 11 <= bytes.length
                    && new String(bytes, (int) name, 11, StandardCharsets.US_ASCII).equals(".debug_info");
        }
        if (!debug) {
            return null;
        }
        ByteBuffer image = ByteBuffer.wrap(bytes.clone()).order(ByteOrder.LITTLE_ENDIAN);
        for (SetLayout.Section section : sections) {
            if (section.object().equals(object.name()) && section.index() > 0 && section.index() < count) {
                image.putLong((int) (shoff + 64L * section.index() + 16), section.address());
            }
        }
        return image.array();
    }

    private static int groupOf(List<SetLayout.Group> groups, long address) {
        for (int g = 0; g < groups.size(); g++) {
            if (address >= groups.get(g).address() && address < groups.get(g).address() + groups.get(g).size()) {
                return g;
            }
        }
        return -1;
    }

    private static void header(ByteBuffer b, Target target, int type, int phoff, int phnum, long shoff, int shnum,
                               int shstrndx) {
        b.put(0, new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0});
        b.putShort(16, (short) type).putShort(18, (short) target.machine()).putInt(20, 1).putLong(32, phoff).putLong(40, shoff)
                .putShort(52, (short) 64).putShort(54, (short) 56).putShort(56, (short) phnum).putShort(58, (short) 64)
                .putShort(60, (short) shnum).putShort(62, (short) shstrndx);
    }

    private static void programHeader(ByteBuffer b, int index, int type, int flags, long offset, long address, long size,
                                      long align) {
        int h = 64 + 56 * index;
        b.putInt(h, type).putInt(h + 4, flags).putLong(h + 8, offset).putLong(h + 16, address).putLong(h + 24, address)
                .putLong(h + 32, size).putLong(h + 40, size).putLong(h + 48, align);
    }

    private static void symbol(ByteBuffer b, int at, int name, int info, int section, long value, long size) {
        b.putInt(at, name).put(at + 4, (byte) info).put(at + 5, (byte) 0).putShort(at + 6, (short) section)
                .putLong(at + 8, value).putLong(at + 16, size);
    }

    private static void section(ByteBuffer b, int shoff, int index, int name, int type, long flags, long offset,
                                long address, long size, int link, int info, long align, long entsize) {
        int h = shoff + 64 * index;
        b.putInt(h, name).putInt(h + 4, type).putLong(h + 8, flags).putLong(h + 16, address).putLong(h + 24, offset)
                .putLong(h + 32, size).putInt(h + 40, link).putInt(h + 44, info).putLong(h + 48, align)
                .putLong(h + 56, entsize);
    }

    private static ByteBuffer buffer(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }
}
