package dev.jdyld.link.aarch64;

import dev.jdyld.core.Location;
import dev.jdyld.core.RelocationException;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * The code jdyld writes for AArch64 sets: stubs (which are also the range-extension thunks of
 * calls that leave the set), the static-TLS routines, the C runtime glue and the lazy-call entry.
 * Each routine is listed as GNU as assembles it; {@code Aarch64CodeTest} assembles the listing
 * with {@code aarch64-linux-gnu-as} and compares. Absolute targets are literals after the code,
 * loaded with {@code ldr xN, literal}; calls go through {@code x16}, the ABI's intra-procedure-call
 * scratch register, which no caller expects preserved.
 */
final class Aarch64Code {
    private Aarch64Code() {}

    static final int BRK = 0xd4200000;

    /**
     * {@code adrp x16, slot; ldr x16, [x16, :lo12:slot]; br x16; brk #0}: reaches a GOT slot within
     * ±4 GiB, so a call goes anywhere in the address space from a stub within ±128 MiB of it.
     */
    static final int STUB_SIZE = 16;

    static void writeStub(MemorySegment text, long offset, long stubAddress, long slotAddress) {
        long pages = (slotAddress & ~0xfffL) - (stubAddress & ~0xfffL);
        if (pages < -(1L << 32) || pages >= 1L << 32 || (slotAddress & 7) != 0) {
            throw new RelocationException(Location.NONE, "stub at 0x" + Long.toHexString(stubAddress)
                    + " cannot reach its GOT slot at 0x" + Long.toHexString(slotAddress));
        }
        words(text, offset, 0x90000010, 0xf9400210, 0xd61f0200, BRK);
        Aarch64Fields.adrp(text, offset, pages, true);
        Aarch64Fields.lo12(text, offset + 4, slotAddress, 3, false);
    }

    /**
     * A range-extension thunk of a large set: {@code ldr x16, target; br x16; target: .quad}. It
     * reaches anywhere; a branch reaches it within its part of the set.
     */
    static final int THUNK_SIZE = 16;

    static void writeThunk(MemorySegment text, long offset, long target) {
        words(text, offset, 0x58000050, 0xd61f0200);
        text.set(JAVA_LONG_UNALIGNED, offset + 8, target);
    }

    /** Static-TLS routines: {@code __tls_get_addr}, the descriptor resolver; the key destructor is never used. */
    static final int TLS_GET_ADDR = 0, TLSDESC_RESOLVER = 16, TLS_DESTRUCTOR = 32, TLS_SIZE = 48;

    /**
     * {@code __tls_get_addr(tls_index *)}: the index's offset is the variable's offset from the
     * thread pointer; the descriptor resolver returns the descriptor's third word, which is that
     * offset (descriptors are resolver, module, offset). Nothing else is clobbered, as TLSDESC asks.
     */
    static void writeStaticTls(MemorySegment text, long offset) {
        words(text, offset,
                0xf9400400,  // ldr x0, [x0, #8]
                0xd53bd041,  // mrs x1, tpidr_el0
                0x8b000020,  // add x0, x1, x0
                0xd65f03c0,  // ret
                0xf9400800,  // ldr x0, [x0, #16]
                0xd65f03c0,  // ret
                BRK, BRK, BRK, BRK, BRK, BRK);
    }

    /** Glue entries and their literals: the set's {@code __dso_handle}, then the three targets. */
    static final int ATEXIT = 0, AT_QUICK_EXIT = 16, PTHREAD_ATFORK = 32, GLUE_LITERALS = 48, GLUE_SIZE = 80;

