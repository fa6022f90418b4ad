package dev.jdyld.link;

import dev.jdyld.elf.ElfObject;
import dev.jdyld.elf.SectionGroups;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static dev.jdyld.elf.Elf.SHN_UNDEF;

/**
 * COMDAT groups: the first group of each signature in the set is kept, unless a set loaded
 * earlier kept one; every other copy is dropped whole (its sections, their relocations, and its
 * definitions, which then resolve to the kept copy).
 */
final class ComdatGroups {
    /** Per object, per section: dropped with its group. */
    final boolean[][] discarded;
    /** Signatures of the groups this set keeps. */
    final Set<String> kept = new HashSet<>();

    ComdatGroups(List<ElfObject> objects, EarlierSets earlier) {
        discarded = new boolean[objects.size()][];
        for (int o = 0; o < objects.size(); o++) {
            ElfObject object = objects.get(o);
            discarded[o] = new boolean[object.sectionCount];
            for (SectionGroups.Group group : SectionGroups.comdat(object)) {
                if (earlier.keepsGroup(group.signature()) || !kept.add(group.signature())) {
                    for (int member : group.members()) {
                        discarded[o][member] = true;
                    }
                }
            }
        }
    }

    /** Whether a symbol of an object is a definition the set keeps. */
    boolean isDefined(ElfObject object, int o, int symbol) {
        int section = object.symbolSection[symbol];
        return section != SHN_UNDEF && !(section < object.sectionCount && discarded[o][section]);
    }

    /** Whether a symbol is defined in a section of a dropped group. */
    boolean inDroppedGroup(ElfObject object, int o, int symbol) {
        int section = object.symbolSection[symbol];
        return section > 0 && section < object.sectionCount && discarded[o][section];
    }
}
