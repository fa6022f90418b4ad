package dev.jdyld.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Mutations that know ELF64: header, section-header, symbol, relocation and group fields set to
 * boundary values (0, -1, 2^31, 2^32, 2^63, sizes and offsets just past the file), besides byte
 * flips and truncation. Every choice comes from the fuzzer's data, so a finding replays exactly.
 * Byte flips alone rarely reach these values; they are what found the inputs that escaped the
 * {@code LinkException} contract.
 */
final class StructureMutator {
    private StructureMutator() {}

    private static final int EHDR_SIZE = 64;
    private static final int SHDR_SIZE = 64;
    private static final int SHT_SYMTAB = 2;
    private static final int SHT_RELA = 4;
    private static final int SHT_GROUP = 17;

    /** Header fields: offset and width. */
    private static final int[][] HEADER_FIELDS = {{16, 2}, {18, 2}, {20, 4}, {40, 8}, {52, 2}, {58, 2}, {60, 2}, {62, 2}, {4, 1}, {5, 1}};
    private static final int[][] SECTION_FIELDS = {{0, 4}, {4, 4}, {8, 8}, {24, 8}, {32, 8}, {40, 4}, {44, 4}, {48, 8}, {56, 8}};
    private static final int[][] SYMBOL_FIELDS = {{0, 4}, {4, 1}, {5, 1}, {6, 2}, {8, 8}, {16, 8}};
    private static final int[][] RELA_FIELDS = {{0, 8}, {8, 4}, {12, 4}, {16, 8}};

    /** A seed picked by the data, then 1 to 8 edits. */
    static byte[] mutate(java.util.List<byte[]> seeds, FuzzedDataProvider data) {
        byte[] bytes = seeds.get(data.consumeInt(0, seeds.size() - 1)).clone();
        int edits = data.consumeInt(1, 8);
        for (int i = 0; i < edits && data.remainingBytes() > 0; i++) {
            bytes = edit(bytes, data);
        }
        return bytes;
    }

    private static byte[] edit(byte[] bytes, FuzzedDataProvider data) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        switch (data.consumeInt(0, 7)) {
            case 0 -> put(b, pick(HEADER_FIELDS, data), 0, data);
            case 1 -> {
                int section = section(b, -1, data);
                if (section >= 0) {
                    put(b, pick(SECTION_FIELDS, data), sectionHeader(b, section), data);
                }
            }
            case 2 -> entry(b, SHT_SYMTAB, 24, SYMBOL_FIELDS, data);
            case 3 -> entry(b, SHT_RELA, 24, RELA_FIELDS, data);
            case 4 -> entry(b, SHT_GROUP, 4, new int[][] {{0, 4}}, data);
            case 5 -> {
                for (int flips = data.consumeInt(1, 16); flips > 0 && bytes.length > 0; flips--) {
                    bytes[data.consumeInt(0, bytes.length - 1)] ^= (byte) data.consumeInt(1, 255);
                }
            }
            case 6 -> {
                return Arrays.copyOf(bytes, data.consumeInt(0, bytes.length));
            }
            default -> {
                if (bytes.length > 8) { // an archive: a member header field, text like ar writes it
                    int at = data.consumeInt(8, bytes.length - 1);
                    byte[] text = boundaryText(data).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                    System.arraycopy(text, 0, bytes, at, Math.min(text.length, bytes.length - at));
                }
            }
        }
        return bytes;
    }

    private static String boundaryText(FuzzedDataProvider data) {
        String[] values = {"/", "//", "/9    !", "/-1", "/99999999999", "-1", "9999999999", "0", "2147483648",
                "/SYM64/", "`\n", " "};
        return values[data.consumeInt(0, values.length - 1)];
    }

    /** A field of entry k of a section of the given type (the section picked by the data). */
    private static void entry(ByteBuffer b, int type, int entrySize, int[][] fields, FuzzedDataProvider data) {
        int section = section(b, type, data);
        if (section < 0) {
            return;
        }
        int header = sectionHeader(b, section);
        long offset = b.getLong(header + 24);
        long size = b.getLong(header + 32);
        if (offset < 0 || offset > b.capacity() || size < entrySize || size > b.capacity() - offset) {
            return;
        }
        long entry = offset + (long) entrySize * data.consumeLong(0, size / entrySize - 1);
        put(b, pick(fields, data), (int) entry, data);
    }

    /** A section index of the given type (-1: any), or -1 if the headers are not where they claim. */
    private static int section(ByteBuffer b, int type, FuzzedDataProvider data) {
        if (b.capacity() < EHDR_SIZE) {
            return -1;
        }
        long shoff = b.getLong(40);
        int count = Short.toUnsignedInt(b.getShort(60));
        if (shoff <= 0 || shoff > b.capacity() || count == 0 || count > (b.capacity() - shoff) / SHDR_SIZE) {
            return -1;
        }
        int start = data.consumeInt(0, count - 1);
        for (int i = 0; i < count; i++) {
            int s = (start + i) % count;
            if (type < 0 || b.getInt(sectionHeader(b, s) + 4) == type) {
                return s;
            }
        }
        return -1;
    }

    private static int sectionHeader(ByteBuffer b, int section) {
        return (int) (b.getLong(40) + (long) section * SHDR_SIZE);
    }

    private static int[] pick(int[][] fields, FuzzedDataProvider data) {
        return fields[data.consumeInt(0, fields.length - 1)];
    }

    /** Writes a boundary value (or one from the data) into the field, if it lies inside the buffer. */
    private static void put(ByteBuffer b, int[] field, int base, FuzzedDataProvider data) {
        int at = base + field[0];
        int width = field[1];
        if (at < 0 || at + width > b.capacity()) {
            return;
        }
        long fileSize = b.capacity();
        long[] values = {0, -1, 1, 1L << 31, (1L << 31) - 1, 1L << 32, 1L << 63, Long.MAX_VALUE, fileSize,
                fileSize + 1, fileSize - 1, 1L << 30, 0x10000, data.consumeLong()};
        long value = values[data.consumeInt(0, values.length - 1)];
        switch (width) {
            case 1 -> b.put(at, (byte) value);
            case 2 -> b.putShort(at, (short) value);
            case 4 -> b.putInt(at, (int) value);
            default -> b.putLong(at, value);
        }
    }
}
