package dev.jdyld.link.aarch64;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.Location;
import dev.jdyld.core.RelocationException;
import dev.jdyld.elf.Elf;
import dev.jdyld.link.arch.Architecture;
import dev.jdyld.link.arch.Relocation;
import dev.jdyld.link.arch.RelocationTarget;
import dev.jdyld.link.arch.ScanContext;
import dev.jdyld.link.arch.SymbolKind;
import dev.jdyld.link.arch.SymbolRef;
import dev.jdyld.link.arch.TlsModel;

import java.lang.foreign.MemorySegment;

import static dev.jdyld.link.aarch64.Aarch64Relocation.*;

/**
 * AArch64 (AAPCS64, Linux): the scan rules of every relocation type ({@link Aarch64Relocation}
 * names them with their formulas; {@link Aarch64Apply} writes them), stubs, and the emitted code.
 *
 * <p>Range by construction:
 * <ul>
 *   <li>A set's code is one contiguous range of at most {@link #branchReach()} (128 MiB), so every
 *       {@code CALL26}/{@code JUMP26}/{@code CONDBR19}/{@code TSTBR14} inside it is in range when the
 *       branch itself can reach that far; the planner refuses a larger set's code up front.</li>
 *   <li>A call that leaves the set (host libraries, earlier sets) always goes through the set's
 *       stub, {@code adrp/ldr/br x16} through the symbol's GOT slot: the stub is the set's
 *       range-extension thunk (veneer), sized by the scan before layout, and reaches any address.</li>
 *   <li>{@code ADRP} reaches ±4 GiB; every window is smaller than 2 GiB, and references to host or
 *       earlier-set data ask for a placement within reach of them, as on x86-64.</li>
 * </ul>
 *
 * <p>TLS is variant I: {@code tpidr_el0} points at a 16-byte TCB followed by the static blocks.
 * A set's thread-locals always live in static TLS here (glibc's surplus, as with a library opened
 * with {@code DF_STATIC_TLS}): the TLS descriptor ABI then needs only a two-instruction resolver
 * that preserves every register, and local-exec, initial-exec, descriptors and
 * {@code __tls_get_addr} all find the one copy per thread.
 */
public final class Aarch64 extends Architecture {
    public static final Aarch64 INSTANCE = new Aarch64();

    /** What a signed 32-bit PC-relative reference covers, less room: windows are no larger (ADRP reaches ±4 GiB). */
    private static final long REACH = (1L << 31) - (64L << 20);
    /** {@code B}/{@code BL} reach ±128 MiB: a set's code is no larger. */
    private static final long BRANCH_REACH = 128L << 20;
    /** Static TLS (the executable's, and libraries' with DF_STATIC_TLS) lies within this above the thread pointer. */
    private static final long STATIC_TLS_LIMIT = 1L << 24;

    /** ADR and literal loads reach ±1 MiB (the tiny code model): a set that uses them across sections fits in less. */
    private static final long TINY_REACH = (1L << 20) - (64L << 10);

    private Aarch64() {}

    /** GOT and TLS accesses of the tiny code model; {@code ADR_PREL_LO21} and {@code LD_PREL_LO19} are checked in their case. */
    private static boolean isTinyModel(int type) {
        return type == R_AARCH64_GOT_LD_PREL19 || type == R_AARCH64_TLSGD_ADR_PREL21 || type == R_AARCH64_TLSLD_ADR_PREL21
                || type == R_AARCH64_TLSLD_LD_PREL19 || type == R_AARCH64_TLSIE_LD_GOTTPREL_PREL19
                || type == R_AARCH64_TLSDESC_LD_PREL19 || type == R_AARCH64_TLSDESC_ADR_PREL21;
    }

    @Override
    public int machine() {
        return Elf.EM_AARCH64;
    }

    @Override
    public int threadPointerOffsetRelocation() {
        return R_AARCH64_TLS_TPREL64;
    }

    @Override
    public String multiarchTriple() {
        return "aarch64-linux-gnu";
    }

    @Override
    public long reach() {
        return REACH;
    }

