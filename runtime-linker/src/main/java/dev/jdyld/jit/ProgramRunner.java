package dev.jdyld.jit;

import dev.jdyld.runtime.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Runs a loaded C program's entry point as the C runtime would: {@code main(argc, argv, envp)}
 * with the process's own environment, then {@code fflush(NULL)} so that the program's buffered
 * stdio output is written before the JVM continues or exits.
 */
public final class ProgramRunner {
    /* int main(int argc, char **argv, char **envp); */
    private static final FunctionDescriptor MAIN = FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);

    private ProgramRunner() {}

    /**
     * Calls {@code entry} of {@code set} with {@code argv} (argv[0] included) and returns its
     * result; C stdio is flushed afterwards.
     */
    public static int runMain(LoadedSet set, String entry, List<String> argv) {
        long address = set.find(entry).orElseThrow(
                () -> new LinkException(Location.NONE.symbol(entry), "entry point is not defined by the loaded objects"));
        MethodHandle main = Native.downcall(address, MAIN);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment vector = arena.allocate(ADDRESS, argv.size() + 1L);
            for (int i = 0; i < argv.size(); i++) {
                vector.setAtIndex(ADDRESS, i, arena.allocateFrom(argv.get(i)));
            }
            vector.setAtIndex(ADDRESS, argv.size(), MemorySegment.NULL);
            int result = (int) main.invokeExact(argv.size(), vector, Native.environ());
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
        Native.flushAllStreams();
    }
}
