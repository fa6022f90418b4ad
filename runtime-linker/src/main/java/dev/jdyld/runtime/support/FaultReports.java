package dev.jdyld.runtime.support;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.SetLayout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * A fault in loaded code ends the process with the signal's usual exit status and one line that
 * names the fault, its address, the set and the nearest symbol ({@code fault_report.c}), instead
 * of the JVM's crash report, and instead of a JVM that retries a jump into a thread's stack
 * forever. Every set's code is registered with its symbols while it is mapped; the handler sits in
 * front of the JVM's and passes every other fault on to it.
 */
public final class FaultReports {
    private FaultReports() {}


    private static final class Installed {
        static {
            int error = (int) SupportLibrary.call("jdyld_faults_install", SupportLibrary.JDYLD_FAULTS_INSTALL, 0, 0, 0, 0, 0);
            if (error != 0) {
                throw new LinkException("cannot install jdyld's fault handler (errno " + error + ")");
            }
        }

        static void ensure() {
            // class initialisation installed it
        }
    }

    /**
     * Registers a set's code, {@code [start, start + size)}, named {@code setName}, with the
     * functions and stubs of its {@code layoutSymbols} (in address order); installs the handler on
     * first use.
     *
     * @return the registration, for {@link #unregister}; 0 when memory for it ran out (the set
     *         then faults with the JVM's report)
     */
    public static long register(String setName, long start, long size, List<SetLayout.Symbol> layoutSymbols) {
        Installed.ensure();
        List<SetLayout.Symbol> symbols = new ArrayList<>();
        for (SetLayout.Symbol symbol : layoutSymbols) {
            switch (symbol.kind()) {
                case FUNCTION -> symbols.add(symbol);
                case STUB -> symbols.add(new SetLayout.Symbol("stub: " + symbol.name(), symbol.kind(), symbol.address(), symbol.size()));
                default -> { }
            }
        }
        int count = symbols.size();
        byte[][] names = new byte[count + 1][];
        names[0] = setName.getBytes(StandardCharsets.UTF_8);
        long namesSize = names[0].length + 1;
        for (int i = 0; i < count; i++) {
            names[i + 1] = symbols.get(i).name().getBytes(StandardCharsets.UTF_8);
            namesSize += names[i + 1].length + 1;
        }
        long tableSize = count * (8L + 4L) + namesSize;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment table = arena.allocate(tableSize, 8); // zeroed: every name ends in NUL
            long namesBase = count * 12L;
            long offset = names[0].length + 1;
            MemorySegment.copy(MemorySegment.ofArray(names[0]), 0, table, namesBase, names[0].length);
            for (int i = 0; i < count; i++) {
                table.set(JAVA_LONG_UNALIGNED, i * 8L, symbols.get(i).address());
                table.set(JAVA_INT_UNALIGNED, count * 8L + i * 4L, (int) offset);
                MemorySegment.copy(MemorySegment.ofArray(names[i + 1]), 0, table, namesBase + offset, names[i + 1].length);
                offset += names[i + 1].length + 1;
            }
            long id = SupportLibrary.call("jdyld_faults_register", SupportLibrary.JDYLD_FAULTS_REGISTER,
                    start, start + size, table.address(), tableSize, count);
            return Math.max(id, 0);
        }
    }

    /** The set's code is about to go: faults there are no longer its. */
    public static void unregister(long registration) {
        if (registration > 0) {
            SupportLibrary.call("jdyld_faults_unregister", SupportLibrary.JDYLD_FAULTS_UNREGISTER, registration, 0, 0, 0, 0);
        }
    }

    /**
     * Gives the calling thread an alternate signal stack, so that a stack overflow of loaded code on
     * it is reported rather than ending the process silently; for threads that jdyld makes to run
     * loaded code. Freed when the thread ends.
     */
    public static void alternateStackForThisThread() {
        Installed.ensure();
        int error = (int) SupportLibrary.call("jdyld_faults_alternate_stack", SupportLibrary.JDYLD_FAULTS_ALTERNATE_STACK,
                0, 0, 0, 0, 0);
        if (error != 0) {
            throw new LinkException("cannot give the thread an alternate signal stack (errno " + error + ")");
        }
    }
}
