package dev.jdyld.link.x86_64;

import dev.jdyld.elf.ElfObject;
import dev.jdyld.jit.RelocationException;
import dev.jdyld.link.arch.RelocationTarget;
import dev.jdyld.link.arch.ResolvedSymbols;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;

import static dev.jdyld.link.x86_64.X86_64Relocation.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every relocation kind the x86-64 rules apply, against a model written from its psABI formula:
 * random S, A, P, GOT, G, L and Z and a random field position; the bytes written must be the
 * model's value in the field's width (little-endian) with every other byte untouched, and a value
 * outside the field's range must be refused with a {@link RelocationException}, never truncated.
 * Each case is its own relocatable object (built here, read by the real ELF reader) with one
 * RELA entry, applied by the real relocation loop. Values are aimed at the field's range and its
 * edges (the interesting part: 2^31 - 1 fits a signed 32-bit field, 2^31 does not), by choosing
 * the value first and solving the addend for it.
 */
class RelocationPropertyTest {
    private static final int CASES = 2_000;
    private static final int SECTION_SIZE = 64;
    private static final int SYMBOL = 2;

    /** How a field holds its value. */
    enum Field {
        SIGNED_32(4, Integer.MIN_VALUE, Integer.MAX_VALUE),
        UNSIGNED_32(4, 0, 0xffff_ffffL),
        /** Either signedness fits, as GNU ld's "bitfield" overflow check. */
        BITFIELD_16(2, Short.MIN_VALUE, 0xffff),
        SIGNED_16(2, Short.MIN_VALUE, Short.MAX_VALUE),
        BITFIELD_8(1, Byte.MIN_VALUE, 0xff),
        SIGNED_8(1, Byte.MIN_VALUE, Byte.MAX_VALUE),
        WORD_64(8, Long.MIN_VALUE, Long.MAX_VALUE),
        NONE(0, 0, 0);

        final int width;
        final long min;
        final long max;

        Field(int width, long min, long max) {
            this.width = width;
            this.min = min;
            this.max = max;
        }
    }

    /** The values a formula reads; the model computes from these what the psABI says. */
    record Inputs(long s, long a, long p, long got, long gotSlot, long call, long size, long tlsGd, long tlsLd,
                  long tlsDesc, long tlsModule) {}

    interface Formula {
        long apply(Inputs in);
    }

    /** Each kind: its type, field and formula as the psABI states it (comment: the psABI's notation). */
    enum Kind {
        R64(R_X86_64_64, Field.WORD_64, in -> in.s() + in.a()),                                  // S + A
        PC32(R_X86_64_PC32, Field.SIGNED_32, in -> in.s() + in.a() - in.p()),                     // S + A - P
        GOT32(R_X86_64_GOT32, Field.SIGNED_32, in -> in.gotSlot() - in.got() + in.a()),           // G + A
        PLT32(R_X86_64_PLT32, Field.SIGNED_32, in -> in.call() + in.a() - in.p()),                // L + A - P
        GOTPCREL(R_X86_64_GOTPCREL, Field.SIGNED_32, in -> in.gotSlot() + in.a() - in.p()),       // G + GOT + A - P
        R32(R_X86_64_32, Field.UNSIGNED_32, in -> in.s() + in.a()),                               // S + A, zero-extended
        R32S(R_X86_64_32S, Field.SIGNED_32, in -> in.s() + in.a()),                               // S + A, sign-extended
        R16(R_X86_64_16, Field.BITFIELD_16, in -> in.s() + in.a()),                               // S + A
        PC16(R_X86_64_PC16, Field.SIGNED_16, in -> in.s() + in.a() - in.p()),                     // S + A - P
        R8(R_X86_64_8, Field.BITFIELD_8, in -> in.s() + in.a()),                                  // S + A
        PC8(R_X86_64_PC8, Field.SIGNED_8, in -> in.s() + in.a() - in.p()),                        // S + A - P
        DTPMOD64(R_X86_64_DTPMOD64, Field.WORD_64, Inputs::tlsModule),                            // the module id
        DTPOFF64(R_X86_64_DTPOFF64, Field.WORD_64, in -> in.s() + in.a()),                        // offset in the block
        TLSGD(R_X86_64_TLSGD, Field.SIGNED_32, in -> in.tlsGd() + in.a() - in.p()),               // tls_index + A - P
        TLSLD(R_X86_64_TLSLD, Field.SIGNED_32, in -> in.tlsLd() + in.a() - in.p()),               // tls_index + A - P
        DTPOFF32(R_X86_64_DTPOFF32, Field.SIGNED_32, in -> in.s() + in.a()),                      // offset in the block
        GOTTPOFF(R_X86_64_GOTTPOFF, Field.SIGNED_32, in -> in.gotSlot() + in.a() - in.p()),       // G + GOT + A - P
        PC64(R_X86_64_PC64, Field.WORD_64, in -> in.s() + in.a() - in.p()),                       // S + A - P
        GOTOFF64(R_X86_64_GOTOFF64, Field.WORD_64, in -> in.s() + in.a() - in.got()),             // S + A - GOT
        GOTPC32(R_X86_64_GOTPC32, Field.SIGNED_32, in -> in.got() + in.a() - in.p()),             // GOT + A - P
        GOT64(R_X86_64_GOT64, Field.WORD_64, in -> in.gotSlot() - in.got() + in.a()),             // G + A
        GOTPCREL64(R_X86_64_GOTPCREL64, Field.WORD_64, in -> in.gotSlot() - in.p() + in.a()),     // G + GOT - P + A
        GOTPC64(R_X86_64_GOTPC64, Field.WORD_64, in -> in.got() + in.a() - in.p()),               // GOT - P + A
        GOTPLT64(R_X86_64_GOTPLT64, Field.WORD_64, in -> in.gotSlot() - in.got() + in.a()),       // G + A
        PLTOFF64(R_X86_64_PLTOFF64, Field.WORD_64, in -> in.call() - in.got() + in.a()),          // L - GOT + A
        SIZE32(R_X86_64_SIZE32, Field.UNSIGNED_32, in -> in.size() + in.a()),                     // Z + A
        SIZE64(R_X86_64_SIZE64, Field.WORD_64, in -> in.size() + in.a()),                         // Z + A
        GOTPC32_TLSDESC(R_X86_64_GOTPC32_TLSDESC, Field.SIGNED_32, in -> in.tlsDesc() + in.a() - in.p()),
        GOTPCRELX(R_X86_64_GOTPCRELX, Field.SIGNED_32, in -> in.gotSlot() + in.a() - in.p()),     // G + GOT + A - P
        REX_GOTPCRELX(R_X86_64_REX_GOTPCRELX, Field.SIGNED_32, in -> in.gotSlot() + in.a() - in.p()),
        NONE(R_X86_64_NONE, Field.NONE, in -> 0),                                                 // nothing
        TLSDESC_CALL(R_X86_64_TLSDESC_CALL, Field.NONE, in -> 0);                                 // a marker only

