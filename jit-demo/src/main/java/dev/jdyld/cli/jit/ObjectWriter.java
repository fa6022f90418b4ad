package dev.jdyld.cli.jit;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a relocatable x86-64 ELF object in memory, as a JIT's back end would: {@code .text} and
 * {@code .rodata}, global function symbols, undefined symbols for what the code calls,
 * {@code .rela.text}, and the note that it needs no executable stack. Enough for generated code;
 * nothing here knows about jdyld, which loads the bytes like any {@code .o}.
 */
public final class ObjectWriter {
    /** {@code S + A - P}, 32-bit signed. */
    public static final int R_X86_64_PC32 = 2;
    /** {@code L + A - P}, 32-bit signed: a call. */
    public static final int R_X86_64_PLT32 = 4;
    /** {@code G + GOT + A - P}: an indirect call or load through the GOT, relaxable. */
    public static final int R_X86_64_GOTPCRELX = 41;

    private static final int SHT_PROGBITS = 1;
    private static final int SHT_SYMTAB = 2;
    private static final int SHT_STRTAB = 3;
    private static final int SHT_RELA = 4;
    private static final int TEXT = 1;
    private static final int RODATA = 2;

    private record Function(String name, int offset, int size) {}

    private record Relocation(int offset, int type, String symbol, long addend) {}

    private final ByteArrayOutputStream text = new ByteArrayOutputStream();
    private final ByteArrayOutputStream rodata = new ByteArrayOutputStream();
    private final List<Function> functions = new ArrayList<>();
    private final List<Relocation> relocations = new ArrayList<>();
    private final Map<String, Integer> rodataLabels = new LinkedHashMap<>();

    /** Appends a function's code; returns its offset in {@code .text}. */
    public int function(String name, byte[] code) {
        int offset = text.size();
        text.writeBytes(code);
        functions.add(new Function(name, offset, code.length));
        return offset;
    }

    /** Appends a NUL-terminated string to {@code .rodata}; returns its offset there. */
    public int string(String label, String value) {
        int offset = rodata.size();
        rodata.writeBytes((value + "\0").getBytes(StandardCharsets.UTF_8));
        rodataLabels.put(label, offset);
        return offset;
    }

    /** A relocation at {@code offset} of {@code .text} against a global symbol (defined here or not). */
    public void relocate(int offset, int type, String symbol, long addend) {
        relocations.add(new Relocation(offset, type, symbol, addend));
    }

    /** A PC-relative reference from {@code .text} to a string in {@code .rodata}. */
    public void referenceString(int offset, String label) {
        relocations.add(new Relocation(offset, R_X86_64_PC32, null, rodataLabels.get(label) - 4L));
    }

    /** The object's bytes. */
    public byte[] toBytes() {
        StringTable strings = new StringTable();
        // Hashed: a generated object may hold hundreds of thousands of functions and calls.
        java.util.Set<String> defined = new java.util.HashSet<>();
        for (Function f : functions) {
            defined.add(f.name());
        }
        java.util.Set<String> undefined = new java.util.LinkedHashSet<>();
        for (Relocation r : relocations) {
            if (r.symbol() != null && !defined.contains(r.symbol())) {
                undefined.add(r.symbol());
            }
        }
        // Symbols: null, section symbols of .text and .rodata (local), functions, undefined names.
        int firstGlobal = 3;
        Map<String, Integer> index = java.util.HashMap.newHashMap(functions.size() + undefined.size());
        ByteBuffer symtab = buffer(24 * (firstGlobal + functions.size() + undefined.size()));
        symtab.position(24);
        symbol(symtab, 0, 0x03, TEXT, 0, 0);
        symbol(symtab, 0, 0x03, RODATA, 0, 0);
        for (Function f : functions) {
            index.put(f.name(), index.size() + firstGlobal);
            symbol(symtab, strings.add(f.name()), 0x12, TEXT, f.offset(), f.size());
        }
        for (String name : undefined) {
            index.put(name, index.size() + firstGlobal);
            symbol(symtab, strings.add(name), 0x10, 0, 0, 0);
        }
        ByteBuffer rela = buffer(24 * relocations.size());
        for (Relocation r : relocations) {
            long symbol = r.symbol() == null ? 2 : index.get(r.symbol());
            rela.putLong(r.offset()).putLong(symbol << 32 | r.type()).putLong(r.addend());
        }
        StringTable sectionNames = new StringTable();
        // The last section, an empty .note.GNU-stack without SHF_EXECINSTR, says the code needs no
        // executable stack; without it a linker must assume it does, as GNU ld does.
        byte[][] contents = {text.toByteArray(), rodata.toByteArray(), rela.array(), symtab.array(),
                strings.bytes(), null, new byte[0]};
        int[] names = {sectionNames.add(".text"), sectionNames.add(".rodata"), sectionNames.add(".rela.text"),
                sectionNames.add(".symtab"), sectionNames.add(".strtab"), sectionNames.add(".shstrtab"),
                sectionNames.add(".note.GNU-stack")};
        contents[5] = sectionNames.bytes();
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        file.writeBytes(new byte[64]);
        long[] offsets = new long[7];
        for (int i = 0; i < 7; i++) {
            while (file.size() % 16 != 0) {
                file.write(0);
            }
            offsets[i] = file.size();
            file.writeBytes(contents[i]);
        }
        while (file.size() % 8 != 0) {
            file.write(0);
        }
        long shoff = file.size();
        ByteBuffer headers = buffer(64 * 8);
        int[][] typeLinkInfo = {{SHT_PROGBITS, 0, 0}, {SHT_PROGBITS, 0, 0}, {SHT_RELA, 4, TEXT},
                {SHT_SYMTAB, 5, firstGlobal}, {SHT_STRTAB, 0, 0}, {SHT_STRTAB, 0, 0}, {SHT_PROGBITS, 0, 0}};
        long[] flags = {0x6, 0x2, 0x40, 0, 0, 0, 0};
        long[] entsize = {0, 0, 24, 24, 0, 0, 0};
        for (int i = 0; i < 7; i++) {
            int h = 64 * (i + 1);
            headers.putInt(h, names[i]).putInt(h + 4, typeLinkInfo[i][0]).putLong(h + 8, flags[i])
                    .putLong(h + 24, offsets[i]).putLong(h + 32, contents[i].length).putInt(h + 40, typeLinkInfo[i][1])
                    .putInt(h + 44, typeLinkInfo[i][2]).putLong(h + 48, i < 2 ? 16 : i == 2 || i == 3 ? 8 : 1)
                    .putLong(h + 56, entsize[i]);
        }
        file.writeBytes(headers.array());
        byte[] bytes = file.toByteArray();
        ByteBuffer header = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        header.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0});
        header.putShort(16, (short) 1).putShort(18, (short) 62).putInt(20, 1).putLong(40, shoff)
                .putShort(52, (short) 64).putShort(58, (short) 64).putShort(60, (short) 8).putShort(62, (short) 6);
        return bytes;
    }

    private static void symbol(ByteBuffer symtab, int name, int info, int section, long value, long size) {
        symtab.putInt(name).put((byte) info).put((byte) 0).putShort((short) section).putLong(value).putLong(size);
    }

    private static ByteBuffer buffer(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static final class StringTable {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        StringTable() {
            bytes.write(0);
        }

        int add(String name) {
            int offset = bytes.size();
            bytes.writeBytes((name + "\0").getBytes(StandardCharsets.UTF_8));
            return offset;
        }

        byte[] bytes() {
            return bytes.toByteArray();
        }
    }
}
