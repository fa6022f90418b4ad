package dev.jdyld.jit;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.MalformedObjectException;
import dev.jdyld.core.ObjectFile;
import dev.jdyld.core.SetLayout;
import dev.jdyld.core.UnsupportedObjectException;
import dev.jdyld.elf.Elf;
import dev.jdyld.elf.ElfObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * Inputs a fuzz campaign found escaping the {@link LinkException} contract, each made at test time
 * by patching one field of a real gcc object or {@code ar} archive: an SHT_NULL section that keeps
 * SHF_ALLOC and a size, 64-bit fields of 2^63 and above that signed comparisons let through, and
 * junk in an archive's numeric header fields (and, found on the way, an archive loaded alone). Each
 * must give one typed exception whose one-line message starts with the file, the section or
 * member, and the offset of the bad field, and leave nothing mapped.
 */
class MalformedInputRegressionTest {
    private static final int SH_TYPE = 4;
    private static final int SH_OFFSET = 24;
    private static final int SH_SIZE = 32;
    private static final int SH_ADDRALIGN = 48;
    private static final int ST_SHNDX = 6;
    private static final int ST_VALUE = 8;
    private static final int ST_SIZE = 16;
    /** Far past the end of any test object: where a section's contents must never be read from. */
    private static final long PAST_THE_END = 0x7fff_0000L;

    @TempDir
    Path dir;

    private final JitLinker linker = JitLinker.builder().runInitializers(false).build();

    @AfterEach
    void nothingLeftBehind() {
        LoaderTest.assertNothingLeftBehind(linker);
        linker.close();
    }

    // --- an SHT_NULL section header that keeps SHF_ALLOC and a size -------------------------------

    @Test
    void inactiveSectionIsNeitherLoadedNorRead() throws Throwable {
        byte[] victim = victim();
        // .eh_frame keeps SHF_ALLOC, its size and its .rela.eh_frame; its contents now lie past the end.
        long header = header(victim, ".eh_frame");
        byte[] mutant = patch(patch(victim, header + SH_TYPE, 4, Elf.SHT_NULL), header + SH_OFFSET, 8, PAST_THE_END);
        try (LoadedSet set = linker.loadObjects(List.of(new ObjectFile("victim.o", mutant)))) {
            assertThat(set.layout().sections()).extracting(SetLayout.Section::name).doesNotContain(".eh_frame")
                    .contains(".text");
            int result = (int) set.function("f", java.lang.foreign.FunctionDescriptor.of(JAVA_INT, JAVA_INT))
                    .invokeExact(5);
            assertThat(result).isEqualTo(5 * 3 + 7);
        }
    }

    @Test
    void symbolInAnInactiveSectionIsRefused() throws Exception {
        byte[] victim = victim();
        ElfObject object = ElfObject.parse("victim.o", victim);
        int text = section(object, ".text");
        long header = object.headerOffset(text);
        byte[] mutant = patch(patch(victim, header + SH_TYPE, 4, Elf.SHT_NULL), header + SH_OFFSET, 8, PAST_THE_END);
        int first = 1;
        while (object.symbolSection[first] != text) {
            first++;
        }
        Throwable thrown = catchThrowable(() -> load("victim.o", mutant));
        assertRefused(thrown, MalformedObjectException.class, "victim.o: section .symtab", symbolEntry(object, first) + ST_SHNDX,
                "symbol '" + object.symbolName(first) + "' is defined in section .text, which is inactive (SHT_NULL)");
    }

    @Test
    void everyLoadedSectionHasItsFileRangeChecked() throws Exception {
        byte[] victim = victim();
        long header = header(victim, ".eh_frame");
        for (int type : new int[] {Elf.SHT_NOTE, Elf.SHT_X86_64_UNWIND, 0x6000_0001 /* an OS-specific type */}) {
            byte[] mutant = patch(patch(victim, header + SH_TYPE, 4, type), header + SH_OFFSET, 8, PAST_THE_END);
            assertRefused(catchThrowable(() -> load("victim.o", mutant)), MalformedObjectException.class,
                    "victim.o: section .eh_frame", header + SH_OFFSET, "extends past the end of the");
        }
    }

