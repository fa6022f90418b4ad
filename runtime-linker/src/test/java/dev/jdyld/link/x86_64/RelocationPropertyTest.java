package dev.jdyld.link.x86_64;

import dev.jdyld.elf.ElfObject;
import dev.jdyld.core.RelocationException;
import dev.jdyld.link.arch.RelocationTarget;
import dev.jdyld.link.arch.ResolvedSymbols;
import dev.jdyld.jit.Toolchain;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.ToLongFunction;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static dev.jdyld.link.x86_64.X86_64Relocation.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every relocation kind {@link X86_64#relocate} applies, checked against a reference model of its
 * psABI formula ("AMD64 Architecture Processor Supplement", section 4.4.1, table "Relocation
 * Types"): for random quantities {@code S, A, P, GOT, G, L, Z} (and the TLS entries), at random
 * field offsets in sections at random addresses, the bytes written must be the model's value,
 * little-endian and exactly as wide as the field, with every neighbouring byte untouched; a value
 * outside the field's range must be refused with a {@link RelocationException} naming the
 * relocation, and nothing written. Each kind also gets the exact edges of its range.
 *
 * <p>The relocation goes through the real loop: a minimal relocatable object
 * ({@link MinimalRelocatableObject}) is parsed by {@link ElfObject}, and {@link X86_64#relocate}
 * applies its entry to a heap segment with a {@link RelocationTarget} and {@link ResolvedSymbols}
 * built as {@code SetLinker.applyRelocations} builds them. One test instead assembles an object
 * with GNU {@code as} and {@code .reloc} directives, which also checks each type's number against
 * binutils' name for it.
 *
 * <p>What is not modelled, and why:
 * <ul>
 *   <li>No instruction rewriting is checked here: {@code GOTPCRELX} and {@code REX_GOTPCRELX}
 *       against a symbol with a GOT slot are applied as {@code GOTPCREL} (their relaxation, for
 *       symbols the scan gave no slot, is {@link GotRelaxationModelTest}'s), and the TLS kinds
 *       ({@code TLSGD}, {@code TLSLD}, {@code GOTTPOFF}, {@code GOTPC32_TLSDESC},
 *       {@code TLSDESC_CALL}) keep their general model (see {@link X86_64}). They are checked
 *       against their unrelaxed formulas, and "neighbouring bytes untouched" is exactly the claim
 *       that no instruction was rewritten.</li>
 *   <li>{@code COPY}, {@code GLOB_DAT}, {@code JUMP_SLOT}, {@code RELATIVE}, {@code TLSDESC},
 *       {@code IRELATIVE} and {@code RELATIVE64} are a dynamic linker's input, never found in a
 *       relocatable object, and every unassigned or newer number (the MPX {@code *_BND} pair, the
 *       APX {@code CODE_*} kinds) is unsupported: all are shown to be refused, writing nothing.</li>
 * </ul>
 *
 * <p>Cases come from a fixed seed so that a failure reproduces; its message names the seed, the
 * kind and the case number. {@code -Djdyld.relocation.seed=N} runs other cases.
 */
class RelocationPropertyTest {
    private static final long SEED = Long.getLong("jdyld.relocation.seed", 0x6a64796c64L);
    private static final int RANDOM_CASES = 2_000;
    private static final int CASES_PER_BOUNDARY = 25;
    /** Bytes on each side of the section that no relocation may touch. */
    private static final int GUARD = 16;
    /** Symbols in each object: the relocation names one, the others hold different values, so a wrong index shows. */
    private static final int SYMBOLS = 3;
    private static final HexFormat HEX = HexFormat.of();

    /** A relocated field: its width and the values it can hold, as the psABI's word8..word64 and the CPU's extension allow. */
    enum Field {
        /** Nothing is written: a marker relocation. */
        NOTHING(0, Long.MIN_VALUE, Long.MAX_VALUE),
        /** word64: every value fits. */
        WORD64(8, Long.MIN_VALUE, Long.MAX_VALUE),
        /** word32 that the CPU sign-extends: displacements and {@code 32S} immediates. */
        SIGNED32(4, -0x8000_0000L, 0x7fff_ffffL),
        /** word32 that is zero-extended ({@code R_X86_64_32}) or is a size ({@code SIZE32}). */
        UNSIGNED32(4, 0, 0xffff_ffffL),
        /** word16 of an absolute value, read as signed or unsigned: ld's "bitfield" check, lld's checkIntUInt. */
        WORD16(2, -0x8000L, 0xffffL),
        /** word16 of a PC-relative value, which is signed (lld's checkInt). */
        SIGNED16(2, -0x8000L, 0x7fffL),
        /** word8 of an absolute value, read as signed or unsigned. */
        WORD8(1, -0x80L, 0xffL),
        /** word8 of a PC-relative value, which is signed. */
        SIGNED8(1, -0x80L, 0x7fL);

        final int width;
        final long min;
        final long max;

        Field(int width, long min, long max) {
            this.width = width;
            this.min = min;
            this.max = max;
        }

        boolean fits(long value) {
            return value >= min && value <= max;
        }
    }

    /**
     * The psABI's quantities for one relocation, named as there: {@code S} symbol address,
     * {@code A} addend, {@code P} field address, {@code GOT} the GOT's address, {@code G} the
     * symbol's slot offset in it, {@code L} where calls to the symbol go, {@code Z} its size;
     * {@code GD}, {@code LD} and {@code DESC} are the addresses of its {@code tls_index} pair, the
     * set's local-dynamic pair and its TLS descriptor, {@code module} the set's TLS module id,
     * {@code TP} the offset of the set's block from the thread pointer (static TLS).
     * Arithmetic on them is modulo 2^64, like the psABI's 64-bit computation.
     */
    record Quantities(long S, long A, long P, long GOT, long G, long L, long Z, long GD, long LD, long DESC,
                      long module, long TP) {
        Quantities withAddend(long addend) {
            return new Quantities(S, addend, P, GOT, G, L, Z, GD, LD, DESC, module, TP);
        }

        Quantities withModule(long id) {
            return new Quantities(S, A, P, GOT, G, L, Z, GD, LD, DESC, id, TP);
        }

        @Override
        public String toString() {
            return String.format("S=0x%x A=0x%x P=0x%x GOT=0x%x G=0x%x L=0x%x Z=0x%x GD=0x%x LD=0x%x DESC=0x%x"
                    + " module=0x%x TP=-0x%x", S, A, P, GOT, G, L, Z, GD, LD, DESC, module, -TP);
        }
    }

    /** A relocation kind's model: its type number, field, and value from the psABI formula. */
    record Kind(int type, Field field, ToLongFunction<Quantities> formula) {
        String name() {
            return X86_64Relocation.name(type);
        }

        long value(Quantities q) {
            return formula.applyAsLong(q);
        }

        @Override
        public String toString() {
            return name();
        }
    }

    /** Every kind jdyld applies, with its psABI formula and field. */
    private static final List<Kind> KINDS = List.of(
            // S + A, word64
            new Kind(R_X86_64_64, Field.WORD64, q -> q.S() + q.A()),
            // S + A - P, word32 (signed: a rip-relative displacement)
            new Kind(R_X86_64_PC32, Field.SIGNED32, q -> q.S() + q.A() - q.P()),
            // G + A, word32 (signed, as ld checks it)
            new Kind(R_X86_64_GOT32, Field.SIGNED32, q -> q.G() + q.A()),
            // L + A - P, word32 (signed: a call or jump displacement)
            new Kind(R_X86_64_PLT32, Field.SIGNED32, q -> q.L() + q.A() - q.P()),
            // G + GOT + A - P, word32 (signed: a rip-relative displacement)
            new Kind(R_X86_64_GOTPCREL, Field.SIGNED32, q -> q.G() + q.GOT() + q.A() - q.P()),
            // S + A, word32, zero-extended
            new Kind(R_X86_64_32, Field.UNSIGNED32, q -> q.S() + q.A()),
            // S + A, word32, sign-extended
            new Kind(R_X86_64_32S, Field.SIGNED32, q -> q.S() + q.A()),
            // S + A, word16
            new Kind(R_X86_64_16, Field.WORD16, q -> q.S() + q.A()),
            // S + A - P, word16 (signed: PC-relative)
            new Kind(R_X86_64_PC16, Field.SIGNED16, q -> q.S() + q.A() - q.P()),
            // S + A, word8
            new Kind(R_X86_64_8, Field.WORD8, q -> q.S() + q.A()),
            // S + A - P, word8 (signed: PC-relative)
            new Kind(R_X86_64_PC8, Field.SIGNED8, q -> q.S() + q.A() - q.P()),
            // ID of the module holding the symbol's TLS block, word64 (no addend)
            new Kind(R_X86_64_DTPMOD64, Field.WORD64, Quantities::module),
            // offset in the module's TLS block: S + A where S is the symbol's offset there, word64
            new Kind(R_X86_64_DTPOFF64, Field.WORD64, q -> q.S() + q.A()),
            // PC-relative offset of the symbol's tls_index pair in the GOT: GD + A - P, word32 (signed)
            new Kind(R_X86_64_TLSGD, Field.SIGNED32, q -> q.GD() + q.A() - q.P()),
            // PC-relative offset of the module's tls_index pair (offset 0) in the GOT: LD + A - P, word32 (signed)
            new Kind(R_X86_64_TLSLD, Field.SIGNED32, q -> q.LD() + q.A() - q.P()),
            // offset in the module's TLS block: S + A, word32 (signed)
            new Kind(R_X86_64_DTPOFF32, Field.SIGNED32, q -> q.S() + q.A()),
            // PC-relative offset of the GOT slot holding the symbol's thread-pointer offset: G + GOT + A - P, word32
            new Kind(R_X86_64_GOTTPOFF, Field.SIGNED32, q -> q.G() + q.GOT() + q.A() - q.P()),
            // S + A + TP: the offset from the thread pointer, the set's block being in static TLS; word32 (signed)
            new Kind(R_X86_64_TPOFF32, Field.SIGNED32, q -> q.S() + q.A() + q.TP()),
            // the same, word64
            new Kind(R_X86_64_TPOFF64, Field.WORD64, q -> q.S() + q.A() + q.TP()),
            // S + A - P, word64
            new Kind(R_X86_64_PC64, Field.WORD64, q -> q.S() + q.A() - q.P()),
            // S + A - GOT, word64
            new Kind(R_X86_64_GOTOFF64, Field.WORD64, q -> q.S() + q.A() - q.GOT()),
            // GOT + A - P, word32 (signed: a rip-relative displacement)
            new Kind(R_X86_64_GOTPC32, Field.SIGNED32, q -> q.GOT() + q.A() - q.P()),
            // G + A, word64
            new Kind(R_X86_64_GOT64, Field.WORD64, q -> q.G() + q.A()),
            // G + GOT - P + A, word64
            new Kind(R_X86_64_GOTPCREL64, Field.WORD64, q -> q.G() + q.GOT() - q.P() + q.A()),
            // GOT - P + A, word64
            new Kind(R_X86_64_GOTPC64, Field.WORD64, q -> q.GOT() - q.P() + q.A()),
            // G + A, word64 (GOT64 under its older name)
            new Kind(R_X86_64_GOTPLT64, Field.WORD64, q -> q.G() + q.A()),
            // L - GOT + A, word64
            new Kind(R_X86_64_PLTOFF64, Field.WORD64, q -> q.L() - q.GOT() + q.A()),
            // Z + A, word32 (unsigned: a size, as ld checks it)
            new Kind(R_X86_64_SIZE32, Field.UNSIGNED32, q -> q.Z() + q.A()),
            // Z + A, word64
            new Kind(R_X86_64_SIZE64, Field.WORD64, q -> q.Z() + q.A()),
            // PC-relative offset of the symbol's TLS descriptor in the GOT: DESC + A - P, word32 (signed)
            new Kind(R_X86_64_GOTPC32_TLSDESC, Field.SIGNED32, q -> q.DESC() + q.A() - q.P()),
            // G + GOT + A - P, word32 (signed), the relaxable forms of GOTPCREL, with a GOT slot: not relaxed
            new Kind(R_X86_64_GOTPCRELX, Field.SIGNED32, q -> q.G() + q.GOT() + q.A() - q.P()),
            new Kind(R_X86_64_REX_GOTPCRELX, Field.SIGNED32, q -> q.G() + q.GOT() + q.A() - q.P()),
            // none: no field
            new Kind(R_X86_64_NONE, Field.NOTHING, q -> 0),
            // marks the call through a TLS descriptor for a linker that relaxes it; no field
            new Kind(R_X86_64_TLSDESC_CALL, Field.NOTHING, q -> 0));

    /** The edges of each field's range and whether each fits, written out rather than derived from {@link Field}. */
    private static final Map<Field, List<Boundary>> BOUNDARIES = Map.of(
            Field.WORD64, List.of(fits(Long.MIN_VALUE), fits(Long.MAX_VALUE), fits(0), fits(-1)),
            Field.SIGNED32, List.of(fits(0x7fff_ffffL), refused(0x8000_0000L), fits(-0x8000_0000L),
                    refused(-0x8000_0001L)),
            Field.UNSIGNED32, List.of(fits(0), refused(-1), fits(0xffff_ffffL), refused(0x1_0000_0000L)),
            Field.WORD16, List.of(fits(-0x8000L), refused(-0x8001L), fits(0x7fffL), fits(0x8000L), fits(0xffffL),
                    refused(0x1_0000L)),
            Field.SIGNED16, List.of(fits(0x7fffL), refused(0x8000L), fits(-0x8000L), refused(-0x8001L)),
            Field.WORD8, List.of(fits(-0x80L), refused(-0x81L), fits(0x7fL), fits(0x80L), fits(0xffL),
                    refused(0x100L)),
            Field.SIGNED8, List.of(fits(0x7fL), refused(0x80L), fits(-0x80L), refused(-0x81L)));

    record Boundary(long value, boolean fits) {
        @Override
        public String toString() {
            return (fits ? "fits " : "refused ") + (value < 0 ? "-0x" + Long.toHexString(-value) : "0x"
                    + Long.toHexString(value));
        }
    }

    private static Boundary fits(long value) {
        return new Boundary(value, true);
    }

    private static Boundary refused(long value) {
        return new Boundary(value, false);
    }

    /**
     * One relocation as the loop sees it: the entry's type, symbol and field offset, the section's
     * size and address, the resolved quantities, and the memory (section plus guard bytes) before.
     */
    record Case(String label, Kind kind, int symbol, int sectionSize, long fieldOffset, long sectionAddress,
                Quantities q, boolean droppedGroup, byte[] before) {
        /** The same relocation with the addend that makes the model's value {@code value}. */
        Case aimedAt(long value) {
            return new Case(label, kind, symbol, sectionSize, fieldOffset, sectionAddress, aimed(kind, q, value),
                    droppedGroup, before);
        }

        /** The same relocation against a symbol whose COMDAT group the set dropped. */
        Case inDroppedGroup() {
            return new Case(label, kind, symbol, sectionSize, fieldOffset, sectionAddress, q, true, before);
        }

        @Override
        public String toString() {
            return String.format("%s %s (seed 0x%x): %s, symbol %d, field at offset %d of a %d-byte section at 0x%x%s",
                    kind.name(), label, SEED, q, symbol, fieldOffset, sectionSize, sectionAddress,
                    droppedGroup ? ", symbol in a dropped group" : "");
        }
    }

    static Stream<Kind> kinds() {
        return KINDS.stream();
    }

    static Stream<Arguments> boundaries() {
        return KINDS.stream().filter(kind -> kind.field() != Field.NOTHING)
                .flatMap(kind -> BOUNDARIES.get(kind.field()).stream().map(b -> Arguments.of(kind, b)));
    }

    static Stream<Kind> signed32Kinds() {
        return KINDS.stream().filter(kind -> kind.field() == Field.SIGNED32);
    }

    /** Types 0..63 without a model, and a few far beyond (the GNU vtable types, 0xffff, all ones). */
    static IntStream refusedTypes() {
        return IntStream.concat(IntStream.range(0, 64).filter(type -> modelOf(type) == null),
                IntStream.of(250, 251, 0xffff, -1));
    }

    private static Kind modelOf(int type) {
        return KINDS.stream().filter(kind -> kind.type() == type).findFirst().orElse(null);
    }

    @Test
    void everyTypeIsModelledOrRefusedAndTheModelsWidthIsTheOneTheScanChecks() {
        for (int type = 0; type < 64; type++) {
            Kind kind = modelOf(type);
            int width = X86_64Relocation.width(type);
            String name = X86_64Relocation.name(type);
            if (kind != null) {
                assertThat(width).as(name).isEqualTo(kind.field().width);
            } else {
                assertThat(width).as(name + " is not modelled, so the scan must refuse it").isEqualTo(-1);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("kinds")
    void randomCasesWriteTheModelsBytesOrAreRefused(Kind kind) {
        SplittableRandom random = randomFor(kind.type());
        int written = 0;
        for (int n = 0; n < RANDOM_CASES; n++) {
            Case c = randomCase("case " + n, kind, random);
            // Mostly aimed at a value chosen to straddle the field's range; else the random addend stays.
            if (random.nextInt(5) != 0) {
                c = c.aimedAt(wanted(kind.field(), random));
            }
            if (check(c)) {
                written++;
            }
        }
        // Both outcomes must be common for a narrow field, or the property says little about it.
        if (kind.field().min == Long.MIN_VALUE) {
            assertThat(written).as(kind.name()).isEqualTo(RANDOM_CASES);
        } else {
            assertThat(written).as(kind.name() + " cases written").isBetween(RANDOM_CASES / 5, RANDOM_CASES * 4 / 5);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("boundaries")
    void rangeEdgesAreWrittenOrRefusedExactly(Kind kind, Boundary boundary) {
        assertThat(kind.field().fits(boundary.value())).as("the model's own range").isEqualTo(boundary.fits());
        SplittableRandom random = randomFor(kind.type() * 31L + boundary.value());
        for (int n = 0; n < CASES_PER_BOUNDARY; n++) {
            Case c = randomCase(boundary + " case " + n, kind, random).aimedAt(boundary.value());
            assertThat(kind.value(c.q())).as(c.toString()).isEqualTo(boundary.value());
            assertThat(check(c)).as(c.toString()).isEqualTo(boundary.fits());
        }
    }

    /** The one exception to "refused": .eh_frame may point into a COMDAT group the set dropped, and static linkers leave that alone. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("signed32Kinds")
    void outOfRangeReferencesIntoADroppedGroupAreLeftUnapplied(Kind kind) {
        SplittableRandom random = randomFor(kind.type() + 0x100);
        for (long value : new long[] {0x8000_0000L, -0x8000_0001L, Long.MAX_VALUE}) {
            Case c = randomCase("dropped group 0x" + Long.toHexString(value), kind, random).aimedAt(value)
                    .inDroppedGroup();
            byte[] memory = c.before().clone();
            relocate(c, memory);
            assertThat(HEX.formatHex(memory)).as(c.toString()).isEqualTo(HEX.formatHex(c.before()));
        }
        Case inRange = randomCase("dropped group, in range", kind, random).aimedAt(0x7fff_ffffL).inDroppedGroup();
        assertThat(check(inRange)).as(inRange.toString()).isTrue();
    }

    @ParameterizedTest(name = "type {0}")
    @MethodSource("refusedTypes")
    void typesJdyldDoesNotApplyAreRefusedWithoutWriting(int type) {
        // Placed as an 8-byte field, the widest, so that a write of any width would stay in the section and show.
        Kind unsupported = new Kind(type, Field.WORD64, q -> 0);
        SplittableRandom random = randomFor(type);
        for (int n = 0; n < 50; n++) {
            Case c = randomCase("case " + n, unsupported, random);
            byte[] memory = c.before().clone();
            RelocationException refusal = refusal(c, memory);
            assertThat(refusal).as(c.toString()).isNotNull();
            assertThat(refusal.getMessage()).as(c.toString()).contains("unsupported relocation");
            assertThat(refusal.location().relocation()).isEqualTo(X86_64Relocation.name(type));
            assertThat(HEX.formatHex(memory)).as(c.toString()).isEqualTo(HEX.formatHex(c.before()));
        }
    }

    /**
     * An object from GNU {@code as}, one {@code .reloc} per kind against a symbol of its own: each
     * entry's type number must be the one {@link X86_64Relocation} gives binutils' name for it, and
     * the section, relocated in one pass, must hold every model value. The values are chosen in
     * range, since one refusal ends a pass.
     */
    @Test
    void objectsFromTheGnuAssemblerRelocateToTheModel(@TempDir Path dir) throws IOException {
        SplittableRandom random = randomFor(0x676e75);
        int slot = 8; // each field in 8 bytes of its own, the widest field
        long sectionAddress = random.nextLong(1L << 47);
        // One GOT, local-dynamic pair and module per set: shared by every entry.
        long GOT = address(random, sectionAddress);
        long LD = address(random, sectionAddress);
        long module = random.nextLong();
        long TP = -random.nextLong(1L << 24);
        List<Quantities> quantities = new ArrayList<>();
        StringBuilder source = new StringBuilder("\t.text\n");
        for (int i = 0; i < KINDS.size(); i++) {
            Kind kind = KINDS.get(i);
            long P = sectionAddress + (long) i * slot;
            long G = random.nextLong(1L << 20) & ~7L;
            Quantities q = new Quantities(address(random, P), logUniform(random), P, GOT, G, address(random, P),
                    random.nextLong(1L << 20), address(random, P), LD, address(random, P), module, TP);
            Field field = kind.field();
            if (kind.type() != R_X86_64_DTPMOD64) { // its value is the shared module id, whatever the addend
                q = aimed(kind, q, field.min == Long.MIN_VALUE ? random.nextLong() : random.nextLong(field.min, field.max + 1));
            }
            quantities.add(q);
            long A = q.A();
            source.append("\t.reloc ., ").append(kind.name()).append(", ").append(symbolOf(kind))
                    .append(A < 0 ? " - 0x" + Long.toUnsignedString(-A, 16) : " + 0x" + Long.toHexString(A))
                    .append("\n\t.quad 0\n");
        }
        ElfObject object = ElfObject.parse("kinds.o", Files.readAllBytes(Toolchain.assemble(dir, "kinds", source.toString())));
        assertThat(object.relaSections).hasSize(1);
        int rela = object.relaSections[0];
        assertThat(object.sectionSize[rela]).isEqualTo((long) KINDS.size() * 24);
        int sectionSize = KINDS.size() * slot;
        assertThat(object.sectionSize[object.sectionInfo[rela]]).isEqualTo(sectionSize);

        ResolvedSymbols symbols = new ResolvedSymbols(object.symbolCount);
        symbols.tlsLdSlot = LD;
        symbols.tlsModule = module;
        symbols.tlsThreadPointerOffset = TP;
        byte[] before = new byte[sectionSize + 2 * GUARD];
        random.nextBytes(before);
        byte[] expected = before.clone();
        for (int e = 0; e < KINDS.size(); e++) {
            long entry = object.sectionOffset[rela] + e * 24L;
            long offset = object.u64(entry);
            long info = object.u64(entry + 8);
            Kind kind = KINDS.get((int) (offset / slot));
            Quantities q = quantities.get((int) (offset / slot));
            int symbol = (int) (info >>> 32);
            assertThat((int) info).as(kind.name() + "'s number in GNU as").isEqualTo(kind.type());
            assertThat(object.u64(entry + 16)).as(kind.name() + " addend").isEqualTo(q.A());
            assertThat(object.symbolName(symbol)).isEqualTo(symbolOf(kind));
            symbols.address[symbol] = q.S();
            symbols.gotSlot[symbol] = q.GOT() + q.G();
            symbols.callTarget[symbol] = q.L();
            symbols.size[symbol] = q.Z();
            symbols.tlsGdSlot[symbol] = q.GD();
            symbols.tlsDescSlot[symbol] = q.DESC();
            writeLittleEndian(expected, GUARD + (int) offset, kind.field().width, kind.value(q));
        }
        byte[] memory = before.clone();
        X86_64.INSTANCE.relocate(new RelocationTarget(X86_64.INSTANCE, object, rela,
                MemorySegment.ofArray(memory).asSlice(GUARD, sectionSize), sectionAddress, symbols), GOT);
        List<String> wrong = new ArrayList<>();
        for (int i = 0; i < KINDS.size(); i++) {
            int from = GUARD + i * slot;
            if (!Arrays.equals(memory, from, from + slot, expected, from, from + slot)) {
                wrong.add(KINDS.get(i) + " wrote " + HEX.formatHex(memory, from, from + slot) + " instead of "
                        + HEX.formatHex(expected, from, from + slot) + " for " + quantities.get(i));
            }
        }
        assertThat(wrong).as("seed 0x%x", SEED).isEmpty();
        assertThat(HEX.formatHex(memory)).as("guard bytes").isEqualTo(HEX.formatHex(expected));
    }

    private static String symbolOf(Kind kind) {
        return "s_" + kind.name();
    }

    /**
     * Applies {@code c} and compares with the model: the model's bytes in place and all else as
     * before, or a refusal naming the relocation with all as before. Returns whether it was written.
     */
    private static boolean check(Case c) {
        Kind kind = c.kind();
        long value = kind.value(c.q());
        boolean fits = kind.field().fits(value);
        byte[] expected = c.before().clone();
        if (fits) {
            writeLittleEndian(expected, GUARD + (int) c.fieldOffset(), kind.field().width, value);
        }
        byte[] memory = c.before().clone();
        RelocationException refusal = refusal(c, memory);
        String what = c + ", model value 0x" + Long.toHexString(value);
        if (fits) {
            assertThat(refusal).as(what + " fits " + kind.field()).isNull();
        } else {
            assertThat(refusal).as(what + " does not fit " + kind.field() + " but was not refused").isNotNull();
            assertThat(refusal.getMessage()).as(what).contains("does not fit");
            assertThat(refusal.location().relocation()).as(what).isEqualTo(kind.name());
            assertThat(refusal.location().offset()).as(what).isEqualTo(c.fieldOffset());
            assertThat(refusal.location().symbol()).as(what).isEqualTo(MinimalRelocatableObject.symbolName(c.symbol()));
        }
        if (!Arrays.equals(memory, expected)) {
            throw new AssertionError(what + "\nexpected memory " + HEX.formatHex(expected)
                    + "\nbut it was       " + HEX.formatHex(memory) + "\n(" + GUARD + " guard bytes on each side)");
        }
        return fits;
    }

    private static RelocationException refusal(Case c, byte[] memory) {
        try {
            relocate(c, memory);
            return null;
        } catch (RelocationException e) {
            return e;
        }
    }

    /** The engine's path for one relocation section: parse, resolve, {@link X86_64#relocate} on the section's slice. */
    private static void relocate(Case c, byte[] memory) {
        ElfObject object = MinimalRelocatableObject.parse("case.o", c.sectionSize(), SYMBOLS,
                List.of(new MinimalRelocatableObject.Entry(c.fieldOffset(), c.symbol(), c.kind().type(), c.q().A())));
        MemorySegment section = MemorySegment.ofArray(memory).asSlice(GUARD, c.sectionSize());
        RelocationTarget target = new RelocationTarget(X86_64.INSTANCE, object, MinimalRelocatableObject.RELA_TEXT,
                section, c.sectionAddress(), resolved(c));
        X86_64.INSTANCE.relocate(target, c.q().GOT());
    }

    /** What {@code SetLinker.resolvedSymbols} would give: the case's quantities for its symbol, their complements for the others. */
    private static ResolvedSymbols resolved(Case c) {
        ResolvedSymbols symbols = new ResolvedSymbols(SYMBOLS + 1);
        Quantities q = c.q();
        for (int s = 0; s <= SYMBOLS; s++) {
            long decoy = s == c.symbol() ? 0 : -1; // x ^ -1 is ~x: a value that differs from x in every bit
            symbols.address[s] = q.S() ^ decoy;
            symbols.gotSlot[s] = (q.GOT() + q.G()) ^ decoy;
            symbols.callTarget[s] = q.L() ^ decoy;
            symbols.size[s] = q.Z() ^ decoy;
            symbols.tlsGdSlot[s] = q.GD() ^ decoy;
            symbols.tlsDescSlot[s] = q.DESC() ^ decoy;
        }
        symbols.inDroppedGroup[c.symbol()] = c.droppedGroup();
        symbols.tlsLdSlot = q.LD();
        symbols.tlsModule = q.module();
        symbols.tlsThreadPointerOffset = q.TP();
        return symbols;
    }

    /** A random relocation of {@code kind}: field position, section address, quantities, addend, memory around it. */
    private static Case randomCase(String label, Kind kind, SplittableRandom random) {
        int width = kind.field().width;
        int sectionSize = Math.max(1, width + random.nextInt(48));
        long fieldOffset = switch (random.nextInt(4)) {
            case 0 -> 0; // first byte of the section
            case 1 -> sectionSize - width; // last bytes: a wider write would leave the section's slice
            default -> random.nextLong(sectionSize - width + 1);
        };
        long sectionAddress = address(random, 0);
        long P = sectionAddress + fieldOffset;
        long G = random.nextLong(1L << random.nextInt(1, 32)) & ~7L; // a slot offset: small, 8-aligned
        Quantities q = new Quantities(address(random, P), logUniform(random), P, address(random, P), G,
                address(random, P), random.nextLong(1L << random.nextInt(1, 63)), address(random, P),
                address(random, P), address(random, P), random.nextLong(), -random.nextLong(1L << random.nextInt(1, 40)));
        byte[] before = new byte[sectionSize + 2 * GUARD];
        random.nextBytes(before);
        return new Case(label, kind, random.nextInt(1, SYMBOLS + 1), sectionSize, fieldOffset, sectionAddress, q,
                false, before);
    }

    /**
     * The quantities with the addend that makes the model's value {@code value}. Every formula
     * is linear in {@code A} with coefficient 1, except {@code DTPMOD64}, whose value is the module id.
     */
    private static Quantities aimed(Kind kind, Quantities q, long value) {
        if (kind.type() == R_X86_64_DTPMOD64) {
            return q.withModule(value);
        }
        return q.withAddend(value - kind.value(q.withAddend(0)));
    }

    /** A value the model should produce: near an edge of the field's range, inside it, of any magnitude, or any bits. */
    private static long wanted(Field field, SplittableRandom random) {
        return switch (random.nextInt(4)) {
            case 0 -> (random.nextBoolean() ? field.min : field.max) + random.nextInt(-2, 3);
            case 1 -> field.min == Long.MIN_VALUE ? random.nextLong() : random.nextLong(field.min, field.max + 1);
            case 2 -> logUniform(random);
            default -> random.nextLong();
        };
    }

    /** An address: anywhere in user space, in the low 2 GiB, near {@code near}, or any 64 bits (the formulas wrap). */
    private static long address(SplittableRandom random, long near) {
        return switch (random.nextInt(4)) {
            case 0 -> random.nextLong(1L << 47);
            case 1 -> random.nextLong(1L << 31);
            case 2 -> near + logUniform(random);
            default -> random.nextLong();
        };
    }

    /** A signed value whose magnitude is spread evenly over bit lengths 0..64, so every field size gets hits and misses. */
    private static long logUniform(SplittableRandom random) {
        long magnitude = random.nextLong() >>> random.nextInt(64);
        return random.nextBoolean() ? magnitude : -magnitude;
    }

    private static SplittableRandom randomFor(long stream) {
        return new SplittableRandom(SEED ^ (stream * 0x9e37_79b9_7f4a_7c15L));
    }

    /** The model's encoding: {@code width} bytes of {@code value}, least significant first. */
    private static void writeLittleEndian(byte[] memory, int at, int width, long value) {
        for (int i = 0; i < width; i++) {
            memory[at + i] = (byte) (value >>> (8 * i));
        }
    }
}