    @Override
    public long branchReach() {
        return BRANCH_REACH;
    }

    @Override
    public boolean threadLocalsInStaticTls() {
        return true;
    }

    @Override
    public String relocationName(int type) {
        return Aarch64Relocation.name(type);
    }

    @Override
    public int width(int type) {
        return Aarch64Relocation.width(type);
    }

    @Override
    public boolean isThreadLocal(int type) {
        return Aarch64Relocation.isThreadLocal(type);
    }

    @Override
    public void scan(ScanContext context, Relocation relocation, SymbolRef symbol) {
        int type = relocation.type();
        if (isTinyModel(type)) {
            context.limitReach(relocation, symbol, TINY_REACH);
        }
        switch (type) {
            case R_AARCH64_NONE, 256, R_AARCH64_ABS64, R_AARCH64_PREL64, R_AARCH64_GOTREL64, R_AARCH64_GOTREL32,
                 R_AARCH64_MOVW_UABS_G0, R_AARCH64_MOVW_UABS_G0_NC, R_AARCH64_MOVW_UABS_G1, R_AARCH64_MOVW_UABS_G1_NC,
                 R_AARCH64_MOVW_UABS_G2, R_AARCH64_MOVW_UABS_G2_NC, R_AARCH64_MOVW_UABS_G3, R_AARCH64_MOVW_SABS_G0,
                 R_AARCH64_MOVW_SABS_G1, R_AARCH64_MOVW_SABS_G2, R_AARCH64_MOVW_PREL_G0, R_AARCH64_MOVW_PREL_G0_NC,
                 R_AARCH64_MOVW_PREL_G1, R_AARCH64_MOVW_PREL_G1_NC, R_AARCH64_MOVW_PREL_G2, R_AARCH64_MOVW_PREL_G2_NC,
                 R_AARCH64_MOVW_PREL_G3, R_AARCH64_TLSDESC_LDR, R_AARCH64_TLSDESC_ADD -> { }
            case R_AARCH64_ABS32, R_AARCH64_ABS16 -> {
                if (symbol.kind() == SymbolKind.HOST && symbol.isHostFunction()) {
                    context.canonicalStub(symbol);
                }
                if (symbol.refersToAddress()) {
                    context.requireLow2GiB(relocation);
                }
            }
            case R_AARCH64_PREL32, R_AARCH64_PREL16, R_AARCH64_LD_PREL_LO19, R_AARCH64_ADR_PREL_LO21,
                 R_AARCH64_ADR_PREL_PG_HI21, R_AARCH64_ADR_PREL_PG_HI21_NC, R_AARCH64_ADD_ABS_LO12_NC,
                 R_AARCH64_LDST8_ABS_LO12_NC, R_AARCH64_LDST16_ABS_LO12_NC, R_AARCH64_LDST32_ABS_LO12_NC,
                 R_AARCH64_LDST64_ABS_LO12_NC, R_AARCH64_LDST128_ABS_LO12_NC -> {
                if (symbol.kind() == SymbolKind.HOST && symbol.isHostFunction()) {
                    // Non-PIC `adrp x0, puts; add x0, x0, :lo12:puts`: the function's address in the set is its stub.
                    context.canonicalStub(symbol);
                } else if (symbol.isOutsideSet() && symbol.address() != 0) {
                    context.requireNear(relocation, symbol);
                }
                if (type == R_AARCH64_LD_PREL_LO19 || type == R_AARCH64_ADR_PREL_LO21) {
                    context.limitReach(relocation, symbol, TINY_REACH);
                }
            }
            case R_AARCH64_TSTBR14, R_AARCH64_CONDBR19 -> {
                if (symbol.isOutsideSet()) {
                    throw relocation.error("a conditional branch to a symbol outside the set cannot reach it");
                }
            }
            case R_AARCH64_CALL26, R_AARCH64_JUMP26 -> {
                context.branch(symbol);
                context.rangeExtension(relocation, symbol);
            }
            case R_AARCH64_ADR_GOT_PAGE, R_AARCH64_LD64_GOT_LO12_NC, R_AARCH64_LD64_GOTPAGE_LO15,
                 R_AARCH64_LD64_GOTOFF_LO15, R_AARCH64_GOT_LD_PREL19 -> context.got(symbol);
            case R_AARCH64_TLSGD_ADR_PREL21, R_AARCH64_TLSGD_ADR_PAGE21, R_AARCH64_TLSGD_ADD_LO12_NC,
                 R_AARCH64_TLSGD_MOVW_G1, R_AARCH64_TLSGD_MOVW_G0_NC ->
                    context.threadLocal(relocation, symbol, TlsModel.GENERAL_DYNAMIC);
            case R_AARCH64_TLSLD_ADR_PREL21, R_AARCH64_TLSLD_ADR_PAGE21, R_AARCH64_TLSLD_ADD_LO12_NC,
                 R_AARCH64_TLSLD_MOVW_G1, R_AARCH64_TLSLD_MOVW_G0_NC, R_AARCH64_TLSLD_LD_PREL19 ->
                    context.threadLocal(relocation, symbol, TlsModel.LOCAL_DYNAMIC);
            case R_AARCH64_TLSDESC_LD_PREL19, R_AARCH64_TLSDESC_ADR_PREL21, R_AARCH64_TLSDESC_ADR_PAGE21,
                 R_AARCH64_TLSDESC_LD64_LO12, R_AARCH64_TLSDESC_ADD_LO12, R_AARCH64_TLSDESC_OFF_G1,
                 R_AARCH64_TLSDESC_OFF_G0_NC -> context.threadLocal(relocation, symbol, TlsModel.DESCRIPTOR);
            case R_AARCH64_TLSIE_MOVW_GOTTPREL_G1, R_AARCH64_TLSIE_MOVW_GOTTPREL_G0_NC,
                 R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21, R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC,
                 R_AARCH64_TLSIE_LD_GOTTPREL_PREL19 -> context.threadLocal(relocation, symbol, TlsModel.INITIAL_EXEC);
            case R_AARCH64_TLS_DTPMOD64, R_AARCH64_TLS_DTPREL64, R_AARCH64_TLSDESC_CALL ->
                    context.threadLocal(relocation, symbol, TlsModel.BLOCK_OFFSET);
            case R_AARCH64_TLS_TPREL64 -> context.threadLocal(relocation, symbol, TlsModel.LOCAL_EXEC);
            default -> {
                if (type >= R_AARCH64_TLSLD_MOVW_DTPREL_G2 && type <= R_AARCH64_TLSLD_LDST64_DTPREL_LO12_NC
                        || type >= R_AARCH64_TLSLD_LDST128_DTPREL_LO12 && type <= R_AARCH64_TLSLD_LDST128_DTPREL_LO12_NC) {
                    context.threadLocal(relocation, symbol, TlsModel.BLOCK_OFFSET);
                } else if (type >= R_AARCH64_TLSLE_MOVW_TPREL_G2 && type <= R_AARCH64_TLSLE_LDST64_TPREL_LO12_NC
                        || type == R_AARCH64_TLSLE_LDST128_TPREL_LO12 || type == R_AARCH64_TLSLE_LDST128_TPREL_LO12_NC) {
                    context.threadLocal(relocation, symbol, TlsModel.LOCAL_EXEC);
                } else {
                    throw relocation.error("unsupported relocation");
                }
            }
        }
    }

