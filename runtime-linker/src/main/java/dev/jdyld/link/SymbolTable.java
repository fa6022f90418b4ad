package dev.jdyld.link;

import dev.jdyld.elf.ElfObject;
import dev.jdyld.link.arch.Architecture;
import dev.jdyld.core.DuplicateSymbolException;
import dev.jdyld.core.UnresolvedSymbolException;
import dev.jdyld.runtime.Demangler;
import dev.jdyld.executor.RuntimeFunction;
import dev.jdyld.executor.TargetProcess;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.jdyld.elf.Elf.*;

/**
 * Symbol resolution for one set, done before anything is laid out: definitions across the set's
 * objects (strong over weak, common merged, duplicate strong definitions refused), then sets
 * loaded earlier, then the host; weak undefined symbols become 0, and every symbol defined
 * nowhere is reported in one error.
 */
final class SymbolTable {
    static final String GLOBAL_OFFSET_TABLE = "_GLOBAL_OFFSET_TABLE_";
    /** Provided by the set's own TLS runtime code, never the host's: the host's knows nothing of jdyld's blocks. */
    static final String TLS_GET_ADDR = "__tls_get_addr";
    /** The set's own handle for exit handlers, as each shared object has. */
    static final String DSO_HANDLE = "__dso_handle";
    /** C runtime functions glibc links statically into each module; jdyld emits them per set. */
    static final java.util.Set<String> GLUE = java.util.Set.of("atexit", "at_quick_exit", "pthread_atfork");
    /**
     * Registration of thread-local destructors, libstdc++'s and glibc's: jdyld's, so that a pending
     * destructor keeps its set mapped (as glibc defers the {@code dlclose} of a shared object). Not
     * code of the set: a host function at jdyld's entry, which lives as long as the process, called
     * through the GOT and stubs like the C library's, whatever earlier sets or the host define under
     * these names.
     */
    static final java.util.Set<String> THREAD_ATEXIT = java.util.Set.of("__cxa_thread_atexit", "__cxa_thread_atexit_impl");
    /**
     * In a set that needs an executable stack, threads it starts need one too: its
     * {@code pthread_create} is jdyld's, which makes the new thread's stack executable first.
     */
    static final String PTHREAD_CREATE = "pthread_create";

    final List<ElfObject> objects;
    private final Architecture arch;
    final ComdatGroups comdat;
    final Map<String, GlobalSymbol> byName;
    final List<GlobalSymbol> globals;
    /** Per object, per symbol index: the global's id, or -1 for a local symbol. */
    final int[][] globalOf;
    /**
     * Size and alignment of each name with common definitions (largest of each): few names have
     * any, so they are kept here rather than in two fields of every {@link GlobalSymbol}.
     */
    private final Map<GlobalSymbol, long[]> commons = new HashMap<>();

    SymbolTable(List<ElfObject> objects, ComdatGroups comdat, Architecture arch) {
        this.arch = arch;
        this.objects = objects;
        this.comdat = comdat;
        this.globalOf = new int[objects.size()][];
        // Sized for every global symbol up front: a large set's table would otherwise be rehashed
        // a dozen times while it fills.
        int expected = objects.stream().mapToInt(object -> object.symbolCount - object.firstGlobal).sum();
        this.byName = HashMap.newHashMap(expected);
        this.globals = new ArrayList<>(expected);
    }

    /** Whether the set needs an executable stack: its {@code pthread_create} is then jdyld's. */
    boolean executableStack;

    void resolve(EarlierSets earlier, TargetProcess target) {
        collectDefinitions();
        resolveReferences(earlier, target);
    }

    private void collectDefinitions() {
        for (int o = 0; o < objects.size(); o++) {
            ElfObject object = objects.get(o);
            int[] map = new int[object.symbolCount];
            java.util.Arrays.fill(map, 0, object.firstGlobal, -1);
            for (int s = object.firstGlobal; s < object.symbolCount; s++) {
                String name = object.symbolName(s);
                GlobalSymbol global = intern(name);
                map[s] = global.id;
                if (object.symbolType(s) == STT_TLS) {
                    global.tls = true;
                }
                int section = object.symbolSection[s];
                if (!comdat.isDefined(object, o, s)) { // undefined, or defined in a dropped COMDAT group
                    if (global.firstReference < 0) {
                        global.firstReference = o;
                    }
                    if (object.binding(s) != STB_WEAK) {
                        global.referencedStrongly = true;
                    }
                    continue;
                }
                if (object.symbolType(s) == STT_GNU_IFUNC) {
                    global.ifunc = true;
                }
                if (section == SHN_COMMON) {
                    defineCommon(global, object, s);
                    continue;
                }
                boolean weak = object.binding(s) == STB_WEAK;
                switch (global.kind) {
                    case UNDEFINED, COMMON -> define(global, o, s, weak);
                    case DEFINED -> {
                        if (global.weakDefinition && !weak) {
                            define(global, o, s, false);
                        } else if (!global.weakDefinition && !weak) {
                            throw new DuplicateSymbolException(name, objects.get(global.object).name, object.name);
                        }
                    }
                    default -> throw new IllegalStateException(global.kind.toString());
                }
            }
            globalOf[o] = map;
        }
    }

