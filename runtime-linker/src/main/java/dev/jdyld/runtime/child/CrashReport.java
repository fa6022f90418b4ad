package dev.jdyld.runtime.child;

import java.util.ArrayList;
import java.util.List;
import java.util.function.LongFunction;

/**
 * What the executor's fatal-signal handler sent before it died: the signal, the faulting address,
 * the registers that place it, and the frames of the crashing thread, symbolized here where the
 * code is jdyld's.
 */
record CrashReport(int signal, int code, long faultAddress, long pc, long sp, List<Long> returnAddresses,
                   List<String> frames) {
    /** Bytes below the stack pointer in which a SIGSEGV counts as the stack overflowing. */
    private static final long STACK_GUARD_REACH = 64 << 10;

    static CrashReport read(byte[] payload, LongFunction<String> symbolizer) {
        Protocol.Reader reader = new Protocol.Reader(payload, "CRASH");
        int signal = reader.u32();
        int code = reader.u32();
        long address = reader.u64();
        long pc = reader.u64();
        long sp = reader.u64();
        int count = Math.min(reader.u32(), 64);
        List<Long> returns = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            returns.add(reader.u64());
        }
        List<String> frames = new ArrayList<>(count + 1);
        frames.add(frame(pc, symbolizer));
        for (long ret : returns) {
            // The call is the byte before: a call to a noreturn function is often a function's last
            // instruction, and its return address the next function's first.
            frames.add(frame(ret - 1, symbolizer));
        }
        return new CrashReport(signal, code, address, pc, sp, List.copyOf(returns), List.copyOf(frames));
    }

    private static String frame(long address, LongFunction<String> symbolizer) {
        String name = address == 0 ? null : symbolizer.apply(address);
        return name != null ? name : "0x" + Long.toHexString(address);
    }

    /**
     * One line: the signal's name, what it concerned, and where:
     * {@code Segmentation fault at address 0x0 in f+0x4 in set prog.o}.
     */
    String describe() {
        boolean stackOverflow = signal == Signals.SIGSEGV && faultAddress < sp + STACK_GUARD_REACH
                && faultAddress > sp - STACK_GUARD_REACH;
        StringBuilder line = new StringBuilder(Signals.describe(signal));
        if (stackOverflow) {
            line.append(" (stack overflow)");
        } else if (signal == Signals.SIGSEGV || signal == Signals.SIGBUS) {
            line.append(" at address 0x").append(Long.toHexString(faultAddress));
        }
        line.append(" in ").append(where());
        return line.toString();
    }

    /** The innermost frame jdyld can name (a fault in the C library is reported from its caller), else the pc. */
    String where() {
        for (String frame : frames) {
            if (!frame.startsWith("0x")) {
                return frame;
            }
        }
        return frames.get(0);
    }
}
