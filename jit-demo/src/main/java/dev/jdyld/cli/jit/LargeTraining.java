package dev.jdyld.cli.jit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The workload of {@code bin/jdyld}'s second AOT cache, the one for large loads: objects shaped
 * like a large C program's (every function calls one of the next object's, reads a string and
 * loads another function's address through the GOT), written in memory by {@link ObjectWriter},
 * so the training needs no compiler. Loading them runs the per-name and per-relocation loops that
 * a large load spends its time in, and the cache keeps their profiles (JEP 515): a later large
 * load compiles them without profiling them first. {@code main} returns 0; nothing else runs.
 */
public final class LargeTraining {
    private LargeTraining() {}

    /**
     * Writes {@code files} objects of {@code perFile} functions each into {@code dir}.
     *
     * @return the objects, the one with {@code main} first
     */
    public static List<Path> write(Path dir, int files, int perFile) throws IOException {
        List<Path> objects = new ArrayList<>();
        for (int f = 0; f < files; f++) {
            ObjectWriter object = new ObjectWriter();
            if (f == 0) {
                object.function("main", new byte[] {0x31, (byte) 0xc0, (byte) 0xc3}); // xor eax, eax; ret
            }
            int next = (f + 1) % files;
            for (int i = 0; i < perFile; i++) {
                String name = "fn" + (f * perFile + i);
                object.string(name, name);
                int at = object.function(name, new byte[] {
                        (byte) 0xe8, 0, 0, 0, 0,                      // call fn<next>
                        0x48, (byte) 0x8d, 0x05, 0, 0, 0, 0,          // lea rax, [rip + string]
                        0x48, (byte) 0x8b, 0x05, 0, 0, 0, 0,          // mov rax, [rip + fn<other>@GOTPCREL]
                        (byte) 0xc3});                                // ret
                object.relocate(at + 1, ObjectWriter.R_X86_64_PLT32, "fn" + (next * perFile + i), -4);
                object.referenceString(at + 8, name);
                object.relocate(at + 15, ObjectWriter.R_X86_64_GOTPCRELX, "fn" + (next * perFile + (i + 1) % perFile), -4);
            }
            Path path = dir.resolve("training" + f + ".o");
            Files.write(path, object.toBytes());
            objects.add(path);
        }
        return objects;
    }
}
