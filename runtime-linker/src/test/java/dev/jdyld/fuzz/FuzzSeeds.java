package dev.jdyld.fuzz;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Real objects and an archive the fuzz targets start from (resources {@code seeds/}, listed in
 * {@code index.txt}): gcc and clang, -O0 and -O2, PIC and not, C++ with EH and TLS, zlib members.
 * The sources were:
 * <pre>
 * a.c:   static table, common, __thread, a constructor, printf and an external call
 * b.cpp: virtual functions, std::vector, an exception, thread_local std::string, a static object
 * </pre>
 */
final class FuzzSeeds {
    private FuzzSeeds() {}

    static final List<byte[]> OBJECTS = new ArrayList<>();
    static final List<byte[]> ARCHIVES = new ArrayList<>();

    static {
        try (InputStream index = FuzzSeeds.class.getResourceAsStream("seeds/index.txt")) {
            for (String name : new String(index.readAllBytes(), StandardCharsets.UTF_8).strip().split("\n")) {
                try (InputStream seed = FuzzSeeds.class.getResourceAsStream("seeds/" + name.strip())) {
                    (name.endsWith(".a") ? ARCHIVES : OBJECTS).add(seed.readAllBytes());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
