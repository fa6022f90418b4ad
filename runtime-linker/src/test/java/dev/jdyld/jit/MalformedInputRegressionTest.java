package dev.jdyld.jit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.FunctionDescriptor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Inputs a fuzz campaign found escaping the {@link LinkException} contract, each rebuilt from a
 * real object or archive: they must now give a typed, located error (or load correctly).
 */
class MalformedInputRegressionTest {
    @TempDir
    Path dir;

    private final JitLinker linker = JitLinker.builder().runInitializers(false).build();

    @AfterEach
    void close() {
        linker.close();
        LoaderTest.assertNothingLeftBehind(linker);
    }

    /** Section headers of an ELF64 object, for patching fields in place. */
    private record Sections(ByteBuffer bytes, long shoff, int count, int shstrndx) {
        static Sections of(byte[] object) {
            ByteBuffer bytes = ByteBuffer.wrap(object).order(ByteOrder.LITTLE_ENDIAN);
            return new Sections(bytes, bytes.getLong(40), Short.toUnsignedInt(bytes.getShort(60)),
                    Short.toUnsignedInt(bytes.getShort(62)));
        }

        int find(String name) {
            int strtab = (int) bytes.getLong((int) (shoff + 64L * shstrndx + 24));
            for (int i = 1; i < count; i++) {
                int nameOffset = bytes.getInt((int) (shoff + 64L * i));
                StringBuilder text = new StringBuilder();
                for (int at = strtab + nameOffset; bytes.get(at) != 0; at++) {
                    text.append((char) bytes.get(at));
                }
                if (text.toString().equals(name)) {
                    return i;
                }
            }
            throw new AssertionError("no section " + name);
        }

        int header(int section) {
            return (int) (shoff + 64L * section);
        }
    }

    @Test
    void aNullSectionThatKeepsAllocAndASizePastTheFileIsNeverRead() throws Throwable {
        byte[] object = Files.readAllBytes(Toolchain.compile(dir, "null", """
                __attribute__((used)) static int unused_table[1024] = {1, 2, 3};
                int answer(void) { return 42; }
                """, "-O2", "-fPIC"));
        Sections sections = Sections.of(object);
        int data = sections.header(sections.find(".data"));
        sections.bytes().putInt(data + 4, 0);                              // sh_type = SHT_NULL, SHF_ALLOC kept
        sections.bytes().putLong(data + 24, object.length + 4096L);        // sh_offset past the end of the file
        sections.bytes().putLong(data + 32, 1L << 20);                     // sh_size 1 MiB
        LoadedSet set = linker.loadObjects(List.of(new ObjectFile("null.o", object)));
        assertThat((int) set.function("answer", FunctionDescriptor.of(JAVA_INT)).invokeExact()).isEqualTo(42);
        assertThat(set.layout().sections()).noneMatch(section -> section.name().equals(".data"));
    }

    @Test
    void anAlignmentOfTwoToThe63IsRefusedAsUnsupported() {
        byte[] object = readObject("align", "int answer(void) { return 42; }");
        Sections sections = Sections.of(object);
        int text = sections.find(".text");
        sections.bytes().putLong(sections.header(text) + 48, Long.MIN_VALUE); // sh_addralign = 2^63
        assertThatThrownBy(() -> linker.loadObjects(List.of(new ObjectFile("align.o", object))))
                .isInstanceOf(UnsupportedObjectException.class)
                .hasMessageContaining("align.o")
                .hasMessageContaining("section #" + text + " alignment 9223372036854775808 (more than 1 GiB)");
    }

    @Test
    void anArchiveLongNameReferenceWithJunkIsMalformedNotANumberFormatError() throws Exception {
        Path member = Toolchain.compile(dir, "a_member_with_a_long_name", "int member_value(void) { return 7; }", "-O2", "-fPIC");
        Path archive = dir.resolve("junk.a");
        Toolchain.run(List.of("ar", "rcs", archive.toString(), member.toString()));
        byte[] bytes = Files.readAllBytes(archive);
        String text = new String(bytes, StandardCharsets.ISO_8859_1);
        int header = text.indexOf("\n/0 ") + 1;                           // the member's "/0" long-name reference
        assertThat(header).as("a GNU long-name member header").isPositive();
        byte[] junk = "/9    !         ".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(junk, 0, bytes, header, 16);
        assertThatThrownBy(() -> linker.loadObjects(List.of(new ObjectFile("junk.a", bytes))))
                .isInstanceOf(MalformedObjectException.class)
                .hasMessageContaining("junk.a")
                .hasMessageContaining("0x" + Integer.toHexString(header))
                .hasMessageContaining("long member name reference '/9    !' is not /OFFSET");
    }

    private byte[] readObject(String name, String source) {
        try {
            return Files.readAllBytes(Toolchain.compile(dir, name, source, "-O2", "-fPIC"));
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }
}
