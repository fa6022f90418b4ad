package dev.jdyld.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A generated C program for the scale rows of {@code bin/bench}: {@value #FILES} files and
 * {@code n} functions in all; each function has an {@code int data[4]}, a string and a call to a
 * function of the next file, and {@code main} (in file 0) calls every function once through them.
 * {@code gcc -O1 -fPIC -c} gives about six relocations per function. Names are {@code fn0},
 * {@code fn1}, ... (sequential hashes), or, with {@code colliding}, strings that all have the same
 * {@link String#hashCode} (built from the blocks {@code Aa} and {@code BB}): names an attacker
 * chooses.
 *
 * <p>Run on its own: {@code java -cp benchmarks.jar dev.jdyld.bench.LargeProgram DIR N [colliding]}
 * writes the sources and compiles them into {@code DIR/*.o}.
 */
public final class LargeProgram {
    static final int FILES = 10;

    private LargeProgram() {}

    public static void main(String[] args) throws Exception {
        Path dir = Files.createDirectories(Path.of(args[0]));
        List<Path> objects = compile(dir, Integer.parseInt(args[1]), args.length > 2 && args[2].equals("colliding"));
        System.out.println(objects.size() + " objects in " + dir);
    }

    /** The name of function {@code i}. */
    static String name(int i, boolean colliding) {
        if (!colliding) {
            return "fn" + i;
        }
        // 18 blocks of two letters: "Aa" and "BB" hash alike, so every such name has one hash (262,144 of them).
        StringBuilder name = new StringBuilder("f_");
        for (int bit = 17; bit >= 0; bit--) {
            name.append((i >>> bit & 1) == 0 ? "Aa" : "BB");
        }
        return name.toString();
    }

    /** Writes the {@value #FILES} sources of an {@code n}-function program into {@code dir}. */
    static List<Path> write(Path dir, int n, boolean colliding) throws IOException {
        List<Path> sources = new ArrayList<>();
        int perFile = (n + FILES - 1) / FILES;
        for (int f = 0; f < FILES; f++) {
            StringBuilder c = new StringBuilder("#include <stdio.h>\n");
            int first = f * perFile;
            int last = Math.min(n, first + perFile);
            int next = ((f + 1) % FILES) * perFile;
            for (int i = first; i < last; i++) {
                int callee = Math.min(n - 1, next + (i - first));
                c.append("int ").append(name(callee, colliding)).append("(int);\n");
            }
            for (int i = first; i < last; i++) {
                int callee = Math.min(n - 1, next + (i - first));
                String fn = name(i, colliding);
                c.append("int data_").append(fn).append("[4] = {").append(i).append(", 1, 2, 3};\n")
                        .append("const char *label_").append(fn).append(" = \"").append(fn).append("\";\n")
                        .append("int ").append(fn).append("(int depth) {\n")
                        .append("  if (depth <= 0) return data_").append(fn).append("[depth & 3] + label_").append(fn)
                        .append("[0];\n")
                        .append("  return ").append(name(callee, colliding)).append("(depth - 1) + data_").append(fn)
                        .append("[1];\n}\n");
            }
            if (f == 0) {
                c.append("int main(void) {\n  long sum = 0;\n");
                for (int file = 0; file < FILES; file++) {
                    c.append("  { extern int ").append(name(file * perFile, colliding)).append("(int); sum += ")
                            .append(name(file * perFile, colliding)).append("(2); }\n");
                }
                c.append("  printf(\"%ld\\n\", sum);\n  return 0;\n}\n");
            }
            Path source = dir.resolve("part" + f + ".c");
            Files.writeString(source, c);
            sources.add(source);
        }
        return sources;
    }

    /** Writes and compiles ({@code gcc -O1 -fPIC -c}, two at a time) an {@code n}-function program. */
    static List<Path> compile(Path dir, int n, boolean colliding) throws IOException, InterruptedException {
        List<Path> sources = write(dir, n, colliding);
        List<Path> objects = new ArrayList<>();
        List<Process> running = new ArrayList<>();
        for (Path source : sources) {
            Path object = dir.resolve(source.getFileName().toString().replace(".c", ".o"));
            objects.add(object);
            running.add(new ProcessBuilder("gcc", "-O1", "-fPIC", "-c", source.toString(), "-o", object.toString())
                    .inheritIO().start());
            if (running.size() == Runtime.getRuntime().availableProcessors()) {
                waitFor(running);
            }
        }
        waitFor(running);
        return objects;
    }

    private static void waitFor(List<Process> processes) throws InterruptedException, IOException {
        for (Process process : processes) {
            if (process.waitFor() != 0) {
                throw new IOException("gcc failed: " + process.info().commandLine().orElse("gcc"));
            }
        }
        processes.clear();
    }


    static List<Path> cached(Path cache, int functions, boolean colliding) throws Exception {
        Path dir = cache.resolve(functions + (colliding ? "-colliding" : ""));
        Path done = dir.resolve("compiled");
        if (Files.exists(done)) {
            List<Path> objects = new ArrayList<>();
            for (int f = 0; f < LargeProgram.FILES; f++) {
                objects.add(dir.resolve("part" + f + ".o"));
            }
            return objects;
        }
        Files.createDirectories(dir);
        System.err.printf("bench: compiling the %,d-function program once (gcc -O1 -fPIC)...%n", functions);
        List<Path> objects = LargeProgram.compile(dir, functions, colliding);
        Files.writeString(done, "");
        return objects;
    }


    /** Relocation entries in the objects' SHT_RELA sections, from their ELF section headers. */
    static long relocations(List<Path> objects) throws IOException {
        long count = 0;
        for (Path object : objects) {
            java.nio.ByteBuffer elf = java.nio.ByteBuffer.wrap(Files.readAllBytes(object)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            long sectionHeaders = elf.getLong(0x28);
            int entrySize = Short.toUnsignedInt(elf.getShort(0x3a));
            int sections = Short.toUnsignedInt(elf.getShort(0x3c));
            for (int i = 0; i < sections; i++) {
                int header = (int) (sectionHeaders + (long) i * entrySize);
                if (elf.getInt(header + 4) == 4 /* SHT_RELA */) {
                    count += elf.getLong(header + 0x20) / 24;
                }
            }
        }
        return count;
    }
}