        final int type;
        final Field field;
        final Formula formula;

        Kind(int type, Field field, Formula formula) {
            this.type = type;
            this.field = field;
            this.formula = formula;
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void writesTheModelsBitsAndRefusesWhatDoesNotFit(Kind kind) {
        long seed = 0x5eed_0000L + kind.ordinal();
        Random random = new Random(seed);
        int refused = 0;
        for (int i = 0; i < CASES; i++) {
            Inputs base = randomInputs(random);
            long wanted = wantedValue(kind.field, random, i);
            // Solve the addend so the formula gives the wanted value; formulas without A keep theirs.
            long withoutAddend = kind.formula.apply(withAddend(base, 0));
            long addend = wanted - withoutAddend;
            Inputs inputs = withAddend(base, addend);
            long value = kind.formula.apply(inputs);
            int offset = kind.field.width == 0 ? random.nextInt(SECTION_SIZE) : random.nextInt(SECTION_SIZE - kind.field.width + 1);
            String context = kind + " case " + i + " (seed 0x" + Long.toHexString(seed) + "): value 0x"
                    + Long.toHexString(value) + " at offset " + offset;
            byte[] field = apply(kind, inputs, offset);
            boolean fits = value >= kind.field.min && value <= kind.field.max;
            if (field == null) {
                assertThat(fits).as(context + " was refused but fits").isFalse();
                refused++;
                continue;
            }
            assertThat(fits).as(context + " was written but does not fit").isTrue();
            byte[] expected = filled();
            for (int b = 0; b < kind.field.width; b++) {
                expected[offset + b] = (byte) (value >>> (8 * b));
            }
            assertThat(field).as(context).isEqualTo(expected);
        }
        if (kind.field != Field.WORD_64 && kind.field != Field.NONE) {
            assertThat(refused).as("out-of-range values were tried").isGreaterThan(CASES / 10);
        }
    }

    private static Inputs withAddend(Inputs in, long addend) {
        return new Inputs(in.s(), addend, in.p(), in.got(), in.gotSlot(), in.call(), in.size(), in.tlsGd(), in.tlsLd(),
                in.tlsDesc(), in.tlsModule());
    }

    private static Inputs randomInputs(Random random) {
        long got = random.nextLong() & 0x7fff_ffff_f000L;
        return new Inputs(random.nextLong(), 0, random.nextLong() & 0x7fff_ffff_ffc0L, got,
                got + 8L * random.nextInt(1 << 16), random.nextLong(), random.nextLong() & 0xffff_ffffL,
                got + 8L * random.nextInt(1 << 16), got + 8L * random.nextInt(1 << 16), got + 8L * random.nextInt(1 << 16),
                random.nextInt(1 << 20));
    }

    /** Inside the range (its edges included), or just outside it, or anywhere. */
    private static long wantedValue(Field field, Random random, int i) {
        if (field == Field.WORD_64 || field == Field.NONE) {
            return random.nextLong();
        }
        return switch (i % 8) {
            case 0 -> field.min;
            case 1 -> field.max;
            case 2 -> field.min - 1;
            case 3 -> field.max + 1;
            case 4 -> field.min - 1 - (random.nextLong() >>> 1);
            case 5 -> field.max + 1 + (random.nextLong() >>> 1);
            default -> field.min + (long) (random.nextDouble() * ((double) field.max - field.min));
        };
    }

    private static byte[] filled() {
        byte[] bytes = new byte[SECTION_SIZE];
        Arrays.fill(bytes, (byte) 0xa5);
        return bytes;
    }

    /** The section's bytes after applying one relocation; null when it was refused (and then nothing was written). */
    private static byte[] apply(Kind kind, Inputs in, int offset) {
        ElfObject object = ElfObject.parse("case.o", objectWithOneRelocation(kind.type, offset, in.a()));
        ResolvedSymbols symbols = new ResolvedSymbols(object.symbolCount);
        symbols.address[SYMBOL] = in.s();
        symbols.gotSlot[SYMBOL] = in.gotSlot();
        symbols.callTarget[SYMBOL] = in.call();
        symbols.size[SYMBOL] = in.size();
        symbols.tlsGdSlot[SYMBOL] = in.tlsGd();
        symbols.tlsDescSlot[SYMBOL] = in.tlsDesc();
        symbols.tlsLdSlot = in.tlsLd();
        symbols.tlsModule = in.tlsModule();
        byte[] bytes = filled();
        int rela = 2;
        try {
            X86_64.INSTANCE.relocate(new RelocationTarget(X86_64.INSTANCE, object, rela, MemorySegment.ofArray(bytes),
                    in.p() - offset, symbols), in.got());
        } catch (RelocationException refused) {
            assertThat(bytes).as("nothing written for a refused relocation").isEqualTo(filled());
            assertThat(refused.getMessage()).startsWith("case.o: section .text offset 0x" + Integer.toHexString(offset) + ": ")
                    .contains("against 'target'").contains("does not fit");
            return null;
        }
        return bytes;
    }

    /**
     * A relocatable x86-64 object: {@code .text} (64 bytes), {@code .rela.text} with one entry
     * against global symbol {@code target}, {@code .symtab}, {@code .strtab}, {@code .shstrtab}.
     */
    static byte[] objectWithOneRelocation(int type, long offset, long addend) {
        byte[] shstrtab = "\0.text\0.rela.text\0.symtab\0.strtab\0.shstrtab\0".getBytes(StandardCharsets.US_ASCII);
        byte[] strtab = "\0target\0".getBytes(StandardCharsets.US_ASCII);
        int text = 64;
        int rela = text + SECTION_SIZE;
        int symtab = rela + 24;
        int strtabAt = symtab + 3 * 24;
        int shstrtabAt = strtabAt + strtab.length;
        int shoff = (shstrtabAt + shstrtab.length + 7) & ~7;
        ByteBuffer b = ByteBuffer.allocate(shoff + 6 * 64).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0});
        b.putShort(16, (short) 1).putShort(18, (short) 62).putInt(20, 1).putLong(40, shoff)
                .putShort(52, (short) 64).putShort(58, (short) 64).putShort(60, (short) 6).putShort(62, (short) 5);
        b.putLong(rela, offset).putLong(rela + 8, ((long) SYMBOL << 32) | type).putLong(rela + 16, addend);
        int section = symtab + 24; // symbol 1: the section symbol of .text (local)
        b.put(section + 4, (byte) 3).putShort(section + 6, (short) 1);
        int global = symtab + 48; // symbol 2: target, a global function at .text + 0
        b.putInt(global, 1).put(global + 4, (byte) 0x12).putShort(global + 6, (short) 1).putLong(global + 16, 4);
        b.put(strtabAt, strtab).put(shstrtabAt, shstrtab);
        section(b, shoff, 1, 1, 1, 6, text, SECTION_SIZE, 0, 0, 16, 0);         // .text: PROGBITS, ALLOC|EXEC
        section(b, shoff, 2, 7, 4, 0x40, rela, 24, 3, 1, 8, 24);                // .rela.text: RELA, INFO_LINK
        section(b, shoff, 3, 18, 2, 0, symtab, 3 * 24, 4, 2, 8, 24);            // .symtab: first global is 2
        section(b, shoff, 4, 26, 3, 0, strtabAt, strtab.length, 0, 0, 1, 0);    // .strtab
        section(b, shoff, 5, 34, 3, 0, shstrtabAt, shstrtab.length, 0, 0, 1, 0); // .shstrtab
        return b.array();
    }

    private static void section(ByteBuffer b, int shoff, int index, int name, int type, long flags, long offset,
                                long size, int link, int info, long align, long entsize) {
        int h = shoff + index * 64;
        b.putInt(h, name).putInt(h + 4, type).putLong(h + 8, flags).putLong(h + 24, offset).putLong(h + 32, size)
                .putInt(h + 40, link).putInt(h + 44, info).putLong(h + 48, align).putLong(h + 56, entsize);
    }
}