    // --- 64-bit fields of 2^63 and above, compared unsigned ---------------------------------------

    @Test
    void alignmentOfTwoToThe63IsRefused() throws Exception {
        byte[] victim = victim();
        for (String name : List.of(".text", ".bss", ".tbss")) {
            long field = header(victim, name) + SH_ADDRALIGN;
            for (long align : new long[] {1L << 63, 1L << 62, 1L << 31}) {
                assertRefused(catchThrowable(() -> load("victim.o", patch(victim, field, 8, align))),
                        UnsupportedObjectException.class, "victim.o: section " + name, field,
                        "alignment 0x" + Long.toHexString(align) + " is more than a set can honour (1 GiB)");
            }
            assertRefused(catchThrowable(() -> load("victim.o", patch(victim, field, 8, -8))),
                    MalformedObjectException.class, "victim.o: section " + name, field,
                    "alignment 0xfffffffffffffff8 is not a power of two");
        }
    }

    @Test
    void hugeSectionSizeIsRefusedWithItsSection() throws Exception {
        byte[] victim = victim();
        long field = header(victim, ".bss") + SH_SIZE;
        assertRefused(catchThrowable(() -> load("victim.o", patch(victim, field, 8, 1L << 63))),
                MalformedObjectException.class, "victim.o: section .bss", field,
                "size 0x8000000000000000 is more than a set can hold (2 GiB)");
    }

    @Test
    void symbolValuesAndSizesStayInsideTheirSection() throws Exception {
        byte[] victim = victim();
        ElfObject object = ElfObject.parse("victim.o", victim);
        long zeroed = symbolEntry(object, symbol(object, "zeroed"));
        long f = symbolEntry(object, symbol(object, "f"));
        assertRefused(catchThrowable(() -> load("victim.o", patch(victim, zeroed + ST_SIZE, 8, 1L << 63))),
                MalformedObjectException.class, "victim.o: section .symtab", zeroed + ST_SIZE,
                "symbol 'zeroed' size 0x8000000000000000 is more than a set can hold (2 GiB)");
        // zeroed is all of .bss (64 bytes): one byte more runs past its end.
        assertRefused(catchThrowable(() -> load("victim.o", patch(victim, zeroed + ST_SIZE, 8, 65))),
                MalformedObjectException.class, "victim.o: section .symtab", zeroed + ST_SIZE,
                "symbol 'zeroed' at 0x0 of size 0x41 runs past the end of section .bss (0x40 bytes)");
        assertRefused(catchThrowable(() -> load("victim.o", patch(victim, f + ST_VALUE, 8, 1L << 63))),
                MalformedObjectException.class, "victim.o: section .symtab", f + ST_VALUE,
                "symbol 'f' value 0x8000000000000000 beyond the end of section .text");
    }

    @Test
    void commonSymbolAlignmentIsComparedUnsigned() throws Exception {
        byte[] common = Files.readAllBytes(Toolchain.compile(dir, "common",
                "int common_table[64]; int g(int i) { return common_table[i & 63]; }", "-O2", "-fPIC", "-fcommon"));
        ElfObject object = ElfObject.parse("common.o", common);
        int table = symbol(object, "common_table");
        assertThat(object.symbolSection[table]).isEqualTo(Elf.SHN_COMMON);
        long value = symbolEntry(object, table) + ST_VALUE;
        for (long align : new long[] {1L << 63, 1L << 62}) {
            // 2^63 used to pass as negative and quietly become 1; 2^62 reached the memory manager.
            assertRefused(catchThrowable(() -> load("common.o", patch(common, value, 8, align))),
                    UnsupportedObjectException.class, "common.o: section .symtab", value,
                    "common symbol 'common_table' alignment 0x" + Long.toHexString(align) + " is more than a set can honour");
        }
        for (long align : new long[] {0, 24, -16}) {
            assertRefused(catchThrowable(() -> load("common.o", patch(common, value, 8, align))),
                    MalformedObjectException.class, "common.o: section .symtab", value,
                    "common symbol 'common_table' alignment 0x" + Long.toHexString(align) + " is not a power of two");
        }
        long size = symbolEntry(object, table) + ST_SIZE;
        assertRefused(catchThrowable(() -> load("common.o", patch(common, size, 8, -256))),
                MalformedObjectException.class, "common.o: section .symtab", size,
                "symbol 'common_table' size 0xffffffffffffff00 is more than a set can hold");
        try (LoadedSet set = load("common.o", patch(common, value, 8, 1L << 20))) {
            assertThat(set.find("common_table").orElseThrow() % (1L << 20)).isZero();
        }
    }

