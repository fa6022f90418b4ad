package dev.jdyld.cli;

import dev.jdyld.jit.JitLinker;
import dev.jdyld.core.LinkException;
import dev.jdyld.jit.LoadedSet;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code jdyld demo}: compile two bundled C files with gcc, show their layout, run them. */
final class DemoCommand extends Main.Command {
    private static final String[] SOURCES = {"main.c", "greeting.c"};

    @Override
    String name() {
        return "demo";
    }

    @Override
    String[] description() {
        return new String[] {"Compiles a bundled two-file C program with gcc, loads it, prints its layout and runs"
                + " it; then compiles Brainfuck to x86-64 in Java, loads the object from memory, runs, times and"
                + " redefines it."};
    }

    @Override
    int call() throws Exception {
        Path dir = Files.createTempDirectory("jdyld-demo");
        try {
            List<Path> objects = new ArrayList<>();
            for (String source : SOURCES) {
                Path c = dir.resolve(source);
                try (InputStream in = DemoCommand.class.getResourceAsStream("/demo/" + source)) {
                    Files.copy(in, c);
                }
                Path o = dir.resolve(source.replace(".c", ".o"));
                List<String> command = List.of("gcc", "-c", "-O2", c.toString(), "-o", o.toString());
                System.out.println("$ " + String.join(" ", command).replace(dir + "/", ""));
                Process gcc = new ProcessBuilder(command).inheritIO().start();
                if (gcc.waitFor() != 0) {
                    throw new LinkException("gcc failed on " + source);
                }
                objects.add(o);
            }
            try (JitLinker linker = JitLinker.create()) {
                LoadedSet set = linker.load(objects);
                System.out.println("\n$ jdyld layout main.o greeting.o");
                System.out.print(LayoutPrinter.table(set.layout(), linker.memoryManager().usage()).replace(dir + "/", ""));
                System.out.println("\n$ jdyld run main.o greeting.o -- hello world");
                System.out.flush();
                int status = set.runMain("main", List.of("main.o", "hello", "world"));
                System.out.println("main returned " + status);
                System.out.println("\n--- a JIT: code generated at run time, loaded from memory ---\n");
                new JitTour(System.out).run();
                return status;
            }
        } finally {
            removeDirectory(dir);
        }
    }

    /** Removes a temporary directory of files (no subdirectories) and the files in it. */
    static void removeDirectory(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            for (Path file : files.toList()) {
                Files.deleteIfExists(file);
            }
        }
        Files.deleteIfExists(dir);
    }
}
