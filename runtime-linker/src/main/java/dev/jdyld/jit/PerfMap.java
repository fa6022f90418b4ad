package dev.jdyld.jit;

import dev.jdyld.runtime.Demangler;
import dev.jdyld.core.LinkException;
import dev.jdyld.core.Location;
import dev.jdyld.core.SetLayout;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * {@code perf}'s map of JIT code, {@code /tmp/perf-<pid>.map}: one line {@code START SIZE NAME}
 * (hexadecimal, no {@code 0x}) per loaded function and stub, appended when a set is finalized, so
 * {@code perf report} names samples in loaded code. The format cannot remove a range, so when a
 * set closes its ranges are appended again as {@code [unloaded] NAME}.
 */
final class PerfMap implements LinkPlugin {
    private final Path file;

    /** A map in {@code directory} (perf reads {@code /tmp}) for this process. */
    public PerfMap(Path directory) {
        this.file = directory.resolve("perf-" + ProcessHandle.current().pid() + ".map");
    }

    /** The map file. */
    public Path file() {
        return file;
    }

    @Override
    public void afterFinalize(LoadedSet set) {
        append(set, "");
    }

    /** The set's ranges are about to be unmapped: they are named {@code [unloaded] NAME} from now on. */
    @Override
    public void beforeClose(LoadedSet set) {
        append(set, "[unloaded] ");
    }

    private void append(LoadedSet set, String prefix) {
        StringBuilder lines = new StringBuilder();
        for (SetLayout.Symbol symbol : set.layout().symbols()) {
            if (symbol.size() > 0 && (symbol.kind() == SetLayout.Symbol.Kind.FUNCTION
                    || symbol.kind() == SetLayout.Symbol.Kind.STUB)) {
                String name = symbol.kind() == SetLayout.Symbol.Kind.STUB ? "stub: " + symbol.name()
                        : Demangler.demangle(symbol.name());
                lines.append(Long.toHexString(symbol.address())).append(' ').append(Long.toHexString(symbol.size()))
                        .append(' ').append(prefix).append(name).append('\n');
            }
        }
        synchronized (PerfMap.class) { // one file per process, shared by every linker
            try {
                Files.writeString(file, lines, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            } catch (IOException e) {
                throw new LinkException(Location.file(file.toString()), "cannot write the perf map: " + e.getMessage(), e);
            }
        }
    }
}