    @Override
    public void relocate(RelocationTarget target, long gotAddress) {
        Aarch64Apply.relocate(target, gotAddress);
    }

    @Override
    public int stubSize() {
        return Aarch64Code.STUB_SIZE;
    }

    @Override
    public void writeStub(MemorySegment text, long offset, long stubAddress, long slotAddress) {
        Aarch64Code.writeStub(text, offset, stubAddress, slotAddress);
    }

    @Override
    public int rangeExtensionThunkSize() {
        return Aarch64Code.THUNK_SIZE;
    }

    @Override
    public void writeRangeExtensionThunk(MemorySegment text, long offset, long address, long target) {
        Aarch64Code.writeThunk(text, offset, target);
    }

    @Override
    public int tlsCodeSize() {
        return Aarch64Code.TLS_SIZE;
    }

    @Override
    public int tlsGetAddrEntry() {
        return Aarch64Code.TLS_GET_ADDR;
    }

    @Override
    public int tlsDescriptorResolverEntry() {
        return Aarch64Code.TLSDESC_RESOLVER;
    }

    @Override
    public int tlsDestructorEntry() {
        return Aarch64Code.TLS_DESTRUCTOR;
    }

    /** Never called: {@link #threadLocalsInStaticTls()} puts every set's block in static TLS. */
    @Override
    public void writeTlsCode(MemorySegment text, long offset, long pthreadGetspecific, long slowPath, long free) {
        throw new IllegalStateException("AArch64 sets keep their thread-locals in static TLS");
    }