    // --- junk in an archive's numeric header fields ------------------------------------------------

    @Test
    void junkInALongMemberNameReferenceIsRefused() throws Exception {
        byte[] archive = archive();
        int header = memberHeader(archive, "/");
        byte[] mutant = patchArchive(archive, header, 16, "/9    !");
        assertRefused(catchThrowable(() -> load("libhostile.a", mutant)), MalformedObjectException.class,
                "libhostile.a", header, "member #1 '/9    !': the characters after the / of a long-name reference are not all decimal digits");
        byte[] beyond = patchArchive(archive, header, 16, "/99999999999999");
        assertRefused(catchThrowable(() -> load("libhostile.a", beyond)), MalformedObjectException.class,
                "libhostile.a", header, "member #1 '/99999999999999': long-name offset 99999999999999 outside the // table");
    }

    @Test
    void junkInAMemberSizeIsRefused() throws Exception {
        byte[] archive = archive();
        int header = memberHeader(archive, "short.o/");
        for (String size : List.of("12a", "+12", "-1", "", " 12", "1\n2")) {
            byte[] mutant = patchArchive(archive, header + 48, 10, size);
            assertRefused(catchThrowable(() -> load("libhostile.a", mutant)), MalformedObjectException.class,
                    "libhostile.a", header + 48, "member #2 'short.o/': size '");
        }
        byte[] huge = patchArchive(archive, header + 48, 10, "9999999999");
        assertRefused(catchThrowable(() -> load("libhostile.a", huge)), MalformedObjectException.class,
                "libhostile.a", header + 48, "member #2 'short.o/': 9999999999 bytes extend past the end of the file");
    }

    @Test
    void symbolIndexOffsetsAreCheckedBeforeTheyAreNarrowed() throws Exception {
        byte[] archive = archive();
        int index = 8; // ar rcs writes the symbol index first
        assertThat(new String(archive, index, 16, StandardCharsets.US_ASCII).stripTrailing()).isEqualTo("/");
        int firstEntry = index + 60 + 4;
        byte[] mutant = archive.clone();
        ByteBuffer.wrap(mutant).order(ByteOrder.BIG_ENDIAN).putInt(firstEntry, 0xffff_fff0);
        assertRefused(catchThrowable(() -> load("libhostile.a", mutant)), MalformedObjectException.class,
                "libhostile.a", firstEntry, "symbol index entry 0 '");
    }

    @Test
    void anArchiveAloneIsRefusedNotIndexedOutOfBounds() throws Exception {
        // No object leaves a symbol undefined, so no member is pulled in: the set would be empty.
        Throwable thrown = catchThrowable(() -> load("libhostile.a", archive()));
        assertThat(thrown).isExactlyInstanceOf(LinkException.class);
        assertThat(thrown.getMessage()).startsWith("libhostile.a: no object to load: ").doesNotContain("\n");
    }

    // --- helpers -----------------------------------------------------------------------------------

    private LoadedSet load(String name, byte[] bytes) {
        return linker.loadObjects(List.of(new ObjectFile(name, bytes)));
    }

