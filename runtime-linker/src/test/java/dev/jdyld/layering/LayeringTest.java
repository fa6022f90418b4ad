package dev.jdyld.layering;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

/**
 * The runtime linker's layering, as rules over its compiled classes (and the memory manager's):
 * the API on top, then the engine, then the format and the executor's side, the shared values and
 * errors at the bottom; nothing names a machine outside its architecture package; one binding class
 * per native library.
 *
 * <p>The engine reaches the process its code runs in only through the executor SPI
 * ({@code dev.jdyld.executor}), whose implementations are the in-process runtime and the
 * child-process executor.
 */
class LayeringTest {
    private static final JavaClasses CLASSES = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("dev.jdyld");

    @Test
    void theSharedValuesAndErrorsDependOnNothingOfJdyld() {
        noClasses().that().resideInAPackage("dev.jdyld.core..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.jdyld.jit..", "dev.jdyld.link..", "dev.jdyld.elf..",
                        "dev.jdyld.runtime..", "dev.jdyld.memory..")
                .check(CLASSES);
    }

    @Test
    void nothingBelowTheApiDependsOnIt() {
        noClasses().that().resideOutsideOfPackages("dev.jdyld.jit", "dev.jdyld.cli..", "dev.jdyld.bench..")
                .should().dependOnClassesThat().resideInAPackage("dev.jdyld.jit")
                .check(CLASSES);
    }

    @Test
    void theFormatReaderDependsOnlyOnTheSharedTypes() {
        noClasses().that().resideInAPackage("dev.jdyld.elf..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.jdyld.jit..", "dev.jdyld.link..",
                        "dev.jdyld.runtime..", "dev.jdyld.memory..")
                .check(CLASSES);
    }

    @Test
    void theArchitectureBoundaryDependsOnlyOnTheFormatAndTheSharedTypes() {
        noClasses().that().resideInAPackage("dev.jdyld.link.arch")
                .should().dependOnClassesThat().resideInAnyPackage("dev.jdyld.jit..", "dev.jdyld.link",
                        "dev.jdyld.link.x86_64..", "dev.jdyld.link.layout..", "dev.jdyld.runtime..")
                .check(CLASSES);
    }

    /**
     * The engine asks the executor SPI for memory, host symbols, thread-local storage and calls; it
     * binds no native function and names no executor of its own.
     */
    @Test
    void theEngineReachesTheProcessOnlyThroughTheExecutorSpi() {
        noClasses().that().resideInAnyPackage("dev.jdyld.link..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.jdyld.runtime.ffi..", "dev.jdyld.runtime.support..",
                        "dev.jdyld.runtime.child..")
                .orShould().dependOnClassesThat().haveNameMatching(
                        "dev\\.jdyld\\.runtime\\.(CRuntime|HostSymbols|ThreadLocalStorage|StaticTlsModule|InProcessTarget)(\\$.*)?")
                .check(CLASSES);
    }

    /** The SPI itself is interfaces over the memory manager and the shared types. */
    @Test
    void theExecutorSpiDependsOnlyOnTheMemoryManagerAndTheSharedTypes() {
        noClasses().that().resideInAPackage("dev.jdyld.executor")
                .should().dependOnClassesThat().resideInAnyPackage("dev.jdyld.jit..", "dev.jdyld.link..",
                        "dev.jdyld.elf..", "dev.jdyld.runtime..")
                .check(CLASSES);
    }

    /** The child-process executor is below the engine: it knows the SPI and the runtime's bindings, not the linker. */
    @Test
    void theChildExecutorKnowsNothingOfTheEngine() {
        noClasses().that().resideInAPackage("dev.jdyld.runtime.child..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.jdyld.jit..", "dev.jdyld.link..", "dev.jdyld.elf..")
                .check(CLASSES);
    }

    @Test
    void theMemoryManagerKnowsNothingOfTheLinker() {
        noClasses().that().resideInAPackage("dev.jdyld.memory..")
                .should().dependOnClassesThat().resideOutsideOfPackages("dev.jdyld.memory..", "java..")
                .check(CLASSES);
    }