    private void define(GlobalSymbol global, int object, int symbol, boolean weak) {
        global.kind = GlobalSymbol.Kind.DEFINED;
        global.object = object;
        global.symbol = symbol;
        global.weakDefinition = weak;
        global.size = objects.get(object).symbolSize[symbol];
    }

    private void defineCommon(GlobalSymbol global, ElfObject object, int s) {
        if (global.kind == GlobalSymbol.Kind.DEFINED && !global.weakDefinition) {
            return; // a strong definition wins over a tentative one
        }
        global.kind = GlobalSymbol.Kind.COMMON;
        global.object = -1;
        // st_value of a common symbol is its alignment. The reader admits only powers of two up to
        // 1 GiB and sizes up to 2 GiB, so the layout's arithmetic on them cannot overflow.
        long[] sizeAndAlign = commons.computeIfAbsent(global, g -> new long[] {0, 1});
        sizeAndAlign[0] = Math.max(sizeAndAlign[0], object.symbolSize[s]);
        sizeAndAlign[1] = Math.max(sizeAndAlign[1], object.symbolValue[s]);
        global.size = sizeAndAlign[0];
    }

    /** The largest size among the common definitions of {@code global} (a COMMON symbol). */
    long commonSize(GlobalSymbol global) {
        return commons.get(global)[0];
    }

    /** The largest alignment among the common definitions of {@code global} (a COMMON symbol). */
    long commonAlign(GlobalSymbol global) {
        return commons.get(global)[1];
    }

    /**
     * Binds every undefined name: to the linker's own definitions, to an earlier set, else to the
     * host, whose names are looked up all at once (one round trip to a child executor).
     */
    private void resolveReferences(EarlierSets earlier, TargetProcess target) {
        List<GlobalSymbol> forHost = new ArrayList<>();
        for (GlobalSymbol global : globals) {
            if (global.kind != GlobalSymbol.Kind.UNDEFINED) {
                continue;
            }
            if (global.name.equals(GLOBAL_OFFSET_TABLE) || global.name.equals(TLS_GET_ADDR)
                    || global.name.equals(DSO_HANDLE) || GLUE.contains(global.name)) {
                global.kind = GlobalSymbol.Kind.LINKER_DEFINED;
                continue;
            }
            if (THREAD_ATEXIT.contains(global.name)) {
                global.kind = GlobalSymbol.Kind.HOST;
                global.address = target.runtimeFunction(RuntimeFunction.CXA_THREAD_ATEXIT);
                continue;
            }
            if (executableStack && global.name.equals(PTHREAD_CREATE)) {
                global.kind = GlobalSymbol.Kind.HOST;
                global.address = target.runtimeFunction(RuntimeFunction.PTHREAD_CREATE);
                continue;
            }
            long address = earlier.find(global.name);
            if (address != 0) {
                global.kind = GlobalSymbol.Kind.EARLIER_SET;
                global.address = address;
                continue;
            }
            forHost.add(global);
        }
        List<String> names = new ArrayList<>(forHost.size());
        for (GlobalSymbol global : forHost) {
            names.add(global.name);
        }
        long[] hostAddresses = target.host().findAll(names);
        Map<String, String> unresolved = new LinkedHashMap<>();
        for (int i = 0; i < hostAddresses.length; i++) {
            GlobalSymbol global = forHost.get(i);
            long address = hostAddresses[i];
            if (address != 0) {
                global.kind = GlobalSymbol.Kind.HOST;
                global.address = address;
                continue;
            }
            if (!global.referencedStrongly) {
                global.kind = GlobalSymbol.Kind.UNDEFINED_WEAK;
                global.address = 0;
                continue;
            }
            String readable = Demangler.demangle(global.name);
            unresolved.put(global.name, (readable.equals(global.name) ? readable : readable + " [" + global.name + "]")
                    + " (referenced by " + objects.get(global.firstReference).name + ")");
        }
        if (!unresolved.isEmpty()) {
            List<String> missing = List.copyOf(unresolved.keySet());
            throw new UnresolvedSymbolException(missing, List.copyOf(unresolved.values()),
                    target.host().missingLibraryHint(missing));
        }
    }

    private GlobalSymbol intern(String name) {
        GlobalSymbol global = byName.get(name);
        if (global == null) {
            global = new GlobalSymbol(name, globals.size());
            byName.put(name, global);
            globals.add(global);
        }
        return global;
    }

    GlobalSymbol global(int object, int symbol) {
        int id = globalOf[object][symbol];
        return id < 0 ? null : globals.get(id);
    }
}
