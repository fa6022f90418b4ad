package dev.jdyld.runtime;

import dev.jdyld.elf.ElfObject;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import static dev.jdyld.elf.Elf.*;

/**
 * Constructors and destructors of a set, in the order a static link would run them.
 *
 * <p>As GNU ld lays them out: {@code .init_array.N} sections by ascending priority N, then plain
 * {@code .init_array}; {@code .ctors.N} counts as priority {@code 65535 - N} and its entries run
 * last to first (so ld reverses them into {@code .init_array}). The combined init array runs first
 * to last. Destructors build a combined fini array the same way ({@code .dtors} reversed into it)
 * which runs last to first. {@code .preinit_array} runs before everything.
 */
public final class Initializers {
    public enum Kind { PREINIT, INIT, CTORS, FINI, DTORS }

    private static final int DEFAULT_PRIORITY = 65536;

    /** An IFUNC to resolve: its resolver, and the offset in the set's DATA of the slot its stub jumps through. */
    public record Ifunc(long resolver, long slotOffset) {}

    /**
     * What initialising a set runs: IFUNC resolvers first (as the dynamic loader's IRELATIVE
     * processing does), then {@code init} first to last; {@code fini} runs last to first at the end.
     */
    public record Calls(List<Ifunc> ifuncs, List<Long> init, List<Long> fini) {
        public static final Calls NONE = new Calls(List.of(), List.of(), List.of());
    }

    private Initializers() {}

    /** The kind of a constructor/destructor section, or null for any other section. */
    public static Kind kindOf(ElfObject object, int s) {
        if ((object.sectionFlags[s] & SHF_ALLOC) == 0) {
            return null;
        }
        String name = object.sectionName[s];
        return switch (object.sectionType[s]) {
            case SHT_PREINIT_ARRAY -> Kind.PREINIT;
            case SHT_INIT_ARRAY -> Kind.INIT;
            case SHT_FINI_ARRAY -> Kind.FINI;
            default -> name.equals(".ctors") || name.startsWith(".ctors.") ? Kind.CTORS
                    : name.equals(".dtors") || name.startsWith(".dtors.") ? Kind.DTORS : null;
        };
    }

    private static int priority(ElfObject object, int s, Kind kind) {
        String name = object.sectionName[s];
        int dot = name.lastIndexOf('.');
        if (dot <= 0) {
            return DEFAULT_PRIORITY;
        }
        try {
            int n = Integer.parseInt(name.substring(dot + 1));
            return kind == Kind.CTORS || kind == Kind.DTORS ? 65535 - n : n;
        } catch (NumberFormatException e) {
            return DEFAULT_PRIORITY;
        }
    }

    private record Section(int priority, int object, int section, Kind kind) {}

    /**
     * Reads the relocated arrays of the loaded set. {@code contents(o, s)} is the section's loaded
     * bytes; entries 0 and -1 (sentinels some toolchains leave in {@code .ctors}) are skipped.
     */
    public static Calls collect(List<ElfObject> objects, int[][] sectionGroup, SectionContents contents) {
        List<Section> init = new ArrayList<>();
        List<Section> fini = new ArrayList<>();
        List<Section> preinit = new ArrayList<>();
        for (int o = 0; o < objects.size(); o++) {
            ElfObject object = objects.get(o);
            for (int s = 1; s < object.sectionCount; s++) {
                Kind kind = kindOf(object, s);
                if (kind == null || sectionGroup[o][s] < 0 || object.sectionSize[s] == 0) {
                    continue;
                }
                Section section = new Section(priority(object, s, kind), o, s, kind);
                switch (kind) {
                    case PREINIT -> preinit.add(section);
                    case INIT, CTORS -> init.add(section);
                    case FINI, DTORS -> fini.add(section);
                }
            }
        }
        if (preinit.isEmpty() && init.isEmpty() && fini.isEmpty()) {
            return Calls.NONE;
        }
        Comparator<Section> order = Comparator.comparingInt(Section::priority)
                .thenComparingInt(Section::object).thenComparingInt(Section::section);
        init.sort(order);
        fini.sort(order);
        List<Long> initCalls = new ArrayList<>(entries(preinit, contents));
        initCalls.addAll(entries(init, contents));
        return new Calls(List.of(), initCalls, entries(fini, contents));
    }

    /** The combined array: each section's entries, reversed for {@code .ctors} and {@code .dtors}. */
    private static List<Long> entries(List<Section> sections, SectionContents contents) {
        List<Long> result = new ArrayList<>();
        for (Section section : sections) {
            MemorySegment bytes = contents.of(section.object(), section.section());
            List<Long> entries = new ArrayList<>();
            for (long i = 0; i + 8 <= bytes.byteSize(); i += 8) {
                long function = bytes.get(U64, i);
                if (function != 0 && function != -1) {
                    entries.add(function);
                }
            }
            if (section.kind() == Kind.CTORS || section.kind() == Kind.DTORS) {
                entries = entries.reversed();
            }
            result.addAll(entries);
        }
        return result;
    }

    public interface SectionContents {
        MemorySegment of(int object, int section);
    }
}