    @Test
    void packagesHaveNoCycles() {
        slices().matching("dev.jdyld.(**)").should().beFreeOfCycles().check(CLASSES);
    }

    /**
     * Relocation types and machine numbers of x86-64 and AArch64 are named only in their packages (and the format's
     * table of names), in the linker's modules. Checked in the sources, not the classes: javac copies such constants into the
     * code that uses them, so no class refers to the field any more. Comments may name them.
     */
    @Test
    void nothingOutsideTheArchitecturePackageNamesAMachineFact() throws java.io.IOException {
        java.util.regex.Pattern fact = java.util.regex.Pattern.compile("R_X86_64_\\w+|EM_X86_64|R_AARCH64_\\w+|EM_AARCH64");
        java.nio.file.Path root = java.nio.file.Path.of("").toAbsolutePath().getParent();
        java.util.List<String> violations = new java.util.ArrayList<>();
        try (java.util.stream.Stream<java.nio.file.Path> files = java.nio.file.Files.walk(root)) {
            // The linker's modules; the demo's Brainfuck compiler is an x86-64 back end of its own.
            for (java.nio.file.Path file : files.filter(f -> f.toString().endsWith(".java")
                    && (f.toString().contains("/runtime-linker/src/main/java/") || f.toString().contains("/memory-manager/src/main/java/"))
                    && !f.toString().contains("/link/x86_64/") && !f.toString().contains("/link/aarch64/")
                    && !f.toString().contains("/elf/")).toList()) {
                java.util.List<String> lines = java.nio.file.Files.readAllLines(file);
                for (int i = 0; i < lines.size(); i++) {
                    String code = lines.get(i).replaceAll("/\\*.*?\\*/|//.*$", "");
                    if (!code.trim().startsWith("*") && fact.matcher(code).find()) {
                        violations.add(root.relativize(file) + ":" + (i + 1) + ": " + lines.get(i).trim());
                    }
                }
            }
        }
        org.assertj.core.api.Assertions.assertThat(violations).isEmpty();
    }

    /**
     * One binding class per native library: the C library is looked up and called through the
     * memory manager's {@code memory.libc.Libc} only (its one downcall handle; {@code runtime.ffi.Native}
     * wraps it), the unwinder through {@code runtime.ffi.Libgcc}; {@code runtime.ffi.LoadedCode} makes
     * the handles of calls into loaded code, by address, and looks up no library.
     */
    @Test
    void nativeLibrariesAreBoundInOneClassEach() {
        noClasses().that().resideInAPackage("dev.jdyld..")
                .and().haveNameNotMatching("dev\\.jdyld\\.(memory\\.libc\\.Libc|runtime\\.ffi\\.LoadedCode)(\\$.*)?")
                .should().callMethod(java.lang.foreign.Linker.class, "downcallHandle", java.lang.foreign.MemorySegment.class,
                        java.lang.foreign.FunctionDescriptor.class, java.lang.foreign.Linker.Option[].class)
                .orShould().callMethod(java.lang.foreign.Linker.class, "downcallHandle",
                        java.lang.foreign.FunctionDescriptor.class, java.lang.foreign.Linker.Option[].class)
                .check(CLASSES);
        noClasses().that().resideInAPackage("dev.jdyld..")
                .and().haveNameNotMatching("dev\\.jdyld\\.(memory\\.libc\\.Libc|runtime\\.ffi\\.Libgcc)(\\$.*)?")
                .should().callMethod(java.lang.foreign.SymbolLookup.class, "libraryLookup", String.class,
                        java.lang.foreign.Arena.class)
                .orShould().callMethod(java.lang.foreign.SymbolLookup.class, "libraryLookup", java.nio.file.Path.class,
                        java.lang.foreign.Arena.class)
                .orShould().callMethod(java.lang.foreign.Linker.class, "defaultLookup")
                .check(CLASSES);
    }
}