    static void writeGlue(MemorySegment text, long offset, long dsoHandle, long cxaAtexit, long cxaAtQuickExit,
                          long registerAtfork) {
        words(text, offset,
                0xd2800001,  // atexit(fn):         mov x1, #0
                0x58000162,  //                     ldr x2, dso
                0x58000190,  //                     ldr x16, __cxa_atexit
                0xd61f0200,  //                     br x16
                0x58000101,  // at_quick_exit(fn):  ldr x1, dso
                0x58000170,  //                     ldr x16, __cxa_at_quick_exit
                0xd61f0200,  //                     br x16
                BRK,
                0x58000083,  // pthread_atfork(...): ldr x3, dso
                0x58000130,  //                     ldr x16, __register_atfork
                0xd61f0200,  //                     br x16
                BRK);
        text.set(JAVA_LONG_UNALIGNED, offset + GLUE_LITERALS, dsoHandle);
        text.set(JAVA_LONG_UNALIGNED, offset + GLUE_LITERALS + 8, cxaAtexit);
        text.set(JAVA_LONG_UNALIGNED, offset + GLUE_LITERALS + 16, cxaAtQuickExit);
        text.set(JAVA_LONG_UNALIGNED, offset + GLUE_LITERALS + 24, registerAtfork);
    }

    /** The lazy entry: saves the argument registers, calls the resolver with the id in {@code x17}, restores, jumps. */
    static final int LAZY_RESOLVER_LITERAL = 112, LAZY_RETURN_ZERO = 120, LAZY_ENTRY_SIZE = 136;

    static void writeLazyEntry(MemorySegment text, long offset, long resolver) {
        words(text, offset,
                0xa9b27bfd,  // stp x29, x30, [sp, #-224]!
                0x910003fd,  // mov x29, sp
                0xa90107e0,  // stp x0, x1, [sp, #16]
                0xa9020fe2,  // stp x2, x3, [sp, #32]
                0xa90317e4,  // stp x4, x5, [sp, #48]
                0xa9041fe6,  // stp x6, x7, [sp, #64]
                0xf9002be8,  // str x8, [sp, #80]        (indirect result)
                0xad0307e0,  // stp q0, q1, [sp, #96]
                0xad040fe2,  // stp q2, q3, [sp, #128]
                0xad0517e4,  // stp q4, q5, [sp, #160]
                0xad061fe6,  // stp q6, q7, [sp, #192]
                0xaa1103e0,  // mov x0, x17               (the thunk's id)
                0x58000210,  // ldr x16, resolver
                0xd63f0200,  // blr x16
                0xaa0003f0,  // mov x16, x0
                0xad461fe6,  // ldp q6, q7, [sp, #192]
                0xad4517e4,  // ldp q4, q5, [sp, #160]
                0xad440fe2,  // ldp q2, q3, [sp, #128]
                0xad4307e0,  // ldp q0, q1, [sp, #96]
                0xf9402be8,  // ldr x8, [sp, #80]
                0xa9441fe6,  // ldp x6, x7, [sp, #64]
                0xa94317e4,  // ldp x4, x5, [sp, #48]
                0xa9420fe2,  // ldp x2, x3, [sp, #32]
                0xa94107e0,  // ldp x0, x1, [sp, #16]
                0xa8ce7bfd,  // ldp x29, x30, [sp], #224
                0xd61f0200,  // br x16
                BRK, BRK);
        text.set(JAVA_LONG_UNALIGNED, offset + LAZY_RESOLVER_LITERAL, resolver);
        words(text, offset + LAZY_RETURN_ZERO,
                0xd2800000,  // mov x0, #0
                0x2f00e400,  // movi d0, #0
                0xd65f03c0,  // ret
                BRK);
    }

    /** {@code movz w17, #id; movk w17, #id >> 16, lsl 16; b entry; brk #0}. */
    static final int LAZY_THUNK_SIZE = 16;

    static void writeLazyThunk(MemorySegment text, long offset, long thunkAddress, int id, long entryAddress) {
        words(text, offset, 0x52800011 | (id & 0xffff) << 5, 0x72a00011 | (id >>> 16) << 5, 0x14000000, BRK);
        String error = Aarch64Fields.branch(text, offset + 8, entryAddress - (thunkAddress + 8), 26, 0);
        if (error != null) {
            throw new RelocationException(Location.NONE, "lazy thunk at 0x" + Long.toHexString(thunkAddress)
                    + " cannot reach its entry: " + error);
        }
    }

    private static void words(MemorySegment text, long offset, int... words) {
        for (int i = 0; i < words.length; i++) {
            text.set(JAVA_INT_UNALIGNED, offset + 4L * i, words[i]);
        }
    }
}
