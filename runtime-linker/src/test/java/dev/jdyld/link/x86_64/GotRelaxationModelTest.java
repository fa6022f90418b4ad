package dev.jdyld.link.x86_64;

import dev.jdyld.elf.ElfObject;
import dev.jdyld.core.RelocationException;
import dev.jdyld.link.arch.Relocation;
import dev.jdyld.link.arch.RelocationTarget;
import dev.jdyld.link.arch.ResolvedSymbols;
import dev.jdyld.link.arch.ScanContext;
import dev.jdyld.link.arch.SymbolKind;
import dev.jdyld.link.arch.SymbolRef;
import dev.jdyld.link.arch.TlsModel;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;

import static dev.jdyld.link.x86_64.X86_64Relocation.R_X86_64_GOTPCREL;
import static dev.jdyld.link.x86_64.X86_64Relocation.R_X86_64_GOTPCRELX;
import static dev.jdyld.link.x86_64.X86_64Relocation.R_X86_64_REX_GOTPCRELX;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * GOTPCRELX relaxation ({@link X86_64GotRelaxation}) against a model written from the psABI and
 * GNU ld's encodings rather than from the code: for random instruction bytes before a
 * {@code GOTPCRELX}, {@code REX_GOTPCRELX} or {@code GOTPCREL} field (biased towards the relaxable
 * {@code mov}, {@code call *} and {@code jmp *} forms and their near misses), random addends, and
 * symbols the engine lets bypass the GOT or not, the scan must ask for a GOT slot exactly when the
 * model keeps the instruction, and the apply loop, given a slot or not as the scan asked, must
 * write exactly the model's bytes, or refuse a displacement out of range writing nothing.
 */
class GotRelaxationModelTest {
    private static final long SEED = Long.getLong("jdyld.relocation.seed", 0x6a64796c64L);
    private static final int CASES = 20_000;
    private static final int GUARD = 16;
    private static final int SYMBOLS = 2;
    private static final HexFormat HEX = HexFormat.of();
    private static final int[] TYPES = {R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX, R_X86_64_GOTPCREL};

    /** One relocation: the section's bytes, the field, the quantities, whether the symbol may bypass the GOT. */
    record Case(int n, byte[] text, int type, long offset, long A, long S, long P, long slot, boolean ownSymbol) {
        @Override
        public String toString() {
            return String.format("case %d (seed 0x%x): %s at offset %d of %s, A=%d S=0x%x P=0x%x slot=0x%x%s", n,
                    SEED, X86_64Relocation.name(type), offset, HEX.formatHex(text), A, S, P, slot,
                    ownSymbol ? ", may bypass the GOT" : "");
        }
    }

    /** What the model expects: the section afterwards (null for a refusal) and whether a GOT slot is read. */
    record Outcome(byte[] text, boolean readsSlot) {}

    @Test
    void randomInstructionsAreRelaxedExactlyAsTheModelSays() {
        SplittableRandom random = new SplittableRandom(SEED ^ 0x7265_6c61_78L);
        int[] outcomes = new int[4]; // lea, call, jmp, through the slot
        int refused = 0;
        for (int n = 0; n < CASES; n++) {
            Case c = randomCase(n, random);
            Outcome expected = model(c);
            boolean asked = scanAsksForSlot(c);
            assertThat(asked).as(c + ": the scan asks for a GOT slot").isEqualTo(expected.readsSlot());
            byte[] memory = new byte[c.text().length + 2 * GUARD];
            random.nextBytes(memory);
            System.arraycopy(c.text(), 0, memory, GUARD, c.text().length);
            byte[] before = memory.clone();
            RelocationException refusal = null;
            try {
                apply(c, memory, asked ? c.slot() : 0);
            } catch (RelocationException e) {
                refusal = e;
            }
            if (expected.text() == null) {
                assertThat(refusal).as(c + " is out of range").isNotNull();
                assertThat(refusal.getMessage()).as(c.toString()).contains("does not fit");
                assertThat(refusal.location().relocation()).isEqualTo(X86_64Relocation.name(c.type()));
                assertThat(HEX.formatHex(memory)).as(c + ": nothing written").isEqualTo(HEX.formatHex(before));
                refused++;
                continue;
            }
            assertThat(refusal).as(c.toString()).isNull();
            byte[] expectedMemory = before.clone();
            System.arraycopy(expected.text(), 0, expectedMemory, GUARD, expected.text().length);
            assertThat(HEX.formatHex(memory)).as(c.toString()).isEqualTo(HEX.formatHex(expectedMemory));
            int opcode = memory[GUARD + (int) c.offset() - (expected.readsSlot() ? 0 : 2)] & 0xff;
            outcomes[expected.readsSlot() ? 3 : opcode == 0x8d ? 0 : opcode == 0x67 ? 1 : 2]++;
        }
        // Every outcome must be common, or the property says little about it.
        assertThat(Arrays.stream(outcomes).min().orElseThrow()).as("fewest of lea, call, jmp, slot: %s",
                Arrays.toString(outcomes)).isGreaterThan(CASES / 100);
        assertThat(refused).isGreaterThan(CASES / 100);
    }

