package dev.jdyld.link.x86_64;

import dev.jdyld.elf.Elf;
import dev.jdyld.elf.ElfObject;
import dev.jdyld.core.Location;
import dev.jdyld.core.RelocationException;
import dev.jdyld.link.arch.Architecture;
import dev.jdyld.link.arch.Relocation;
import dev.jdyld.link.arch.RelocationTarget;
import dev.jdyld.link.arch.ResolvedSymbols;
import dev.jdyld.link.arch.ScanContext;
import dev.jdyld.link.arch.SymbolKind;
import dev.jdyld.link.arch.SymbolRef;
import dev.jdyld.link.arch.TlsModel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.jdyld.elf.Elf.U32;
import static dev.jdyld.elf.Elf.U64;
import static dev.jdyld.link.x86_64.X86_64Relocation.*;

/**
 * x86-64: the scan and apply rules of every relocation type ({@link X86_64Relocation} names them
 * with their formulas), the stub, and the emitted TLS and C runtime code.
 *
 * <p>Quirks worth knowing:
 * <ul>
 *   <li>{@code R_X86_64_32} is zero-extended and {@code R_X86_64_32S} sign-extended by the CPU, so
 *       both only work when the set lives in the low 2 GiB; the scan asks for such a place.</li>
 *   <li>Stubs may clobber {@code %r11} by the ABI, but ours need no register: a stub is
 *       {@code jmp *slot(%rip)} through the symbol's GOT slot, so the GOT slot is the one place a
 *       target address lives (and the one place a later rebind would write).</li>
 *   <li>{@code GOTPCRELX}/{@code REX_GOTPCRELX} against the set's own symbols are relaxed
 *       ({@link X86_64GotRelaxation}): the load from the GOT becomes a {@code lea} or a direct
 *       call or jump, and the symbol needs no GOT slot unless something else asks for one.</li>
 *   <li>TLS is variant II: static TLS lies just below the thread pointer {@code %fs:0}, which
 *       glibc also returns as {@code pthread_self()}.</li>
 * </ul>
 */
public final class X86_64 extends Architecture {
    public static final X86_64 INSTANCE = new X86_64();

    /** 2 GiB, less room for addends: what a signed 32-bit displacement is trusted to cover. */
    private static final long REACH = (1L << 31) - (64L << 20);
    /** Static TLS (the executable's, and libraries' loaded at start or with DF_STATIC_TLS) lies within this below the thread pointer. */
    private static final long STATIC_TLS_LIMIT = 1L << 24;

    private X86_64() {}

    @Override
    public int machine() {
        return Elf.EM_X86_64;
    }

    @Override
    public int threadPointerOffsetRelocation() {
        return R_X86_64_TPOFF64;
    }

    @Override
    public String multiarchTriple() {
        return "x86_64-linux-gnu";
    }

    @Override
    public long reach() {
        return REACH;
    }

    @Override
    public String relocationName(int type) {
        return X86_64Relocation.name(type);
    }

    @Override
    public int width(int type) {
        return X86_64Relocation.width(type);
    }

    @Override
    public boolean isThreadLocal(int type) {
        return X86_64Relocation.isThreadLocal(type);
    }

    @Override
    public void scan(ScanContext context, Relocation relocation, SymbolRef symbol) {
        switch (relocation.type()) {
            case R_X86_64_NONE, R_X86_64_64, R_X86_64_PC64, R_X86_64_GOTOFF64, R_X86_64_GOTPC32,
                 R_X86_64_GOTPC64, R_X86_64_SIZE32, R_X86_64_SIZE64 -> { }
            case R_X86_64_PC32, R_X86_64_PC16, R_X86_64_PC8 -> {
                if (symbol.isOutsideSet() && symbol.address() != 0) {
                    context.requireNear(relocation, symbol);
                }
            }
            case R_X86_64_32, R_X86_64_32S, R_X86_64_16, R_X86_64_8 -> {
                if (symbol.kind() == SymbolKind.HOST && symbol.isHostFunction()) {
                    // Non-PIC `mov $puts, %edi`: the function's address in this set is its stub, which lives low.
                    context.canonicalStub(symbol);
                }
                if (symbol.refersToAddress()) {
                    context.requireLow2GiB(relocation);
                }
            }
            case R_X86_64_PLT32, R_X86_64_PLTOFF64 -> context.branch(symbol);
            case R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX -> {
                if (!(context.mayBypassGot(symbol) && X86_64GotRelaxation.isRelaxable(relocation))) {
                    context.got(symbol);
                }
            }
            case R_X86_64_GOTPCREL, R_X86_64_GOT32, R_X86_64_GOT64, R_X86_64_GOTPCREL64, R_X86_64_GOTPLT64 ->
                    context.got(symbol);
            case R_X86_64_TLSGD -> context.threadLocal(relocation, symbol, TlsModel.GENERAL_DYNAMIC);
            case R_X86_64_TLSLD -> context.threadLocal(relocation, symbol, TlsModel.LOCAL_DYNAMIC);
            case R_X86_64_GOTPC32_TLSDESC -> context.threadLocal(relocation, symbol, TlsModel.DESCRIPTOR);
            case R_X86_64_GOTTPOFF -> context.threadLocal(relocation, symbol, TlsModel.INITIAL_EXEC);
            case R_X86_64_TPOFF32, R_X86_64_TPOFF64 -> context.threadLocal(relocation, symbol, TlsModel.LOCAL_EXEC);
            case R_X86_64_DTPOFF32, R_X86_64_DTPOFF64, R_X86_64_DTPMOD64, R_X86_64_TLSDESC_CALL ->
                    context.threadLocal(relocation, symbol, TlsModel.BLOCK_OFFSET);
            default -> throw relocation.error("unsupported relocation");
        }
    }

