package dev.jdyld.elf;

import dev.jdyld.jit.Location;
import dev.jdyld.jit.MalformedObjectException;
import dev.jdyld.jit.UnsupportedObjectException;

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
            if (bytes[offset + 58] != '`' || bytes[offset + 59] != '\n') {
                throw malformed(offset + 58, "bad member header terminator");
            }
            String rawName = ascii(offset, 16).stripTrailing();
            String sizeField = ascii(offset + 48, 10).trim();
            long size;
            try {
                size = Long.parseLong(sizeField);
            } catch (NumberFormatException e) {
                throw malformed(offset + 48, "member size '" + sizeField + "' is not a number");
            }
            int data = offset + HEADER_SIZE;
            if (size < 0 || size > bytes.length - data) {
                throw malformed(offset + 48, "member of " + size + " bytes extends past the end of the file");
            }
            switch (rawName) {
                case "/" -> { symbolTable = data; symbolTableSize = (int) size; }
                case "/SYM64/" -> { symbolTable = data; symbolTableSize = (int) size; symbolTable64 = true; }
                case "//" -> longNames = Arrays.copyOfRange(bytes, data, data + (int) size);
                default -> {
                    Member member = new Member(memberName(rawName, longNames, offset), offset, data, (int) size);
                    members.add(member);
                    byHeaderOffset.put(offset, member);
                }
            }
            offset = data + (int) size + (int) (size & 1);
        }
        if (symbolTable >= 0) {
            readIndex(symbolTable, symbolTableSize, symbolTable64);
            indexed = true;
        }
    }

    private String memberName(String raw, byte[] longNames, int headerOffset) {
        if (raw.startsWith("/") && raw.length() > 1 && Character.isDigit(raw.charAt(1))) {
            String digits = raw.substring(1);
            if (!digits.matches("[0-9]{1,9}")) {
                throw malformed(headerOffset, "long member name reference '" + raw + "' is not /OFFSET");
            }
            int at = Integer.parseInt(digits);
            if (longNames == null || at >= longNames.length) {
                throw malformed(headerOffset, "long member name " + raw + " outside the // table");
            }
            int end = at;
            while (end < longNames.length && longNames[end] != '\n') {
                end++;
            }
            String name = new String(longNames, at, end - at, StandardCharsets.UTF_8);
            return name.endsWith("/") ? name.substring(0, name.length() - 1) : name;
        }
        return raw.endsWith("/") ? raw.substring(0, raw.length() - 1) : raw;
    }

    private void readIndex(int start, int size, boolean wide) {
        int width = wide ? 8 : 4;
        if (size < width) {
            throw malformed(start, "symbol index too small");
        }
        long count = readBigEndian(start, width);
        if (count < 0 || count > (size - width) / width) {
            throw malformed(start, "symbol index claims " + count + " entries");
        }
        int strings = start + width + (int) count * width;
        int end = start + size;
        for (int i = 0; i < count; i++) {
            long memberOffset = readBigEndian(start + width + i * width, width);
            int nameEnd = strings;
            while (nameEnd < end && bytes[nameEnd] != 0) {
                nameEnd++;
            }
            if (nameEnd >= end) {
                throw malformed(strings, "symbol index names end before " + count + " names");
            }
            String symbol = new String(bytes, strings, nameEnd - strings, StandardCharsets.UTF_8);
            strings = nameEnd + 1;
            Member member = memberOffset > Integer.MAX_VALUE ? null : byHeaderOffset.get((int) memberOffset);
            if (member == null) {
                throw malformed(start, "symbol index entry '" + symbol + "' points at 0x"
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