    @Test
    void aJumpAtTheStartOfASectionIsRelaxedAndAMovThatWouldNeedItsRexPrefixBeforeTheSectionIsNot() {
        long S = 0x7000_1000L;
        long P = 0x7000_0002L;
        Case jump = new Case(-1, new byte[] {(byte) 0xff, 0x25, 0, 0, 0, 0}, R_X86_64_GOTPCRELX, 2, -4, S, P, 8, true);
        assertThat(scanAsksForSlot(jump)).isFalse();
        byte[] memory = new byte[6 + 2 * GUARD];
        System.arraycopy(jump.text(), 0, memory, GUARD, 6);
        apply(jump, memory, 0);
        assertThat(HEX.formatHex(memory, GUARD, GUARD + 6)).isEqualTo("e9" + "fb0f0000" + "90");
        Case mov = new Case(-2, new byte[] {(byte) 0x8b, 0x05, 0, 0, 0, 0}, R_X86_64_REX_GOTPCRELX, 2, -4, S, P, 8, true);
        assertThat(scanAsksForSlot(mov)).isTrue();
    }

    /** {@code movl foo@GOTPCREL+4(%rip), %eax} reads the slot's upper half: no lea computes that (lld's and GNU ld's rule). */
    @Test
    void aLoadWithAnotherAddendThanMinusFourKeepsItsSlot() {
        Case offsetLoad = new Case(-3, new byte[] {(byte) 0x8b, 0x05, 0, 0, 0, 0}, R_X86_64_GOTPCRELX, 2, 0,
                0x7000_1000L, 0x7000_0002L, 0x7000_2000L, true);
        assertThat(model(offsetLoad).readsSlot()).isTrue();
        assertThat(scanAsksForSlot(offsetLoad)).isTrue();
    }

    /**
     * GNU ld's relaxation, restated: {@code mov disp32(%rip), %reg} (8b, ModRM mod 00 r/m 101; a
     * REX prefix before it for REX_GOTPCRELX) becomes {@code lea} (8d); for GOTPCRELX only,
     * {@code ff 15} becomes {@code 67 e8}, and {@code ff 25} becomes {@code e9} with the
     * displacement one byte earlier and {@code 90} after it. Only with addend -4, only for a symbol
     * that may bypass the GOT, never for plain GOTPCREL. Otherwise the field is {@code G + GOT + A - P}.
     */
    private static Outcome model(Case c) {
        byte[] text = c.text().clone();
        int f = (int) c.offset();
        boolean rex = c.type() == R_X86_64_REX_GOTPCRELX;
        boolean relaxType = c.type() == R_X86_64_GOTPCRELX || rex;
        if (c.ownSymbol() && relaxType && c.A() == -4 && f >= (rex ? 3 : 2)) {
            int opcode = text[f - 2] & 0xff;
            int modrm = text[f - 1] & 0xff;
            if (opcode == 0x8b && (modrm & 0xc7) == 0x05 && (!rex || (text[f - 3] & 0xf0) == 0x40)) {
                text[f - 2] = (byte) 0x8d;
                return write32(text, f, c.S() + c.A() - c.P(), false);
            }
            if (!rex && opcode == 0xff && modrm == 0x15) {
                text[f - 2] = (byte) 0x67;
                text[f - 1] = (byte) 0xe8;
                return write32(text, f, c.S() - 4 - c.P(), false);
            }
            if (!rex && opcode == 0xff && modrm == 0x25) {
                text[f - 2] = (byte) 0xe9;
                text[f + 3] = (byte) 0x90;
                return write32(text, f - 1, c.S() - 4 - (c.P() - 1), false);
            }
        }
        return write32(text, f, c.slot() + c.A() - c.P(), true);
    }

    private static Outcome write32(byte[] text, int at, long value, boolean readsSlot) {
        if (value != (int) value) {
            return new Outcome(null, readsSlot);
        }
        for (int i = 0; i < 4; i++) {
            text[at + i] = (byte) (value >>> (8 * i));
        }
        return new Outcome(text, readsSlot);
    }

