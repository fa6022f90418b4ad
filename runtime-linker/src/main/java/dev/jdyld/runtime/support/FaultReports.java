package dev.jdyld.runtime.support;

import dev.jdyld.core.LinkException;
import dev.jdyld.core.AddressOrderedSymbols;
import dev.jdyld.core.SetLayout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
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
        // The C side's table: the addresses, then each name's offset, then the names (the set's
        // first), NUL-terminated. Written column by column into arrays, then copied in three moves:
        // a large set has hundreds of thousands of functions.
        AddressOrderedSymbols columns = layoutSymbols instanceof AddressOrderedSymbols ordered ? ordered
                : new AddressOrderedSymbols.Builder(layoutSymbols.size()).addAll(layoutSymbols).build();
        long[] addresses = new long[columns.size()];
        int[] offsets = new int[columns.size()];
        NameBytes names = new NameBytes(columns.size() * 16);
        names.add(null, setName);
        int count = 0;
        for (int i = 0; i < columns.size(); i++) {
            SetLayout.Symbol.Kind kind = columns.kind(i);
            if (kind == SetLayout.Symbol.Kind.FUNCTION || kind == SetLayout.Symbol.Kind.STUB) {
                addresses[count] = columns.address(i);
                offsets[count] = names.add(kind == SetLayout.Symbol.Kind.STUB ? "stub: " : null, columns.name(i));
                count++;
            }
        }
        long namesBase = count * 12L;
        long tableSize = namesBase + names.length;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment table = arena.allocate(tableSize, 8);
            MemorySegment.copy(addresses, 0, table, JAVA_LONG_UNALIGNED, 0, count);
            MemorySegment.copy(offsets, 0, table, JAVA_INT_UNALIGNED, count * 8L, count);
            MemorySegment.copy(names.bytes, 0, table, JAVA_BYTE, namesBase, names.length);
            long id = SupportLibrary.call("jdyld_faults_register", SupportLibrary.JDYLD_FAULTS_REGISTER,
                    start, start + size, table.address(), tableSize, count);
            return Math.max(id, 0);
        }
    }

    /** Names in UTF-8, each followed by a NUL, in one growing array. */
    private static final class NameBytes {
        byte[] bytes;
        int length;

        NameBytes(int capacity) {
            bytes = new byte[Math.max(capacity, 64)];
        }

        /** Appends {@code prefix} (ASCII, or null) and {@code name}; returns where they start. */
        int add(String prefix, String name) {
            int at = length;
            if (prefix != null) {
                append(prefix);
            }
            append(name);
            ensure(1);
            bytes[length++] = 0;
            return at;
        }

        private void append(String text) {
            int chars = text.length();
            ensure(chars);
            for (int i = 0; i < chars; i++) {
                char c = text.charAt(i);
                if (c >= 0x80) { // not ASCII: encode the rest as UTF-8
                    byte[] encoded = text.substring(i).getBytes(StandardCharsets.UTF_8);
                    ensure(encoded.length);
                    System.arraycopy(encoded, 0, bytes, length, encoded.length);
                    length += encoded.length;
                    return;
                }
                bytes[length++] = (byte) c;
            }
        }

        private void ensure(int more) {
            if (length + more > bytes.length) {
                bytes = java.util.Arrays.copyOf(bytes, Math.max(bytes.length * 2, length + more));
            }
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