    @Override
    public void writeStaticTlsCode(MemorySegment text, long offset) {
        Aarch64Code.writeStaticTls(text, offset);
    }

    /** Variant I: static TLS lies above the thread pointer, after the 16-byte TCB. */
    @Override
    public long initialExecOffset(String name, long address, long threadPointer) {
        long offset = address - threadPointer;
        if (offset < 16 || offset >= STATIC_TLS_LIMIT) {
            throw new RelocationException(Location.NONE.symbol(name), "host thread-local variable is at 0x"
                    + Long.toHexString(address) + ", not in static TLS above the thread pointer 0x"
                    + Long.toHexString(threadPointer) + ": initial-exec access would be wrong on other"
                    + " threads; build the host library with -ftls-model=initial-exec");
        }
        return offset;
    }

    @Override
    public int glueCodeSize() {
        return Aarch64Code.GLUE_SIZE;
    }

    @Override
    public int glueEntry(String name) {
        return switch (name) {
            case "atexit" -> Aarch64Code.ATEXIT;
            case "at_quick_exit" -> Aarch64Code.AT_QUICK_EXIT;
            case "pthread_atfork" -> Aarch64Code.PTHREAD_ATFORK;
            default -> throw new IllegalArgumentException(name);
        };
    }

    @Override
    public void writeGlueCode(MemorySegment text, long offset, long address, long dsoHandle, long cxaAtexit,
                              long cxaAtQuickExit, long registerAtfork) {
        Aarch64Code.writeGlue(text, offset, dsoHandle, cxaAtexit, cxaAtQuickExit, registerAtfork);
    }

    @Override
    public int lazyEntrySize() {
        return Aarch64Code.LAZY_ENTRY_SIZE;
    }

    @Override
    public int lazyReturnZeroEntry() {
        return Aarch64Code.LAZY_RETURN_ZERO;
    }

    @Override
    public void writeLazyEntry(MemorySegment text, long offset, long resolver) {
        Aarch64Code.writeLazyEntry(text, offset, resolver);
    }

    @Override
    public int lazyThunkSize() {
        return Aarch64Code.LAZY_THUNK_SIZE;
    }

    @Override
    public void writeLazyThunk(MemorySegment text, long offset, long thunkAddress, int id, long entryAddress) {
        Aarch64Code.writeLazyThunk(text, offset, thunkAddress, id, entryAddress);
    }

    /**
     * The thread-exit entries serve a JVM running on AArch64 itself (in-process sets with
     * {@code thread_local} destructors); AArch64 code runs in the child-process executor, whose
     * threads use the C library's own {@code __cxa_thread_atexit_impl}.
     */
    @Override
    public int threadExitCodeSize() {
        throw new LinkException("thread_local destructors of AArch64 code in the JVM's own process are not"
                + " supported; use Executor.childProcess(Target.AARCH64)");
    }

    @Override
    public int threadExitRegisterEntry() {
        return 0;
    }

    @Override
    public int threadExitRunEntry() {
        return 0;
    }

    @Override
    public void writeThreadExitCode(MemorySegment text, long offset, long jniGetCreatedJavaVms, long registerUpcall,
                                    long cxaThreadAtexitImpl, long runUpcall, long free) {
        throw new IllegalStateException("see threadExitCodeSize");
    }
}
