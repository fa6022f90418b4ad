package dev.jdyld.link;

import dev.jdyld.elf.Archive;
import dev.jdyld.elf.Elf;
import dev.jdyld.elf.ElfObject;
import dev.jdyld.core.LinkException;
import dev.jdyld.core.Location;
import dev.jdyld.core.ObjectFile;
import dev.jdyld.core.UnsupportedObjectException;
import dev.jdyld.link.arch.Architecture;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static dev.jdyld.elf.Elf.*;

/**
 * Turns the inputs of a load into the objects of the set, as a static linker does with
 * {@code --start-group}: every object given, then the archive members that define a symbol
 * still undefined (strongly referenced and defined by no object so far), repeated over all
 * archives until nothing more is pulled in. Every object must be for the linker's architecture.
 */
final class InputSelection {
    /** An archive member pulled in, and the undefined symbol that pulled it. */
    record Pulled(String archive, String member, String symbol) {}

    final List<ElfObject> objects = new ArrayList<>();
    final List<Pulled> pulled = new ArrayList<>();

    private final Architecture arch;
    /** Names defined and still undefined, for pulling archive members; null when there is no archive. */
    private final Set<String> defined;
    private final Set<String> undefined;

    /** {@code parallel}: whether the objects given may be parsed on several threads. */
    InputSelection(List<ObjectFile> inputs, Architecture arch, boolean parallel) {
        this.arch = arch;
        List<Archive> archives = new ArrayList<>();
        ElfObject[] given = new ElfObject[inputs.size()];
        SetLinker.forEach(inputs.size(), parallel, i -> {
            ObjectFile input = inputs.get(i);
            if (!Archive.isArchive(input.bytes())) {
                given[i] = ElfObject.parse(input.name(), input.bytes());
            }
        });
        List<ElfObject> parsed = new ArrayList<>();
        for (int i = 0; i < given.length; i++) {
            if (given[i] != null) {
                parsed.add(given[i]);
            } else {
                archives.add(new Archive(inputs.get(i).name(), inputs.get(i).bytes()));
            }
        }
        // Without archives nothing is pulled in, and a large set's names need not be hashed here.
        // Sized for the objects' globals before they are added: no rehashing while a large set fills it.
        defined = archives.isEmpty() ? null
                : HashSet.newHashSet(parsed.stream().mapToInt(object -> object.symbolCount - object.firstGlobal).sum());
        undefined = archives.isEmpty() ? null : new LinkedHashSet<>();
        for (ElfObject object : parsed) {
            add(object);
        }
        // By identity (an archive hands out one Member per member): a record's generated hashCode
        // sets up method handles on first use, a few milliseconds of a cold start.
        Set<Archive.Member> taken = Collections.newSetFromMap(new IdentityHashMap<>());
        boolean changed = !archives.isEmpty();
        while (changed) {
            changed = false;
            for (Archive archive : archives) {
                for (String symbol : List.copyOf(undefined)) {
                    if (!undefined.contains(symbol)) {
                        continue; // defined by a member pulled in during this pass
                    }
                    Archive.Member member = archive.definer(symbol);
                    if (member != null && taken.add(member)) {
                        add(ElfObject.parse(archive.memberName(member), archive.contents(member)));
                        pulled.add(new Pulled(archive.name, member.name(), symbol));
                        changed = true;
                    }
                }
            }
        }
        if (objects.isEmpty()) {
            // Archives alone: no object leaves a symbol undefined, so no member is pulled in.
            throw new LinkException(Location.file(archives.getFirst().name), "no object to load: an archive"
                    + " only supplies members that define symbols the set's objects leave undefined");
        }
    }

    private void add(ElfObject object) {
        if (object.machine != arch.machine()) {
            Architecture own = HostArchitecture.ofElfMachine(object.machine);
            String other = own == null ? null : own.multiarchTriple().substring(0, own.multiarchTriple().indexOf('-'));
            throw new UnsupportedObjectException(Location.file(object.name), "object is for "
                    + Elf.machineName(object.machine) + "; this linker links for " + Elf.machineName(arch.machine())
                    + (other == null ? "" : ": link it for its machine in a child executor (jdyld run --target " + other
                    + ", Executor.childProcess(Target." + other.toUpperCase(java.util.Locale.ROOT) + "))"));
        }
        objects.add(object);
        if (defined == null) {
            return;
        }
        for (int s = object.firstGlobal; s < object.symbolCount; s++) {
            String name = object.symbolName(s);
            if (object.isDefined(s)) {
                if (defined.add(name)) {
                    undefined.remove(name);
                }
            } else if (object.binding(s) != STB_WEAK && !defined.contains(name)) {
                undefined.add(name);
            }
        }
    }
}
