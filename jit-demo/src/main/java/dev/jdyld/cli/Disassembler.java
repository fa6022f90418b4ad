package dev.jdyld.cli;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * x86-64 and AArch64 disassembly with the system's Capstone library ({@code libcapstone.so.4}, Debian's
 * {@code libcapstone4}), bound through FFM. The {@code capstone-java} artifact bundles a native
 * library built for ARM only, so jdyld binds the system library directly.
 */
public final class Disassembler implements AutoCloseable {
    /**
     * One instruction.
     *
     * @param address  where it is (as given to {@link #disassemble})
     * @param size     its length in bytes
     * @param mnemonic e.g. {@code movabs}
     * @param operands e.g. {@code $0x0, %rax} (AT&amp;T syntax, as GNU objdump prints)
     */
    public record Instruction(long address, int size, String mnemonic, String operands) {
        @Override
        public String toString() {
            return operands.isEmpty() ? mnemonic : mnemonic + " " + operands;
        }
    }

    static final int CS_ARCH_ARM64 = 1;
    static final int CS_ARCH_X86 = 3;
    static final int CS_MODE_ARM = 0;
    static final int CS_MODE_64 = 8;
    static final int CS_OPT_SYNTAX = 1;
    static final long CS_OPT_SYNTAX_ATT = 2;
    static final int CS_ERR_OK = 0;

    /* typedef struct cs_insn { unsigned id; uint64_t address; uint16_t size; uint8_t bytes[16];
     *                          char mnemonic[32]; char op_str[160]; cs_detail *detail; } cs_insn; */
    private static final MemoryLayout CS_INSN = MemoryLayout.structLayout(
            JAVA_INT.withName("id"), MemoryLayout.paddingLayout(4), JAVA_LONG.withName("address"),
            JAVA_SHORT.withName("size"), MemoryLayout.sequenceLayout(16, JAVA_BYTE).withName("bytes"),
            MemoryLayout.sequenceLayout(32, JAVA_BYTE).withName("mnemonic"),
            MemoryLayout.sequenceLayout(160, JAVA_BYTE).withName("op_str"), MemoryLayout.paddingLayout(6),
            ADDRESS.withName("detail"));
    private static final long MNEMONIC = CS_INSN.byteOffset(MemoryLayout.PathElement.groupElement("mnemonic"));
    private static final long OP_STR = CS_INSN.byteOffset(MemoryLayout.PathElement.groupElement("op_str"));
    private static final long SIZE = CS_INSN.byteOffset(MemoryLayout.PathElement.groupElement("size"));
    private static final long ADDRESS_FIELD = CS_INSN.byteOffset(MemoryLayout.PathElement.groupElement("address"));

    private static final class Library {
        static final Linker LINKER = Linker.nativeLinker();
        static final SymbolLookup CAPSTONE = SymbolLookup.libraryLookup("libcapstone.so.4", Arena.global());
        /* cs_err cs_open(cs_arch arch, cs_mode mode, csh *handle); */
        static final MethodHandle CS_OPEN = LINKER.downcallHandle(CAPSTONE.findOrThrow("cs_open"),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        /* cs_err cs_option(csh handle, cs_opt_type type, size_t value); */
        static final MethodHandle CS_OPTION = LINKER.downcallHandle(CAPSTONE.findOrThrow("cs_option"),
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG));
        /* size_t cs_disasm(csh handle, const uint8_t *code, size_t size, uint64_t address, size_t count, cs_insn **insn); */
        static final MethodHandle CS_DISASM = LINKER.downcallHandle(CAPSTONE.findOrThrow("cs_disasm"),
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS));
        /* void cs_free(cs_insn *insn, size_t count); */
        static final MethodHandle CS_FREE = LINKER.downcallHandle(CAPSTONE.findOrThrow("cs_free"),
                FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG));
        /* cs_err cs_close(csh *handle); */
        static final MethodHandle CS_CLOSE = LINKER.downcallHandle(CAPSTONE.findOrThrow("cs_close"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private final long handle;
    private boolean closed;

    /** Opens an x86-64 disassembler; throws {@link IllegalStateException} if {@code libcapstone.so.4} is missing. */
    public Disassembler() {
        this(dev.jdyld.jit.Target.X86_64);
    }

    /**
     * Opens a disassembler for {@code target}'s instructions: x86-64 in AT&amp;T syntax, as GNU
     * objdump prints it, or AArch64 (Capstone's ARM64 mode).
     */
    public Disassembler(dev.jdyld.jit.Target target) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment handleOut = arena.allocate(JAVA_LONG);
            boolean x86 = target == dev.jdyld.jit.Target.X86_64;
            int rc = (int) Library.CS_OPEN.invokeExact(x86 ? CS_ARCH_X86 : CS_ARCH_ARM64, x86 ? CS_MODE_64 : CS_MODE_ARM,
                    handleOut);
            if (rc != CS_ERR_OK) {
                throw new IllegalStateException("cs_open failed with error " + rc);
            }
            handle = handleOut.get(JAVA_LONG, 0);
            if (x86) {
                int ignored = (int) Library.CS_OPTION.invokeExact(handle, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT);
            }
        } catch (IllegalArgumentException | ExceptionInInitializerError | NoClassDefFoundError e) {
            throw new IllegalStateException("disassembly needs the Capstone library libcapstone.so.4"
                    + " (Debian package libcapstone4): " + e.getMessage(), e);
        } catch (IllegalStateException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("cs_open downcall failed", t);
        }
    }

    /** Disassembles {@code code} as if it were at {@code address}; stops at the first undecodable byte. */
    @SuppressWarnings("restricted")
    public List<Instruction> disassemble(MemorySegment code, long address) {
        if (closed) {
            throw new IllegalStateException("disassembler is closed");
        }
        List<Instruction> result = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment input = arena.allocate(Math.max(1, code.byteSize()));
            MemorySegment.copy(code, 0, input, 0, code.byteSize());
            MemorySegment out = arena.allocate(ADDRESS);
            long count = (long) Library.CS_DISASM.invokeExact(handle, input, code.byteSize(), address, 0L, out);
            if (count == 0) {
                return result;
            }
            MemorySegment instructions = out.get(ADDRESS, 0).reinterpret(count * CS_INSN.byteSize());
            try {
                for (long i = 0; i < count; i++) {
                    MemorySegment insn = instructions.asSlice(i * CS_INSN.byteSize(), CS_INSN.byteSize());
                    result.add(new Instruction(insn.get(JAVA_LONG, ADDRESS_FIELD),
                            Short.toUnsignedInt(insn.get(JAVA_SHORT, SIZE)),
                            insn.asSlice(MNEMONIC, 32).getString(0), insn.asSlice(OP_STR, 160).getString(0)));
                }
            } finally {
                Library.CS_FREE.invokeExact(out.get(ADDRESS, 0), count);
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("cs_disasm downcall failed", t);
        }
        return result;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment handleIn = arena.allocateFrom(JAVA_LONG, handle);
            int ignored = (int) Library.CS_CLOSE.invokeExact(handleIn);
        } catch (Throwable t) {
            throw new AssertionError("cs_close downcall failed", t);
        }
    }
}
