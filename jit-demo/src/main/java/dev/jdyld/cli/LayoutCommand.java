package dev.jdyld.cli;

import dev.jdyld.jit.JitLinker;
import dev.jdyld.jit.LoadedSet;
import dev.jdyld.core.SetLayout;
import dev.jdyld.memory.WindowUsage;

import java.nio.file.Path;
import java.util.List;

/** {@code jdyld layout}: load without running and show where everything went. */
final class LayoutCommand extends Main.LoadingCommand {
    boolean json;

    LayoutCommand() {
        super(new Main.Option(null, "--json", null, "Print JSON instead of a table."));
    }

    @Override
    String name() {
        return "layout";
    }

    @Override
    String[] description() {
        return new String[] {"Loads FILEs as one set without running them and prints the slab layout."};
    }

    @Override
    void setOwn(String value) {
        json = true; // --json
    }

    @Override
    int call() {
        List<Path> files = files();
        try (JitLinker linker = linkerOptions.builder().runInitializers(false).build(); LoadedSet set = LinkerOptions.load(linker, files)) {
            SetLayout layout = set.layout();
            List<WindowUsage> windows = linker.memoryManager().usage();
            System.out.print(json
                    ? LayoutPrinter.json(layout, windows, linkerOptions.target, !linkerOptions.isolate)
                    : LayoutPrinter.table(layout, windows, linkerOptions.target, !linkerOptions.isolate));
        }
        return 0;
    }
}