    private static Case randomCase(int n, SplittableRandom random) {
        int size = 4 + random.nextInt(12);
        byte[] text = new byte[size];
        random.nextBytes(text);
        int offset = random.nextInt(4) == 0 ? random.nextInt(Math.min(4, size - 3)) : random.nextInt(size - 3);
        int form = random.nextInt(6);
        if (offset >= 2 && form < 5) {
            switch (form) {
                case 0, 1 -> { // mov, with or without REX; ModRM mostly rip-relative
                    text[offset - 2] = (byte) 0x8b;
                    text[offset - 1] = (byte) ((random.nextInt(8) << 3)
                            | (random.nextInt(5) == 0 ? random.nextInt(256) & 0xc7 : 5));
                    if (offset >= 3 && form == 1) {
                        text[offset - 3] = (byte) (0x40 | random.nextInt(16));
                    }
                }
                case 2 -> {
                    text[offset - 2] = (byte) 0xff;
                    text[offset - 1] = 0x15;
                }
                case 3 -> {
                    text[offset - 2] = (byte) 0xff;
                    text[offset - 1] = 0x25;
                }
                default -> { // near misses: another opcode with a rip-relative ModRM, or ff with another ModRM
                    text[offset - 2] = (byte) (random.nextBoolean() ? 0xff : random.nextInt(256));
                    text[offset - 1] = (byte) ((random.nextInt(8) << 3) | 5);
                }
            }
        }
        int type = TYPES[random.nextInt(10) < 8 ? random.nextInt(2) : 2];
        long A = random.nextInt(5) == 0 ? random.nextInt(-16, 16) : -4;
        long P = random.nextLong(1L << 20, 1L << 47);
        long S = near(random, P);
        long slot = near(random, P) | 8; // never 0: a slot the scan asked for has an address
        return new Case(n, text, type, offset, A, S, P, slot, random.nextInt(4) != 0);
    }

    /** Mostly within ±1 GiB of {@code P}, sometimes just past ±2 GiB, sometimes anywhere. */
    private static long near(SplittableRandom random, long P) {
        return switch (random.nextInt(10)) {
            case 0 -> P + (random.nextBoolean() ? 1L << 31 : -(1L << 31) - 8) + random.nextInt(-8, 8);
            case 1 -> random.nextLong(1L << 47);
            default -> P + random.nextLong(-(1L << 30), 1L << 30);
        };
    }

    private static ElfObject object(Case c) {
        return MinimalRelocatableObject.parse("relax.o", c.text(), SYMBOLS,
                List.of(new MinimalRelocatableObject.Entry(c.offset(), 1, c.type(), c.A())));
    }

    /** The engine's apply path, the symbol's GOT slot at {@code slot} (0: none, as the scan decided). */
    private static void apply(Case c, byte[] memory, long slot) {
        ResolvedSymbols symbols = new ResolvedSymbols(SYMBOLS + 1);
        symbols.address[1] = c.S();
        symbols.gotSlot[1] = slot;
        symbols.address[2] = ~c.S();
        symbols.gotSlot[2] = ~c.slot();
        X86_64.INSTANCE.relocate(new RelocationTarget(X86_64.INSTANCE, object(c), MinimalRelocatableObject.RELA_TEXT,
                MemorySegment.ofArray(memory).asSlice(GUARD, c.text().length), c.P() - c.offset(), symbols), 0x1000);
    }

    /** The scan's decision for the same relocation: whether it asks for the symbol's GOT slot. */
    private static boolean scanAsksForSlot(Case c) {
        Relocation relocation = new Relocation(X86_64.INSTANCE);
        relocation.moveTo(object(c), MinimalRelocatableObject.TEXT, c.offset(), c.type(), 1, c.A());
        boolean[] asked = new boolean[1];
        X86_64.INSTANCE.scan(new ScanContext() {
            @Override
            public void got(SymbolRef symbol) {
                asked[0] = true;
            }

            @Override
            public boolean mayBypassGot(SymbolRef symbol) {
                return c.ownSymbol();
            }

            @Override
            public void branch(SymbolRef symbol) {
                throw new AssertionError("branch");
            }

            @Override
            public void canonicalStub(SymbolRef symbol) {
                throw new AssertionError("canonical stub");
            }

            @Override
            public void threadLocal(Relocation r, SymbolRef symbol, TlsModel model) {
                throw new AssertionError("thread-local");
            }

            @Override
            public void requireLow2GiB(Relocation r) {
                throw new AssertionError("low 2 GiB");
            }

            @Override
            public void requireNear(Relocation r, SymbolRef symbol) {
                throw new AssertionError("near");
            }

            @Override
            public void limitReach(Relocation r, SymbolRef symbol, long reach) {
                throw new AssertionError("reach");
            }

            @Override
            public void rangeExtension(Relocation r, SymbolRef symbol) {
                throw new AssertionError("range extension");
            }
        }, relocation, new SymbolRef() {
            @Override
            public SymbolKind kind() {
                return c.ownSymbol() ? SymbolKind.SET : SymbolKind.HOST;
            }

            @Override
            public long address() {
                return c.ownSymbol() ? 0 : c.S();
            }

            @Override
            public boolean isHostFunction() {
                return false;
            }

            @Override
            public boolean refersToAddress() {
                return true;
            }
        });
        return asked[0];
    }
}
