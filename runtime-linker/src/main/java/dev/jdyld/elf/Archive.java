package dev.jdyld.elf;

import dev.jdyld.core.Location;
import dev.jdyld.core.MalformedObjectException;
import dev.jdyld.core.UnsupportedObjectException;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A static library in the common (GNU/System V) {@code ar} format: the {@code !<arch>} magic,
 * 60-byte member headers, the {@code /} (or {@code /SYM64/}) symbol index with big-endian
 * offsets, and the {@code //} table of long member names. Thin archives, whose members live in
 * other files, are refused.
 */
public final class Archive {
    static final byte[] MAGIC = "!<arch>\n".getBytes(StandardCharsets.US_ASCII);
    static final byte[] THIN_MAGIC = "!<thin>\n".getBytes(StandardCharsets.US_ASCII);
    private static final int HEADER_SIZE = 60;

    /** One member: its name, and where its contents are in the archive. */
    public record Member(String name, int headerOffset, int dataOffset, int size) {}

    public final String name;
    private final byte[] bytes;
    public final List<Member> members = new ArrayList<>();
    private final Map<Integer, Member> byHeaderOffset = new HashMap<>();
    /** Symbol name to the member that defines it, from the archive's index. */
    private final Map<String, Member> index = new HashMap<>();
    private boolean indexed;

    public static boolean isArchive(byte[] bytes) {
        return startsWith(bytes, MAGIC) || startsWith(bytes, THIN_MAGIC);
    }

    private static boolean startsWith(byte[] bytes, byte[] prefix) {
        return bytes.length >= prefix.length && Arrays.equals(bytes, 0, prefix.length, prefix, 0, prefix.length);
    }

    public Archive(String name, byte[] bytes) {
        this.name = name;
        this.bytes = bytes;
        if (startsWith(bytes, THIN_MAGIC)) {
            throw new UnsupportedObjectException(Location.file(name), "thin archive (members are stored in other"
                    + " files); make a normal one with `ar rcs`");
        }
        byte[] longNames = null;
        int symbolTable = -1;
        int symbolTableSize = 0;
        boolean symbolTable64 = false;
        int offset = MAGIC.length;
        while (offset < bytes.length) {
            if (offset + HEADER_SIZE > bytes.length) {
                throw malformed(offset, "member header cut off by the end of the file");
            }
            String rawName = ascii(offset, 16).stripTrailing();
            String label = switch (rawName) { // for messages: the name may be the very field that is bad
                case "/" -> "symbol index";
                case "/SYM64/" -> "64-bit symbol index";
                case "//" -> "long-name table";
                default -> "member #" + (members.size() + 1) + " '" + rawName + "'";
            };
            if (bytes[offset + 58] != '`' || bytes[offset + 59] != '\n') {
                throw malformed(offset + 58, label + ": bad header terminator");
            }
            long size = decimal(offset + 48, 10);
            int data = offset + HEADER_SIZE;
            if (size < 0) {
                throw malformed(offset + 48, label + ": size '" + ascii(offset + 48, 10).stripTrailing()
                        + "' is not a decimal number");
            }
            if (size > bytes.length - data) {
                throw malformed(offset + 48, label + ": " + size + " bytes extend past the end of the file");
            }
            switch (rawName) {
                case "/" -> { symbolTable = data; symbolTableSize = (int) size; }
                case "/SYM64/" -> { symbolTable = data; symbolTableSize = (int) size; symbolTable64 = true; }
                case "//" -> longNames = Arrays.copyOfRange(bytes, data, data + (int) size);
                default -> {
                    Member entry = new Member(memberName(rawName, longNames, offset, label), offset, data, (int) size);
                    members.add(entry);
                    byHeaderOffset.put(offset, entry);
                }
            }
            offset = data + (int) size + (int) (size & 1);
        }
        if (symbolTable >= 0) {
            readIndex(symbolTable, symbolTableSize, symbolTable64);
            indexed = true;
        }
    }

    /**
     * The member's name: the header's, or for GNU's {@code /N} the entry at offset N of the
     * {@code //} table. N must be all decimal digits, as {@code ar} writes it.
     */
    private String memberName(String raw, byte[] longNames, int headerOffset, String label) {
        if (raw.startsWith("/") && raw.length() > 1 && raw.charAt(1) >= '0' && raw.charAt(1) <= '9') {
            long at = decimal(headerOffset + 1, 15);
            if (at < 0) {
                throw malformed(headerOffset, label
                        + ": the characters after the / of a long-name reference are not all decimal digits");
            }
            if (longNames == null || at >= longNames.length) {
                throw malformed(headerOffset, label + ": long-name offset " + at + " outside the // table"
                        + (longNames == null ? " (there is none before it)" : " of " + longNames.length + " bytes"));
            }
            int end = (int) at;
            while (end < longNames.length && longNames[end] != '\n') {
                end++;
            }
            String name = new String(longNames, (int) at, end - (int) at, StandardCharsets.UTF_8);
            return name.endsWith("/") ? name.substring(0, name.length() - 1) : name;
        }
        return raw.endsWith("/") ? raw.substring(0, raw.length() - 1) : raw;
    }

    /**
     * A header field of {@code length} bytes at {@code at}: decimal digits, then only spaces; -1
     * for anything else (a sign, junk, an empty field). At most 15 digits, so it cannot overflow.
     */
    private long decimal(int at, int length) {
        long value = 0;
        int i = 0;
        for (; i < length && bytes[at + i] >= '0' && bytes[at + i] <= '9'; i++) {
            value = value * 10 + (bytes[at + i] - '0');
        }
        if (i == 0) {
            return -1;
        }
        for (; i < length; i++) {
            if (bytes[at + i] != ' ') {
                return -1;
            }
        }
        return value;
    }

    private void readIndex(int start, int size, boolean wide) {
        int width = wide ? 8 : 4;
        if (size < width) {
            throw malformed(start, "symbol index of " + size + " bytes is too small");
        }
        long count = readBigEndian(start, width);
        if (count < 0 || count > (size - width) / width) {
            throw malformed(start, "symbol index claims " + Long.toUnsignedString(count) + " entries");
        }
        int strings = start + width + (int) count * width;
        int end = start + size;
        for (int i = 0; i < count; i++) {
            int entry = start + width + i * width;
            long memberOffset = readBigEndian(entry, width);
            int nameEnd = strings;
            while (nameEnd < end && bytes[nameEnd] != 0) {
                nameEnd++;
            }
            if (nameEnd >= end) {
                throw malformed(strings, "symbol index names end before " + count + " names");
            }
            String symbol = new String(bytes, strings, nameEnd - strings, StandardCharsets.UTF_8);
            strings = nameEnd + 1;
            // A /SYM64/ offset is 64 bits, unsigned: narrowed to int unchecked, 2^32 + 8 would name the member at 8.
            boolean inFile = Long.compareUnsigned(memberOffset, bytes.length) < 0;
            Member member = inFile ? byHeaderOffset.get((int) memberOffset) : null;
            if (member == null) {
                throw malformed(entry, "symbol index entry " + i + " '" + symbol + "' points at 0x"
                        + Long.toHexString(memberOffset) + ", which is not a member");
            }
            index.putIfAbsent(symbol, member);
        }
    }

    /** The member defining {@code symbol}, or null. Archives without an index are indexed from their members. */
    public Member definer(String symbol) {
        if (!indexed) {
            for (Member member : members) {
                ElfObject object = ElfObject.parse(memberName(member), contents(member));
                for (int s = object.firstGlobal; s < object.symbolCount; s++) {
                    if (object.isDefined(s) && object.symbolSection[s] != Elf.SHN_COMMON) {
                        index.putIfAbsent(object.symbolName(s), member);
                    }
                }
            }
            indexed = true;
        }
        return index.get(symbol);
    }

    public String memberName(Member member) {
        return name + "(" + member.name() + ")";
    }

    public byte[] contents(Member member) {
        return Arrays.copyOfRange(bytes, member.dataOffset(), member.dataOffset() + member.size());
    }

    private long readBigEndian(int at, int width) {
        long value = 0;
        for (int i = 0; i < width; i++) {
            value = (value << 8) | (bytes[at + i] & 0xff);
        }
        return value;
    }

    private String ascii(int at, int length) {
        return new String(bytes, at, length, StandardCharsets.US_ASCII);
    }

    private MalformedObjectException malformed(long offset, String what) {
        return new MalformedObjectException(Location.file(name).offset(offset), what);
    }
}
