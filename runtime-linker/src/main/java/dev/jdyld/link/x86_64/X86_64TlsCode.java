package dev.jdyld.link.x86_64;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The machine code jdyld emits into a set that uses thread-local storage (x86-64).
 *
 * <p>Each set's TLS block lives, per thread, under a {@code pthread} key of the set; a
 * {@code tls_index} ({@code {module, offset}}, the psABI's GD/LD GOT pair) holds that key as its
 * module and the variable's offset in the block. The fast paths below find the calling thread's
 * block with {@code pthread_getspecific} and never enter the JVM; only the first access of a
 * thread (no block yet) takes the slow path, an upcall that allocates and initialises the block.
 *
 * <p>Assembled from the listing in the comments (GNU as, AT&amp;T syntax); the {@code movabs}
 * immediates are patched with the addresses of {@code pthread_getspecific}, of the slow-path
 * upcall and of {@code free}.
 */
final class X86_64TlsCode {
    private X86_64TlsCode() {}

    /** Offset of {@code __tls_get_addr}. */
    static final int TLS_GET_ADDR = 0x00;
    /** Offset of the TLS descriptor resolver. */
    static final int TLSDESC_RESOLVER = 0x28;
    /** Offset of the pthread key destructor. */
    static final int DESTRUCTOR = 0x193;
    /** Bytes of code, padded to 16. */
    static final int SIZE = 0x1c0;

    private static final int[] GETSPECIFIC_IMMEDIATES = {0x05, 0x46};
    private static final int[] SLOW_PATH_IMMEDIATES = {0x1c, 0xfd};
    private static final int FREE_IMMEDIATE = 0x1a7;

    private static final byte[] CODE = bytes(
            // void *__tls_get_addr(tls_index *ti): normal call ABI, %rdi = ti
            0x57,                                     // 00 push   %rdi              (and align the stack)
            0x8b, 0x3f,                               // 01 mov    (%rdi),%edi       key = ti->module
            0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,       // 03 movabs $pthread_getspecific,%rax
            0xff, 0xd0,                               // 0d call   *%rax             block of this thread, or NULL
            0x5f,                                     // 0f pop    %rdi
            0x48, 0x85, 0xc0,                         // 10 test   %rax,%rax
            0x74, 0x05,                               // 13 je     1a                no block yet: slow path
            0x48, 0x03, 0x47, 0x08,                   // 15 add    0x8(%rdi),%rax    block + ti->offset
            0xc3,                                     // 19 ret
            0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,       // 1a movabs $slow_path,%rax
            0xff, 0xe0,                               // 24 jmp    *%rax             tail call: upcall(ti) returns the address
            0xcc, 0xcc,                               // 26 int3; int3

            // TLS descriptor resolver: %rax = descriptor {resolver, key, offset}; returns in %rax the
            // variable's offset from the thread pointer and preserves every other register.
            0x57,                                     // 28 push   %rdi
            0x56,                                     // 29 push   %rsi
            0x52,                                     // 2a push   %rdx
            0x51,                                     // 2b push   %rcx
            0x41, 0x50,                               // 2c push   %r8
            0x41, 0x51,                               // 2e push   %r9
            0x41, 0x52,                               // 30 push   %r10
            0x41, 0x53,                               // 32 push   %r11
            0x55,                                     // 34 push   %rbp
            0x48, 0x89, 0xe5,                         // 35 mov    %rsp,%rbp
            0x48, 0x83, 0xe4, 0xf0,                   // 38 and    $-16,%rsp        the call site need not align
            0x48, 0x8d, 0x78, 0x08,                   // 3c lea    0x8(%rax),%rdi    ti = &descriptor->key
            0x57,                                     // 40 push   %rdi
            0x57,                                     // 41 push   %rdi              (twice: keeps 16-byte alignment)
            0x8b, 0x3f,                               // 42 mov    (%rdi),%edi       key
            0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,       // 44 movabs $pthread_getspecific,%rax
            0xff, 0xd0,                               // 4e call   *%rax             (clobbers only rax rcx rdx rsi rdi)
            0x5f,                                     // 50 pop    %rdi
            0x5f,                                     // 51 pop    %rdi
            0x48, 0x85, 0xc0,                         // 52 test   %rax,%rax
            0x74, 0x1e,                               // 55 je     75                no block yet: slow path
            0x48, 0x03, 0x47, 0x08,                   // 57 add    0x8(%rdi),%rax    address = block + offset
            0x64, 0x48, 0x2b, 0x04, 0x25, 0, 0, 0, 0, // 5b sub    %fs:0x0,%rax      minus the thread pointer
            0x48, 0x89, 0xec,                         // 64 mov    %rbp,%rsp
            0x5d,                                     // 67 pop    %rbp
            0x41, 0x5b,                               // 68 pop    %r11
            0x41, 0x5a,                               // 6a pop    %r10
            0x41, 0x59,                               // 6c pop    %r9
            0x41, 0x58,                               // 6e pop    %r8
            0x59,                                     // 70 pop    %rcx
            0x5a,                                     // 71 pop    %rdx
            0x5e,                                     // 72 pop    %rsi
            0x5f,                                     // 73 pop    %rdi
            0xc3,                                     // 74 ret
            0x48, 0x81, 0xec, 0x00, 0x01, 0, 0,       // 75 sub    $0x100,%rsp       the upcall may use any xmm
            0xf3, 0x0f, 0x7f, 0x04, 0x24,             // 7c movdqu %xmm0,(%rsp)
            0xf3, 0x0f, 0x7f, 0x4c, 0x24, 0x10,       // 81 movdqu %xmm1,0x10(%rsp)
            0xf3, 0x0f, 0x7f, 0x54, 0x24, 0x20,       // 87 movdqu %xmm2,0x20(%rsp)
            0xf3, 0x0f, 0x7f, 0x5c, 0x24, 0x30,       // 8d movdqu %xmm3,0x30(%rsp)
            0xf3, 0x0f, 0x7f, 0x64, 0x24, 0x40,       // 93 movdqu %xmm4,0x40(%rsp)
            0xf3, 0x0f, 0x7f, 0x6c, 0x24, 0x50,       // 99 movdqu %xmm5,0x50(%rsp)
            0xf3, 0x0f, 0x7f, 0x74, 0x24, 0x60,       // 9f movdqu %xmm6,0x60(%rsp)
            0xf3, 0x0f, 0x7f, 0x7c, 0x24, 0x70,       // a5 movdqu %xmm7,0x70(%rsp)
            0xf3, 0x44, 0x0f, 0x7f, 0x84, 0x24, 0x80, 0, 0, 0, // ab movdqu %xmm8,0x80(%rsp)
            0xf3, 0x44, 0x0f, 0x7f, 0x8c, 0x24, 0x90, 0, 0, 0, // b5 movdqu %xmm9,0x90(%rsp)
            0xf3, 0x44, 0x0f, 0x7f, 0x94, 0x24, 0xa0, 0, 0, 0, // bf movdqu %xmm10,0xa0(%rsp)
            0xf3, 0x44, 0x0f, 0x7f, 0x9c, 0x24, 0xb0, 0, 0, 0, // c9 movdqu %xmm11,0xb0(%rsp)
            0xf3, 0x44, 0x0f, 0x7f, 0xa4, 0x24, 0xc0, 0, 0, 0, // d3 movdqu %xmm12,0xc0(%rsp)
            0xf3, 0x44, 0x0f, 0x7f, 0xac, 0x24, 0xd0, 0, 0, 0, // dd movdqu %xmm13,0xd0(%rsp)
            0xf3, 0x44, 0x0f, 0x7f, 0xb4, 0x24, 0xe0, 0, 0, 0, // e7 movdqu %xmm14,0xe0(%rsp)
            0xf3, 0x44, 0x0f, 0x7f, 0xbc, 0x24, 0xf0, 0, 0, 0, // f1 movdqu %xmm15,0xf0(%rsp)
            0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,       // fb movabs $slow_path,%rax
            0xff, 0xd0,                               // 105 call  *%rax             upcall(ti) returns the address
            0xf3, 0x0f, 0x6f, 0x04, 0x24,             // 107 movdqu (%rsp),%xmm0
            0xf3, 0x0f, 0x6f, 0x4c, 0x24, 0x10,       // 10c movdqu 0x10(%rsp),%xmm1
            0xf3, 0x0f, 0x6f, 0x54, 0x24, 0x20,       // 112 movdqu 0x20(%rsp),%xmm2
            0xf3, 0x0f, 0x6f, 0x5c, 0x24, 0x30,       // 118 movdqu 0x30(%rsp),%xmm3
            0xf3, 0x0f, 0x6f, 0x64, 0x24, 0x40,       // 11e movdqu 0x40(%rsp),%xmm4
            0xf3, 0x0f, 0x6f, 0x6c, 0x24, 0x50,       // 124 movdqu 0x50(%rsp),%xmm5
            0xf3, 0x0f, 0x6f, 0x74, 0x24, 0x60,       // 12a movdqu 0x60(%rsp),%xmm6
            0xf3, 0x0f, 0x6f, 0x7c, 0x24, 0x70,       // 130 movdqu 0x70(%rsp),%xmm7
            0xf3, 0x44, 0x0f, 0x6f, 0x84, 0x24, 0x80, 0, 0, 0, // 136 movdqu 0x80(%rsp),%xmm8
            0xf3, 0x44, 0x0f, 0x6f, 0x8c, 0x24, 0x90, 0, 0, 0, // 140 movdqu 0x90(%rsp),%xmm9
            0xf3, 0x44, 0x0f, 0x6f, 0x94, 0x24, 0xa0, 0, 0, 0, // 14a movdqu 0xa0(%rsp),%xmm10
            0xf3, 0x44, 0x0f, 0x6f, 0x9c, 0x24, 0xb0, 0, 0, 0, // 154 movdqu 0xb0(%rsp),%xmm11
            0xf3, 0x44, 0x0f, 0x6f, 0xa4, 0x24, 0xc0, 0, 0, 0, // 15e movdqu 0xc0(%rsp),%xmm12
            0xf3, 0x44, 0x0f, 0x6f, 0xac, 0x24, 0xd0, 0, 0, 0, // 168 movdqu 0xd0(%rsp),%xmm13
            0xf3, 0x44, 0x0f, 0x6f, 0xb4, 0x24, 0xe0, 0, 0, 0, // 172 movdqu 0xe0(%rsp),%xmm14
            0xf3, 0x44, 0x0f, 0x6f, 0xbc, 0x24, 0xf0, 0, 0, 0, // 17c movdqu 0xf0(%rsp),%xmm15
            0x48, 0x81, 0xc4, 0x00, 0x01, 0, 0,       // 186 add   $0x100,%rsp
            0xe9, 0xc9, 0xfe, 0xff, 0xff,             // 18d jmp   5b                back to "minus the thread pointer"
            0xcc,                                     // 192 int3

            // void destructor(void *block): pthread key destructor, run at thread exit. The block's header
            // holds the set's slot that owns it; whoever swaps the slot to 0 first (this destructor, or
            // the set being closed) frees the block, so it is freed exactly once.
            0x48, 0x8b, 0x47, 0xf8,                   // 193 mov   -0x8(%rdi),%rax   &slot
            0x31, 0xc9,                               // 197 xor   %ecx,%ecx
            0x48, 0x87, 0x08,                         // 199 xchg  %rcx,(%rax)       take the block (locked)
            0x48, 0x85, 0xc9,                         // 19c test  %rcx,%rcx
            0x74, 0x10,                               // 19f je    1b1               the set freed it already
            0x48, 0x8b, 0x7f, 0xf0,                   // 1a1 mov   -0x10(%rdi),%rdi  the pointer malloc returned
            0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,       // 1a5 movabs $free,%rax
            0xff, 0xe0,                               // 1af jmp   *%rax             tail call free()
            0xc3,                                     // 1b1 ret
            0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc); // 1b2 padding

    /**
     * The same entry points for a set whose block is in static TLS: a {@code tls_index} or
     * descriptor then holds the variable's offset from the thread pointer, the same in every thread,
     * so neither routine needs a key, a block of its own or the JVM. No destructor: glibc owns the
     * blocks.
     */
    private static final byte[] STATIC_CODE = routine(
            // void *__tls_get_addr(tls_index *ti)
            0x64, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0, // 00 mov    %fs:0x0,%rax      the thread pointer
            0x48, 0x03, 0x47, 0x08,                   // 09 add    0x8(%rdi),%rax    plus ti->offset
            0xc3);                                    // 0d ret
    private static final byte[] STATIC_DESCRIPTOR_RESOLVER = {
            0x48, (byte) 0x8b, 0x40, 0x10,            // 28 mov    0x10(%rax),%rax   descriptor->offset
            (byte) 0xc3};                             // 2c ret

    /** Writes the static-TLS routines at {@code offset} of {@code text}, the rest {@code int3}. */
    static void writeStatic(MemorySegment text, long offset) {
        text.asSlice(offset, SIZE).fill((byte) 0xcc);
        MemorySegment.copy(MemorySegment.ofArray(STATIC_CODE), 0, text, offset + TLS_GET_ADDR, STATIC_CODE.length);
        MemorySegment.copy(MemorySegment.ofArray(STATIC_DESCRIPTOR_RESOLVER), 0, text, offset + TLSDESC_RESOLVER,
                STATIC_DESCRIPTOR_RESOLVER.length);
    }

    /** The static-TLS routines as written, for the disassembly test. */
    static byte[] staticCode() {
        byte[] code = new byte[SIZE];
        writeStatic(MemorySegment.ofArray(code), 0);
        return code;
    }

    private static byte[] routine(int... values) {
        byte[] result = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            result[i] = (byte) values[i];
        }
        return result;
    }

    /** A copy of the routines with unpatched immediates, for the disassembly test. */
    static byte[] code() {
        return CODE.clone();
    }

    /** Writes the routines at {@code offset} of {@code text} with their call targets patched in. */
    static void write(MemorySegment text, long offset, long pthreadGetspecific, long slowPath, long free) {
        MemorySegment.copy(MemorySegment.ofArray(CODE), 0, text, offset, CODE.length);
        for (int at : GETSPECIFIC_IMMEDIATES) {
            text.set(ValueLayout.JAVA_LONG_UNALIGNED, offset + at, pthreadGetspecific);
        }
        for (int at : SLOW_PATH_IMMEDIATES) {
            text.set(ValueLayout.JAVA_LONG_UNALIGNED, offset + at, slowPath);
        }
        text.set(ValueLayout.JAVA_LONG_UNALIGNED, offset + FREE_IMMEDIATE, free);
    }

    private static byte[] bytes(int... values) {
        byte[] result = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            result[i] = (byte) values[i];
        }
        if (result.length != SIZE) {
            throw new AssertionError("TLS code is " + result.length + " bytes, expected " + SIZE);
        }
        return result;
    }
}
