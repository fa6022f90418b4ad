package dev.jdyld.jit;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The module's seams hold: only the embedding API is exported, and the source stays in rooms of a
 * readable size (no package over 14 files, no main source file over 450 lines, in every module).
 */
class ModuleBoundaryTest {
    private static final Path PROJECT = Path.of("").toAbsolutePath().getParent();

    @Test
    void onlyTheApiPackagesAreExported() throws URISyntaxException {
        Path classes = Path.of(JitLinker.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        ModuleDescriptor module = ModuleFinder.of(classes).findAll().iterator().next().descriptor();
        assertThat(module.name()).isEqualTo("dev.jdyld.linker");
        assertThat(module.exports()).extracting(ModuleDescriptor.Exports::source)
                .containsExactlyInAnyOrder("dev.jdyld.jit", "dev.jdyld.core");
        assertThat(module.exports()).allMatch(e -> !e.isQualified());
        assertThat(module.packages()).contains("dev.jdyld.elf", "dev.jdyld.link", "dev.jdyld.link.arch",
                "dev.jdyld.link.x86_64", "dev.jdyld.runtime");
    }

    @Test
    void packagesAndFilesStaySmall() throws IOException {
        List<Path> sources;
        try (Stream<Path> files = Files.walk(PROJECT)) {
            sources = files.filter(p -> p.toString().endsWith(".java") && p.toString().contains("/src/main/java/")
                    && !p.getFileName().toString().equals("module-info.java")).toList();
        }
        assertThat(sources).hasSizeGreaterThan(40);
        Map<Path, Long> perPackage = sources.stream().collect(Collectors.groupingBy(Path::getParent, Collectors.counting()));
        assertThat(perPackage).allSatisfy((pkg, count) -> assertThat(count).as(pkg.toString()).isLessThanOrEqualTo(14));
        for (Path source : sources) {
            assertThat(Files.readAllLines(source)).as(source.toString()).hasSizeLessThanOrEqualTo(450);
        }
        Set<String> modules = sources.stream().map(p -> PROJECT.relativize(p).getName(0).toString())
                .collect(Collectors.toSet());
        assertThat(modules).contains("memory-manager", "runtime-linker", "jit-demo", "benchmarks");
    }
}
