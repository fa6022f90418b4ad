package dev.jdyld.link.x86_64;

import dev.jdyld.core.Location;
import dev.jdyld.core.RelocationException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The code behind lazy symbols (x86-64). A lazy symbol's redirectable slot first points at its
 * thunk, which loads the symbol's id into {@code r11} (a scratch register no argument uses) and
 * jumps to the shared entry. The entry saves every register that can carry an argument
 * ({@code rdi rsi rdx rcx r8 r9}, {@code rax} for the vector count of a variadic call, {@code r10}
 * for a static chain, {@code xmm0-7}), calls the resolver (a Java upcall) with the id, restores them
 * and jumps to the address it returned: the caller's call continues into the materialized function
 * as if it had called it directly.
 *
 * <p>When materializing fails the resolver cannot throw through C frames; it returns the address of
 * {@link #RETURN_ZERO}, which returns 0 (integer and floating point) to the caller, and the failure is
 * rethrown in Java when the call from Java returns.
 */
final class X86_64LazyCallCode {
    private X86_64LazyCallCode() {}

    static final int THUNK_SIZE = 16;
    /** Offset, in the entry code, of a function that returns 0 in {@code rax} and {@code xmm0}. */
    static final int RETURN_ZERO = 0xb8;
    static final int ENTRY_SIZE = 0xc0;

    private static final byte[] ENTRY = {
        (byte) 0x55,                                                  // 00 push   %rbp
        (byte) 0x48, (byte) 0x89, (byte) 0xe5,                        // 01 mov    %rsp,%rbp
        (byte) 0x57, (byte) 0x56, (byte) 0x52, (byte) 0x51,           // 04 push   %rdi, %rsi, %rdx, %rcx
        (byte) 0x41, (byte) 0x50, (byte) 0x41, (byte) 0x51,           // 08 push   %r8, %r9
        (byte) 0x50, (byte) 0x41, (byte) 0x52,                        // 0c push   %rax, %r10 (stack 16-aligned again)
        (byte) 0x48, (byte) 0x81, (byte) 0xec, (byte) 0x80, 0, 0, 0,  // 0f sub    $0x80,%rsp
        (byte) 0xf3, (byte) 0x0f, (byte) 0x7f, (byte) 0x04, (byte) 0x24,             // 16 movdqu %xmm0,(%rsp)
        (byte) 0xf3, (byte) 0x0f, (byte) 0x7f, (byte) 0x4c, (byte) 0x24, (byte) 0x10, // 1b movdqu %xmm1,0x10(%rsp)
        (byte) 0xf3, (byte) 0x0f, (byte) 0x7f, (byte) 0x54, (byte) 0x24, (byte) 0x20, // 21 movdqu %xmm2,0x20(%rsp)
        (byte) 0xf3, (byte) 0x0f, (byte) 0x7f, (byte) 0x5c, (byte) 0x24, (byte) 0x30, // 27 movdqu %xmm3,0x30(%rsp)
        (byte) 0xf3, (byte) 0x0f, (byte) 0x7f, (byte) 0x64, (byte) 0x24, (byte) 0x40, // 2d movdqu %xmm4,0x40(%rsp)
        (byte) 0xf3, (byte) 0x0f, (byte) 0x7f, (byte) 0x6c, (byte) 0x24, (byte) 0x50, // 33 movdqu %xmm5,0x50(%rsp)
        (byte) 0xf3, (byte) 0x0f, (byte) 0x7f, (byte) 0x74, (byte) 0x24, (byte) 0x60, // 39 movdqu %xmm6,0x60(%rsp)
        (byte) 0xf3, (byte) 0x0f, (byte) 0x7f, (byte) 0x7c, (byte) 0x24, (byte) 0x70, // 3f movdqu %xmm7,0x70(%rsp)
        (byte) 0x4c, (byte) 0x89, (byte) 0xdf,                        // 45 mov    %r11,%rdi   (the symbol's id)
        (byte) 0x48, (byte) 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,             // 48 movabs $resolver,%rax
        (byte) 0xff, (byte) 0xd0,                                     // 52 call   *%rax
        (byte) 0x49, (byte) 0x89, (byte) 0xc3,                        // 54 mov    %rax,%r11   (where to continue)
        (byte) 0xf3, (byte) 0x0f, (byte) 0x6f, (byte) 0x04, (byte) 0x24,             // 57 movdqu (%rsp),%xmm0
        (byte) 0xf3, (byte) 0x0f, (byte) 0x6f, (byte) 0x4c, (byte) 0x24, (byte) 0x10, // 5c movdqu 0x10(%rsp),%xmm1
        (byte) 0xf3, (byte) 0x0f, (byte) 0x6f, (byte) 0x54, (byte) 0x24, (byte) 0x20, // 62 movdqu 0x20(%rsp),%xmm2
        (byte) 0xf3, (byte) 0x0f, (byte) 0x6f, (byte) 0x5c, (byte) 0x24, (byte) 0x30, // 68 movdqu 0x30(%rsp),%xmm3
        (byte) 0xf3, (byte) 0x0f, (byte) 0x6f, (byte) 0x64, (byte) 0x24, (byte) 0x40, // 6e movdqu 0x40(%rsp),%xmm4
        (byte) 0xf3, (byte) 0x0f, (byte) 0x6f, (byte) 0x6c, (byte) 0x24, (byte) 0x50, // 74 movdqu 0x50(%rsp),%xmm5
        (byte) 0xf3, (byte) 0x0f, (byte) 0x6f, (byte) 0x74, (byte) 0x24, (byte) 0x60, // 7a movdqu 0x60(%rsp),%xmm6
        (byte) 0xf3, (byte) 0x0f, (byte) 0x6f, (byte) 0x7c, (byte) 0x24, (byte) 0x70, // 80 movdqu 0x70(%rsp),%xmm7
        (byte) 0x48, (byte) 0x81, (byte) 0xc4, (byte) 0x80, 0, 0, 0,  // 86 add    $0x80,%rsp
        (byte) 0x41, (byte) 0x5a, (byte) 0x58,                        // 8d pop    %r10, %rax
        (byte) 0x41, (byte) 0x59, (byte) 0x41, (byte) 0x58,           // 90 pop    %r9, %r8
        (byte) 0x59, (byte) 0x5a, (byte) 0x5e, (byte) 0x5f,           // 94 pop    %rcx, %rdx, %rsi, %rdi
        (byte) 0x5d,                                                  // 98 pop    %rbp
        (byte) 0x41, (byte) 0xff, (byte) 0xe3,                        // 99 jmp    *%r11
    };

    private static final int RESOLVER_IMMEDIATE = 0x4a;

    private static final byte[] RETURN_ZERO_CODE = {
        (byte) 0x31, (byte) 0xc0,                                     // b8 xor    %eax,%eax
        (byte) 0x0f, (byte) 0x57, (byte) 0xc0,                        // ba xorps  %xmm0,%xmm0
        (byte) 0xc3,                                                  // bd ret
    };

    /** Writes the shared entry (and the return-zero function after it) at {@code offset} of {@code text}. */
    static void writeEntry(MemorySegment text, long offset, long resolver) {
        text.asSlice(offset, ENTRY_SIZE).fill((byte) 0xcc);
        MemorySegment.copy(MemorySegment.ofArray(ENTRY), 0, text, offset, ENTRY.length);
        text.set(ValueLayout.JAVA_LONG_UNALIGNED, offset + RESOLVER_IMMEDIATE, resolver);
        MemorySegment.copy(MemorySegment.ofArray(RETURN_ZERO_CODE), 0, text, offset + RETURN_ZERO, RETURN_ZERO_CODE.length);
    }

    /** {@code mov $id,%r11d; jmp entry}, padded with {@code int3}. */
    static void writeThunk(MemorySegment text, long offset, long thunkAddress, int id, long entryAddress) {
        long displacement = entryAddress - (thunkAddress + 11);
        if (displacement != (int) displacement) {
            throw new RelocationException(Location.NONE, "lazy thunk at 0x" + Long.toHexString(thunkAddress)
                    + " cannot reach the lazy-call entry at 0x" + Long.toHexString(entryAddress));
        }
        text.asSlice(offset, THUNK_SIZE).fill((byte) 0xcc);
        text.set(ValueLayout.JAVA_BYTE, offset, (byte) 0x41);
        text.set(ValueLayout.JAVA_BYTE, offset + 1, (byte) 0xbb);
        text.set(ValueLayout.JAVA_INT_UNALIGNED, offset + 2, id);
        text.set(ValueLayout.JAVA_BYTE, offset + 6, (byte) 0xe9);
        text.set(ValueLayout.JAVA_INT_UNALIGNED, offset + 7, (int) displacement);
    }
}
