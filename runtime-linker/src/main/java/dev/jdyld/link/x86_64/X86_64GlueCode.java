package dev.jdyld.link.x86_64;

import dev.jdyld.core.Location;
import dev.jdyld.core.RelocationException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * C runtime functions jdyld emits into each set that calls them (x86-64). glibc keeps
 * {@code atexit}, {@code at_quick_exit} and {@code pthread_atfork} in {@code libc_nonshared.a},
 * linked statically into every program or library, where they pass that module's
 * {@code __dso_handle} to the real registration functions. {@code dlsym} cannot find them, and
 * one shared copy could not know which set calls it, so each set gets its own three tail calls
 * with its own handle: closing the set with {@code __cxa_finalize(handle)} runs and removes
 * exactly the handlers its code registered.
 */
final class X86_64GlueCode {
    private X86_64GlueCode() {}

    static final int ATEXIT = 0x00;
    static final int AT_QUICK_EXIT = 0x18;
    static final int PTHREAD_ATFORK = 0x30;
    static final int SIZE = 0x48;

    private static final byte[] CODE = {
        // int atexit(void (*f)(void))  ->  __cxa_atexit(f, NULL, &__dso_handle)
        (byte) 0x31, (byte) 0xf6,                                     // 00 xor    %esi,%esi
        (byte) 0x48, (byte) 0x8d, (byte) 0x15, 0, 0, 0, 0,            // 02 lea    __dso_handle(%rip),%rdx
        (byte) 0x48, (byte) 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,             // 09 movabs $__cxa_atexit,%rax
        (byte) 0xff, (byte) 0xe0,                                     // 13 jmp    *%rax
        (byte) 0xcc, (byte) 0xcc, (byte) 0xcc,                        // 15 int3 x3
        // int at_quick_exit(void (*f)(void))  ->  __cxa_at_quick_exit(f, &__dso_handle)
        (byte) 0x48, (byte) 0x8d, (byte) 0x35, 0, 0, 0, 0,            // 18 lea    __dso_handle(%rip),%rsi
        (byte) 0x48, (byte) 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,             // 1f movabs $__cxa_at_quick_exit,%rax
        (byte) 0xff, (byte) 0xe0,                                     // 29 jmp    *%rax
        (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, // 2b int3 x5
        // int pthread_atfork(prepare, parent, child)  ->  __register_atfork(prepare, parent, child, &__dso_handle)
        (byte) 0x48, (byte) 0x8d, (byte) 0x0d, 0, 0, 0, 0,            // 30 lea    __dso_handle(%rip),%rcx
        (byte) 0x48, (byte) 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,             // 37 movabs $__register_atfork,%rax
        (byte) 0xff, (byte) 0xe0,                                     // 41 jmp    *%rax
        (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, // 43 int3 x5
    };

    /** {displacement field, end of instruction, immediate} per routine. */
    private static final int[][] PATCHES = {{0x05, 0x09, 0x0b}, {0x1b, 0x1f, 0x21}, {0x33, 0x37, 0x39}};

    static byte[] code() {
        return CODE.clone();
    }

    /**
     * Writes the routines at {@code offset} of {@code text}, which will run at {@code address}, with
     * the set's {@code __dso_handle} and the host's registration functions patched in.
     */
    static void write(MemorySegment text, long offset, long address, long dsoHandle, long cxaAtexit,
                      long cxaAtQuickExit, long registerAtfork) {
        MemorySegment.copy(MemorySegment.ofArray(CODE), 0, text, offset, CODE.length);
        long[] targets = {cxaAtexit, cxaAtQuickExit, registerAtfork};
        for (int i = 0; i < PATCHES.length; i++) {
            long displacement = dsoHandle - (address + PATCHES[i][1]);
            if (displacement != (int) displacement) {
                throw new RelocationException(Location.NONE, "__dso_handle at 0x" + Long.toHexString(dsoHandle)
                        + " is out of reach of the set's code at 0x" + Long.toHexString(address));
            }
            text.set(ValueLayout.JAVA_INT_UNALIGNED, offset + PATCHES[i][0], (int) displacement);
            text.set(ValueLayout.JAVA_LONG_UNALIGNED, offset + PATCHES[i][2], targets[i]);
        }
    }
}
