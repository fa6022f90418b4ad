package dev.jdyld.link;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Runs a loaded C program's entry point as the C runtime would: {@code main(argc, argv, envp)}
 * with the process's own environment, then {@code fflush(NULL)} so that the program's buffered
 * stdio output is written before the JVM continues or exits.
 */
public final class ProgramRunner {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup C = LINKER.defaultLookup();
    /* int fflush(FILE *stream); */
    private static final MethodHandle FFLUSH = LINKER.downcallHandle(C.findOrThrow("fflush"),
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
    /* int main(int argc, char **argv, char **envp); */
    private static final FunctionDescriptor MAIN = FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);

    private ProgramRunner() {}

    /**
     * Calls {@code entry} of {@code set} with {@code argv} (argv[0] included) and returns its
     * result; C stdio is flushed afterwards.
     */
    public static int runMain(LoadedSet set, String entry, List<String> argv) {
        long address = set.find(entry).orElseThrow(
                () -> new LinkException("entry point " + entry + " is not defined by the loaded objects"));
        MethodHandle main = mainHandle(address);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment vector = arena.allocate(ADDRESS, argv.size() + 1L);
            for (int i = 0; i < argv.size(); i++) {
                vector.setAtIndex(ADDRESS, i, arena.allocateFrom(argv.get(i)));
            }
            vector.setAtIndex(ADDRESS, argv.size(), MemorySegment.NULL);
            int result = (int) main.invokeExact(argv.size(), vector, environment());
            flushStdio();
            return result;
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("main downcall failed", t);
        }
    }

    /** {@code fflush(NULL)}: writes every open C output stream. */
    public static void flushStdio() {
        try {
            int ignored = (int) FFLUSH.invokeExact(0L);
        } catch (Throwable t) {
            throw new AssertionError("fflush downcall failed", t);
        }
    }

    @SuppressWarnings("restricted")
    private static MethodHandle mainHandle(long address) {
        return LINKER.downcallHandle(MemorySegment.ofAddress(address), MAIN);
    }

    /** The C library's {@code environ}: the process environment as C sees it. */
    @SuppressWarnings("restricted")
    private static MemorySegment environment() {
        MemorySegment environ = C.find("environ").orElseThrow().reinterpret(ADDRESS.byteSize());
        return environ.get(ADDRESS, 0);
    }
}
