package dev.jdyld.link.aarch64;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

/**
 * The code jdyld writes for AArch64 sets is what GNU as assembles from the listing in
 * {@link Aarch64Code}'s comments, with the literals and patched fields as given, and nothing is
 * written past each routine's size.
 */
class Aarch64CodeTest {
    @TempDir
    Path dir;

    @Test
    void stubReachesItsSlotThroughX16() throws Exception {
        // The stub at 0, its GOT slot three pages and 0x18 bytes on.
        assertSameCode(Aarch64Code.STUB_SIZE, text -> Aarch64Code.writeStub(text, 0, 0, 0x3018),
                "adrp x16, .+0x3000", "ldr x16, [x16, #0x18]", "br x16", "brk #0");
    }

    @Test
    void rangeExtensionThunkJumpsToItsLiteral() throws Exception {
        assertSameCode(Aarch64Code.THUNK_SIZE, text -> Aarch64Code.writeThunk(text, 0, 0x1234_5678_9abcL),
                "ldr x16, target", "br x16", "target: .quad 0x123456789abc");
    }

    @Test
    void staticTlsRoutinesAddTheOffsetToTheThreadPointer() throws Exception {
        assertSameCode(Aarch64Code.TLS_SIZE, text -> Aarch64Code.writeStaticTls(text, 0),
                "ldr x0, [x0, #8]", "mrs x1, tpidr_el0", "add x0, x1, x0", "ret",
                "ldr x0, [x0, #16]", "ret", "brk #0", "brk #0", "brk #0", "brk #0", "brk #0", "brk #0");
    }

    @Test
    void glueTailCallsTheRegistrationsWithTheSetsHandle() throws Exception {
        assertSameCode(Aarch64Code.GLUE_SIZE, text -> Aarch64Code.writeGlue(text, 0, 0x1111, 0x2222, 0x3333, 0x4444),
                "mov x1, #0", "ldr x2, dso", "ldr x16, atexit", "br x16",
                "ldr x1, dso", "ldr x16, quick", "br x16", "brk #0",
                "ldr x3, dso", "ldr x16, atfork", "br x16", "brk #0",
                "dso: .quad 0x1111", "atexit: .quad 0x2222", "quick: .quad 0x3333", "atfork: .quad 0x4444");
    }

    @Test
    void lazyEntryPreservesTheArgumentRegistersAroundTheResolver() throws Exception {
        assertSameCode(Aarch64Code.LAZY_ENTRY_SIZE, text -> Aarch64Code.writeLazyEntry(text, 0, 0x5555_6666_7777L),
                "stp x29, x30, [sp, #-224]!", "mov x29, sp", "stp x0, x1, [sp, #16]", "stp x2, x3, [sp, #32]",
                "stp x4, x5, [sp, #48]", "stp x6, x7, [sp, #64]", "str x8, [sp, #80]", "stp q0, q1, [sp, #96]",
                "stp q2, q3, [sp, #128]", "stp q4, q5, [sp, #160]", "stp q6, q7, [sp, #192]", "mov x0, x17",
                "ldr x16, resolver", "blr x16", "mov x16, x0", "ldp q6, q7, [sp, #192]", "ldp q4, q5, [sp, #160]",
                "ldp q2, q3, [sp, #128]", "ldp q0, q1, [sp, #96]", "ldr x8, [sp, #80]", "ldp x6, x7, [sp, #64]",
                "ldp x4, x5, [sp, #48]", "ldp x2, x3, [sp, #32]", "ldp x0, x1, [sp, #16]", "ldp x29, x30, [sp], #224",
                "br x16", "brk #0", "brk #0", "resolver: .quad 0x555566667777",
                "mov x0, #0", "movi d0, #0", "ret", "brk #0");
    }

    @Test
    void lazyThunkLoadsItsIdAndBranchesToTheEntry() throws Exception {
        // The thunk 0x400 bytes after the entry, with an id above 16 bits.
        assertSameCode(Aarch64Code.LAZY_THUNK_SIZE, text -> Aarch64Code.writeLazyThunk(text, 0, 0x10400, 0x12345, 0x10000),
                "movz w17, #0x2345", "movk w17, #0x1, lsl 16", "b .-0x408", "brk #0");
    }

    /** Writes the routine between guard bytes and compares it with the assembled listing. */
    private void assertSameCode(int size, Consumer<MemorySegment> write, String... listing) throws Exception {
        assumeThat(Path.of("/usr/bin/aarch64-linux-gnu-as")).as("GNU as for AArch64 (installed by .ci/run)").exists();
        List<String> lines = new ArrayList<>(List.of(".text"));
        lines.addAll(List.of(listing));
        byte[] expected = GnuAs.assembleText(dir, lines, 0x10000);
        assertThat(expected.length).as("the listing's size").isEqualTo(size);
        MemorySegment text = MemorySegment.ofArray(new byte[size + 8]);
        text.fill((byte) 0x5a);
        MemorySegment routine = text.asSlice(4, size);
        write.accept(routine);
        assertThat(text.get(JAVA_INT_UNALIGNED, 0)).as("guard before").isEqualTo(0x5a5a5a5a);
        assertThat(text.get(JAVA_INT_UNALIGNED, size + 4)).as("guard after").isEqualTo(0x5a5a5a5a);
        for (int at = 0; at < size; at += 4) {
            assertThat(Integer.toHexString(routine.get(JAVA_INT_UNALIGNED, at)))
                    .as("word at +%d", at).isEqualTo(Integer.toHexString(MemorySegment.ofArray(expected).get(JAVA_INT_UNALIGNED, at)));
        }
    }
}
