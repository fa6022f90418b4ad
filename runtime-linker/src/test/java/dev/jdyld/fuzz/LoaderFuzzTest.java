package dev.jdyld.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jdyld.elf.Archive;
import dev.jdyld.elf.ElfObject;
import dev.jdyld.jit.JitLinker;
import dev.jdyld.core.LinkException;
import dev.jdyld.jit.LoadedSet;
import dev.jdyld.core.ObjectFile;
import dev.jdyld.memory.MemoryMaps;
import dev.jdyld.memory.WindowUsage;
import org.junit.jupiter.api.AfterAll;

import java.util.List;

/**
 * Fuzz targets: the ELF reader, the archive reader, and the whole load path (without running any
 * loaded code). The contract each checks: an input is loaded or refused with a
 * {@link LinkException}, never anything else; and a refused or closed load leaves the memory
 * manager's committed bytes and the mappings of its windows as they were.
 *
 * <p>Under {@code bin/test} each target runs its regression inputs (the seeds, and the findings
 * saved in {@code LoaderFuzzTestInputs/}); {@code bin/fuzz} runs a campaign.
 */
class LoaderFuzzTest {
    private static final JitLinker LINKER = JitLinker.builder().runInitializers(false).build();
    private static long committedBefore = -1;
    private static int mappingsBefore = -1;

    @AfterAll
    static void closeLinker() {
        LINKER.close();
    }

    @FuzzTest(maxDuration = "30s")
    void elfReader(FuzzedDataProvider data) {
        byte[] bytes = StructureMutator.mutate(FuzzSeeds.OBJECTS, data);
        try {
            ElfObject object = ElfObject.parse("fuzz.o", bytes);
            for (int s = 1; s < object.symbolCount; s++) {
                object.symbolName(s);
            }
        } catch (LinkException refused) {
            // the contract: a typed, located error
        }
    }

    @FuzzTest(maxDuration = "30s")
    void archiveReader(FuzzedDataProvider data) {
        byte[] bytes = StructureMutator.mutate(FuzzSeeds.ARCHIVES, data);
        try {
            Archive archive = new Archive("fuzz.a", bytes);
            for (String symbol : List.of("add", "adler32", "missing")) {
                Archive.Member member = archive.definer(symbol);
                if (member != null) {
                    archive.contents(member);
                }
            }
        } catch (LinkException refused) {
            // the contract: a typed, located error
        }
    }

    @FuzzTest(maxDuration = "30s")
    void wholeLoad(FuzzedDataProvider data) {
        boolean archive = data.consumeBoolean();
        byte[] bytes = StructureMutator.mutate(archive ? FuzzSeeds.ARCHIVES : FuzzSeeds.OBJECTS, data);
        if (committedBefore < 0) {
            warmUp();
        }
        try {
            LoadedSet set = LINKER.loadObjects(List.of(new ObjectFile(archive ? "fuzz.a" : "fuzz.o", bytes)));
            set.close();
        } catch (LinkException refused) {
            // the contract: a typed, located error, and nothing left behind (checked below)
        }
        long committed = LINKER.memoryManager().usage().stream().mapToLong(WindowUsage::committed).sum();
        int mappings = windowMappings();
        if (committed != committedBefore || mappings != mappingsBefore) {
            throw new IllegalStateException("a load left memory behind: committed " + committedBefore + " -> "
                    + committed + " bytes, window mappings " + mappingsBefore + " -> " + mappings);
        }
    }

    /** One real load and close, so the window exists before the baseline is taken. */
    private static void warmUp() {
        for (byte[] seed : FuzzSeeds.OBJECTS) {
            try {
                LINKER.loadObjects(List.of(new ObjectFile("seed.o", seed))).close();
                break;
            } catch (LinkException needsHostSymbols) {
                // some seeds reference symbols only a real program defines; the next one loads
            }
        }
        committedBefore = LINKER.memoryManager().usage().stream().mapToLong(WindowUsage::committed).sum();
        mappingsBefore = windowMappings();
    }

    /** Mappings inside the linker's windows; the rest of the process changes on its own (JIT, GC). */
    private static int windowMappings() {
        int count = 0;
        for (WindowUsage window : LINKER.memoryManager().usage()) {
            count += MemoryMaps.countMappings(window.base(), window.base() + window.reserved());
        }
        return count;
    }
}