    /** The exact type, and one line: {@code <where> offset 0x<offset>: ...<what>...}. */
    private static void assertRefused(Throwable thrown, Class<? extends LinkException> type, String where, long offset,
                                      String what) {
        assertThat(thrown).isExactlyInstanceOf(type);
        String prefix = where + (where.contains(": section ") ? " " : ": ") + "offset 0x" + Long.toHexString(offset) + ": ";
        assertThat(thrown.getMessage()).startsWith(prefix).contains(what).doesNotContain("\n");
        assertThat(((LinkException) thrown).location().offset()).isEqualTo(offset);
    }

    /** A gcc object with code, data, .bss, TLS and an .eh_frame with its relocations. */
    private byte[] victim() throws Exception {
        return Files.readAllBytes(Toolchain.compile(dir, "victim", """
                int zeroed[16];
                int counter = 7;
                __thread int tls_zeroed[4];
                int f(int x) { return x * 3 + zeroed[1] + counter + tls_zeroed[2]; }
                """, "-O2", "-fPIC"));
    }

    /** {@code ar rcs libhostile.a} of a member with a long name (so GNU's // table) and a short one. */
    private byte[] archive() throws Exception {
        Path longName = Toolchain.compile(dir, "a_member_with_a_long_name", "int long_named(void) { return 1; }", "-O2", "-fPIC");
        Path shortName = Toolchain.compile(dir, "short", "int short_named(void) { return 2; }", "-O2", "-fPIC");
        Path archive = dir.resolve("libhostile.a");
        Toolchain.run(List.of("ar", "rcs", archive.toString(), longName.toString(), shortName.toString()));
        return Files.readAllBytes(archive);
    }

    /** Header offset of the first ordinary member whose name field starts with {@code prefix} (not the index or // table). */
    private static int memberHeader(byte[] archive, String prefix) {
        for (int at = 8; at + 60 <= archive.length; ) {
            String name = new String(archive, at, 16, StandardCharsets.US_ASCII).stripTrailing();
            if (!name.equals("/") && !name.equals("//") && name.startsWith(prefix)) {
                return at;
            }
            int size = Integer.parseInt(new String(archive, at + 48, 10, StandardCharsets.US_ASCII).trim());
            at += 60 + size + (size & 1);
        }
        throw new AssertionError("no member " + prefix);
    }

    /** Overwrites a space-padded ASCII header field. */
    private static byte[] patchArchive(byte[] archive, int at, int width, String value) {
        byte[] patched = archive.clone();
        Arrays.fill(patched, at, at + width, (byte) ' ');
        byte[] text = value.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(text, 0, patched, at, text.length);
        return patched;
    }

    private static int section(ElfObject object, String name) {
        for (int s = 1; s < object.sectionCount; s++) {
            if (object.sectionName[s].equals(name)) {
                return s;
            }
        }
        throw new AssertionError("no section " + name);
    }

    private static int symbol(ElfObject object, String name) {
        for (int s = 1; s < object.symbolCount; s++) {
            if (object.symbolName(s).equals(name)) {
                return s;
            }
        }
        throw new AssertionError("no symbol " + name);
    }

    private static long symbolEntry(ElfObject object, int symbol) {
        return object.sectionOffset[object.symtabIndex] + (long) symbol * Elf.SYM_SIZE;
    }

    /** File offset of section {@code name}'s header. */
    private static long header(byte[] bytes, String name) {
        ElfObject object = ElfObject.parse("x.o", bytes);
        return object.headerOffset(section(object, name));
    }

    private static byte[] patch(byte[] bytes, long at, int width, long value) {
        byte[] patched = bytes.clone();
        ByteBuffer buffer = ByteBuffer.wrap(patched).order(ByteOrder.LITTLE_ENDIAN);
        if (width == 4) {
            buffer.putInt((int) at, (int) value);
        } else {
            buffer.putLong((int) at, value);
        }
        return patched;
    }
}
