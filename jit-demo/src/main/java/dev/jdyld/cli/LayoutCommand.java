package dev.jdyld.cli;

import dev.jdyld.jit.JitLinker;
import dev.jdyld.jit.LoadedSet;
import dev.jdyld.jit.SetLayout;
import dev.jdyld.memory.WindowUsage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code jdyld layout}: load without running and show where everything went. */
@Command(name = "layout", description = "Loads FILEs as one set without running them and prints the slab layout.")
final class LayoutCommand implements Callable<Integer> {
    @Option(names = "--json", description = "Print JSON instead of a table.")
    boolean json;

    @Mixin
    LinkerOptions linkerOptions = new LinkerOptions();

    @Parameters(paramLabel = "FILE", arity = "1..*", description = "Objects to load.")
    List<Path> files = new ArrayList<>();

    @Override
    public Integer call() {
        try (JitLinker linker = linkerOptions.builder().runInitializers(false).build(); LoadedSet set = linker.load(files)) {
            SetLayout layout = set.layout();
            List<WindowUsage> windows = linker.memoryManager().usage();
            System.out.print(json ? LayoutPrinter.json(layout, windows) : LayoutPrinter.table(layout, windows));
        }
        return 0;
    }
}
