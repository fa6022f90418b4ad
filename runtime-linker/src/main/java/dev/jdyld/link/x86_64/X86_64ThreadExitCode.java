package dev.jdyld.link.x86_64;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The entries of jdyld's thread-local destructor registration (x86-64): each goes to its Java
 * upcall while the JVM exists and does the C library's part itself once it is gone.
 *
 * <p>An upcall from a thread the JVM does not know attaches that thread first, and once
 * {@code DestroyJavaVM} has ended (the Java {@code main} returned) attaching fails and the JVM
 * aborts. Thread-local destructors still run after that: the thread that ran the Java
 * {@code main} ends only then, and threads that loaded code started may end any time before the
 * process does. So each entry first asks {@code JNI_GetCreatedJavaVMs} how many JVMs exist:
 * <ul>
 *   <li>registration ({@code int (void (*dtor)(void *), void *obj, void *dso_symbol)}): to the
 *       registration upcall, or with no JVM to glibc's {@code __cxa_thread_atexit_impl} unchanged;</li>
 *   <li>run ({@code void (struct record *r)}, what glibc calls at thread exit): to the run upcall,
 *       or with no JVM {@code r->dtor(r->obj)} and {@code free(r)}. The set's memory is still
 *       mapped then: the record's hold on it is never given back, and nothing unmaps without the JVM.</li>
 * </ul>
 * The stack is 16-byte aligned at every call, as the psABI requires.
 */
final class X86_64ThreadExitCode {
    private X86_64ThreadExitCode() {}

    static final int REGISTER = 0x00;
    static final int RUN = 0x30;
    static final int SIZE = 0xa0;

    private static final byte[] CODE = {
        // int register(dtor, obj, dso_symbol)
        (byte) 0x57, (byte) 0x56, (byte) 0x52,                        // 00 push   %rdi, %rsi, %rdx (aligned again)
        (byte) 0xe8, (byte) 0x68, 0, 0, 0,                            // 03 call   jvms (70)
        (byte) 0x5a, (byte) 0x5e, (byte) 0x5f,                        // 08 pop    %rdx, %rsi, %rdi
        (byte) 0x85, (byte) 0xc0,                                     // 0b test   %eax,%eax
        (byte) 0x74, (byte) 0x0c,                                     // 0d je     1b
        (byte) 0x48, (byte) 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,             // 0f movabs $register_upcall,%rax
        (byte) 0xff, (byte) 0xe0,                                     // 19 jmp    *%rax
        (byte) 0x48, (byte) 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,             // 1b movabs $__cxa_thread_atexit_impl,%rax
        (byte) 0xff, (byte) 0xe0,                                     // 25 jmp    *%rax
        (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, // 27 int3 x9
        (byte) 0xcc, (byte) 0xcc, (byte) 0xcc,
        // void run(struct record { void (*dtor)(void *); void *obj; ... } *r)
        (byte) 0x53,                                                  // 30 push   %rbx     (aligned again)
        (byte) 0x48, (byte) 0x89, (byte) 0xfb,                        // 31 mov    %rdi,%rbx
        (byte) 0xe8, (byte) 0x37, 0, 0, 0,                            // 34 call   jvms (70)
        (byte) 0x48, (byte) 0x89, (byte) 0xdf,                        // 39 mov    %rbx,%rdi
        (byte) 0x85, (byte) 0xc0,                                     // 3c test   %eax,%eax
        (byte) 0x74, (byte) 0x0d,                                     // 3e je     4d
        (byte) 0x5b,                                                  // 40 pop    %rbx
        (byte) 0x48, (byte) 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,             // 41 movabs $run_upcall,%rax
        (byte) 0xff, (byte) 0xe0,                                     // 4b jmp    *%rax
        (byte) 0x48, (byte) 0x8b, (byte) 0x7b, (byte) 0x08,           // 4d mov    0x8(%rbx),%rdi   (r->obj)
        (byte) 0xff, (byte) 0x13,                                     // 51 call   *(%rbx)          (r->dtor)
        (byte) 0x48, (byte) 0x89, (byte) 0xdf,                        // 53 mov    %rbx,%rdi
        (byte) 0x5b,                                                  // 56 pop    %rbx
        (byte) 0x48, (byte) 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,             // 57 movabs $free,%rax
        (byte) 0xff, (byte) 0xe0,                                     // 61 jmp    *%rax            (free(r))
        (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, // 63 int3 x13
        (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, (byte) 0xcc,
        // jvms: how many JVMs exist, 0 once DestroyJavaVM has ended
        (byte) 0x48, (byte) 0x83, (byte) 0xec, (byte) 0x18,           // 70 sub    $0x18,%rsp       (aligned again)
        (byte) 0xc7, (byte) 0x04, (byte) 0x24, 0, 0, 0, 0,            // 74 movl   $0,(%rsp)        (the count)
        (byte) 0x31, (byte) 0xff,                                     // 7b xor    %edi,%edi        (no buffer)
        (byte) 0x31, (byte) 0xf6,                                     // 7d xor    %esi,%esi        (of length 0)
        (byte) 0x48, (byte) 0x89, (byte) 0xe2,                        // 7f mov    %rsp,%rdx        (&count)
        (byte) 0x48, (byte) 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,             // 82 movabs $JNI_GetCreatedJavaVMs,%rax
        (byte) 0xff, (byte) 0xd0,                                     // 8c call   *%rax
        (byte) 0x8b, (byte) 0x04, (byte) 0x24,                        // 8e mov    (%rsp),%eax
        (byte) 0x48, (byte) 0x83, (byte) 0xc4, (byte) 0x18,           // 91 add    $0x18,%rsp
        (byte) 0xc3,                                                  // 95 ret
        (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, // 96 int3 x10
        (byte) 0xcc, (byte) 0xcc, (byte) 0xcc, (byte) 0xcc,
    };

    private static final int REGISTER_UPCALL_IMMEDIATE = 0x11;
    private static final int CXA_THREAD_ATEXIT_IMPL_IMMEDIATE = 0x1d;
    private static final int RUN_UPCALL_IMMEDIATE = 0x43;
    private static final int FREE_IMMEDIATE = 0x59;
    private static final int JNI_GET_CREATED_JAVA_VMS_IMMEDIATE = 0x84;

    /** Writes the entries at {@code offset} of {@code text}; the code is position-independent. */
    static void write(MemorySegment text, long offset, long jniGetCreatedJavaVms, long registerUpcall,
                      long cxaThreadAtexitImpl, long runUpcall, long free) {
        MemorySegment.copy(MemorySegment.ofArray(CODE), 0, text, offset, CODE.length);
        text.set(ValueLayout.JAVA_LONG_UNALIGNED, offset + REGISTER_UPCALL_IMMEDIATE, registerUpcall);
        text.set(ValueLayout.JAVA_LONG_UNALIGNED, offset + CXA_THREAD_ATEXIT_IMPL_IMMEDIATE, cxaThreadAtexitImpl);
        text.set(ValueLayout.JAVA_LONG_UNALIGNED, offset + RUN_UPCALL_IMMEDIATE, runUpcall);
        text.set(ValueLayout.JAVA_LONG_UNALIGNED, offset + FREE_IMMEDIATE, free);
        text.set(ValueLayout.JAVA_LONG_UNALIGNED, offset + JNI_GET_CREATED_JAVA_VMS_IMMEDIATE, jniGetCreatedJavaVms);
    }
}
