package dev.jdyld.cli;

import dev.jdyld.link.JitLinker;
import dev.jdyld.link.LoadedSet;
import dev.jdyld.link.SetLayout;
import picocli.CommandLine.Command;
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

    @Option(names = {"--lib", "-l"}, paramLabel = "NAME", description = "Host library to dlopen for symbol resolution (repeatable): a dlopen name like libstdc++.so.6, a path, or a short name like m.")
    List<String> libraries = new ArrayList<>();

    @Parameters(paramLabel = "FILE", arity = "1..*", description = "Objects to load.")
    List<Path> files = new ArrayList<>();

    @Override
    public Integer call() {
        JitLinker.Builder builder = JitLinker.builder();
        libraries.forEach(builder::hostLibrary);
        try (JitLinker linker = builder.build(); LoadedSet set = linker.load(files)) {
            SetLayout layout = set.layout();
            System.out.print(json ? LayoutPrinter.json(layout) : LayoutPrinter.table(layout));
        }
        return 0;
    }
}