    @Override
    public void relocate(RelocationTarget target, long gotAddress) {
        final ElfObject object = target.object;
        // Entries are read through the segment, not ElfObject.u64: compiled, a segment read is one
        // load, where assembling a field from the array's bytes costs eight (3x slower in this loop).
        final MemorySegment in = object.data;
        final ResolvedSymbols symbols = target.symbols;
        final long[] address = symbols.address;
        final long[] slot = symbols.gotSlot;
        final long[] call = symbols.callTarget;
        final long[] size = symbols.size;
        final long[] tlsGd = symbols.tlsGdSlot;
        final long[] tlsDesc = symbols.tlsDescSlot;
        final long tlsLd = symbols.tlsLdSlot;
        final long tlsModule = symbols.tlsModule;
        final long TP = symbols.tlsThreadPointerOffset;
        final long GOT = gotAddress;
        final long start = object.sectionOffset[target.rela];
        final long end = start + object.sectionSize[target.rela];
        for (long entry = start; entry < end; entry += Elf.RELA_SIZE) {
            final long offset = in.get(U64, entry);
            final long info = in.get(U64, entry + 8);
            final long A = in.get(U64, entry + 16);
            final int symbol = (int) (info >>> 32);
            final int type = (int) info;
            final long P = target.address + offset;
            final long S = address[symbol];
            switch (type) {
                case R_X86_64_NONE, R_X86_64_TLSDESC_CALL -> { }
                case R_X86_64_64, R_X86_64_DTPOFF64 -> target.put64(offset, S + A);
                case R_X86_64_PC32 -> target.putSigned32(offset, S + A - P, entry);
                case R_X86_64_PLT32 -> target.putSigned32(offset, call[symbol] + A - P, entry);
                case R_X86_64_GOTPCREL, R_X86_64_GOTTPOFF -> target.putSigned32(offset, slot[symbol] + A - P, entry);
                case R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX -> {
                    if (slot[symbol] != 0) {
                        target.putSigned32(offset, slot[symbol] + A - P, entry);
                    } else {
                        X86_64GotRelaxation.relax(target, offset, type, S + A - P, entry);
                    }
                }
                case R_X86_64_32 -> target.putUnsigned32(offset, S + A, entry);
                case R_X86_64_32S, R_X86_64_DTPOFF32 -> target.putSigned32(offset, S + A, entry);
                case R_X86_64_PC64 -> target.put64(offset, S + A - P);
                case R_X86_64_GOTOFF64 -> target.put64(offset, S + A - GOT);
                case R_X86_64_GOTPC32 -> target.putSigned32(offset, GOT + A - P, entry);
                case R_X86_64_GOTPC64 -> target.put64(offset, GOT + A - P);
                case R_X86_64_GOT32 -> target.putSigned32(offset, slot[symbol] - GOT + A, entry);
                case R_X86_64_GOT64, R_X86_64_GOTPLT64 -> target.put64(offset, slot[symbol] - GOT + A);
                case R_X86_64_GOTPCREL64 -> target.put64(offset, slot[symbol] - P + A);
                case R_X86_64_PLTOFF64 -> target.put64(offset, call[symbol] - GOT + A);
                case R_X86_64_SIZE32 -> target.putUnsigned32(offset, size[symbol] + A, entry);
                case R_X86_64_SIZE64 -> target.put64(offset, size[symbol] + A);
                case R_X86_64_16 -> target.put16(offset, S + A, entry);
                case R_X86_64_PC16 -> target.putSigned16(offset, S + A - P, entry);
                case R_X86_64_8 -> target.put8(offset, S + A, entry);
                case R_X86_64_PC8 -> target.putSigned8(offset, S + A - P, entry);
                case R_X86_64_TLSGD -> target.putSigned32(offset, tlsGd[symbol] + A - P, entry);
                case R_X86_64_TLSLD -> target.putSigned32(offset, tlsLd + A - P, entry);
                case R_X86_64_GOTPC32_TLSDESC -> target.putSigned32(offset, tlsDesc[symbol] + A - P, entry);
                case R_X86_64_DTPMOD64 -> target.put64(offset, tlsModule);
                case R_X86_64_TPOFF32 -> target.putSigned32(offset, S + A + TP, entry);
                case R_X86_64_TPOFF64 -> target.put64(offset, S + A + TP);
                default -> throw target.unsupported(entry);
            }
        }
    }

    /** {@code ff 25 <disp32>  jmp *slot(%rip)}, then two {@code int3} bytes of padding. */
    @Override
    public int stubSize() {
        return 8;
    }

    @Override
    public void writeStub(MemorySegment text, long offset, long stubAddress, long slotAddress) {
        long displacement = slotAddress - (stubAddress + 6);
        if (displacement != (int) displacement) {
            throw new RelocationException(Location.NONE, "stub at 0x" + Long.toHexString(stubAddress)
                    + " cannot reach its GOT slot at 0x" + Long.toHexString(slotAddress));
        }
        text.set(ValueLayout.JAVA_BYTE, offset, (byte) 0xff);
        text.set(ValueLayout.JAVA_BYTE, offset + 1, (byte) 0x25);
        text.set(U32, offset + 2, (int) displacement);
        text.set(ValueLayout.JAVA_BYTE, offset + 6, (byte) 0xcc);
        text.set(ValueLayout.JAVA_BYTE, offset + 7, (byte) 0xcc);
    }

    @Override
    public int tlsCodeSize() {
        return X86_64TlsCode.SIZE;
    }

    @Override
    public int tlsGetAddrEntry() {
        return X86_64TlsCode.TLS_GET_ADDR;
    }

    @Override
    public int tlsDescriptorResolverEntry() {
        return X86_64TlsCode.TLSDESC_RESOLVER;
    }

    @Override
    public int tlsDestructorEntry() {
        return X86_64TlsCode.DESTRUCTOR;
    }

    @Override
    public void writeTlsCode(MemorySegment text, long offset, long pthreadGetspecific, long slowPath, long free) {
        X86_64TlsCode.write(text, offset, pthreadGetspecific, slowPath, free);
    }

    @Override
    public void writeStaticTlsCode(MemorySegment text, long offset) {
        X86_64TlsCode.writeStatic(text, offset);
    }

    @Override
    public long initialExecOffset(String name, long address, long threadPointer) {
        long offset = address - threadPointer;
        if (offset >= 0 || offset < -STATIC_TLS_LIMIT) {
            throw new RelocationException(Location.NONE.symbol(name), "host thread-local variable is at 0x"
                    + Long.toHexString(address) + ", not in static TLS below the thread pointer 0x"
                    + Long.toHexString(threadPointer) + ": initial-exec access would be wrong on other"
                    + " threads; build the host library with -ftls-model=initial-exec");
        }
        return offset;
    }

    @Override
    public int glueCodeSize() {
        return X86_64GlueCode.SIZE;
    }

    @Override
    public int glueEntry(String name) {
        return switch (name) {
            case "atexit" -> X86_64GlueCode.ATEXIT;
            case "at_quick_exit" -> X86_64GlueCode.AT_QUICK_EXIT;
            case "pthread_atfork" -> X86_64GlueCode.PTHREAD_ATFORK;
            default -> throw new IllegalArgumentException(name);
        };
    }

    @Override
    public void writeGlueCode(MemorySegment text, long offset, long address, long dsoHandle, long cxaAtexit,
                              long cxaAtQuickExit, long registerAtfork) {
        X86_64GlueCode.write(text, offset, address, dsoHandle, cxaAtexit, cxaAtQuickExit, registerAtfork);
    }

    @Override
    public int lazyEntrySize() {
        return X86_64LazyCallCode.ENTRY_SIZE;
    }

    @Override
    public int lazyReturnZeroEntry() {
        return X86_64LazyCallCode.RETURN_ZERO;
    }

    @Override
    public void writeLazyEntry(MemorySegment text, long offset, long resolver) {
        X86_64LazyCallCode.writeEntry(text, offset, resolver);
    }

    @Override
    public int lazyThunkSize() {
        return X86_64LazyCallCode.THUNK_SIZE;
    }

    @Override
    public void writeLazyThunk(MemorySegment text, long offset, long thunkAddress, int id, long entryAddress) {
        X86_64LazyCallCode.writeThunk(text, offset, thunkAddress, id, entryAddress);
    }

    @Override
    public int threadExitCodeSize() {
        return X86_64ThreadExitCode.SIZE;
    }

    @Override
    public int threadExitRegisterEntry() {
        return X86_64ThreadExitCode.REGISTER;
    }

    @Override
    public int threadExitRunEntry() {
        return X86_64ThreadExitCode.RUN;
    }

    @Override
    public void writeThreadExitCode(MemorySegment text, long offset, long jniGetCreatedJavaVms, long registerUpcall,
                                    long cxaThreadAtexitImpl, long runUpcall, long free) {
        X86_64ThreadExitCode.write(text, offset, jniGetCreatedJavaVms, registerUpcall, cxaThreadAtexitImpl, runUpcall, free);
    }
}
