package dev.jdyld.link;

import dev.jdyld.elf.ElfObject;
import dev.jdyld.elf.GnuStackNote;
import dev.jdyld.core.LinkException;
import dev.jdyld.core.Location;
import dev.jdyld.core.ObjectFile;
import dev.jdyld.link.arch.Architecture;
import dev.jdyld.link.arch.RelocationTarget;
import dev.jdyld.link.arch.ResolvedSymbols;
import dev.jdyld.link.layout.GotTable;
import dev.jdyld.executor.RuntimeFunction;
import dev.jdyld.executor.TargetProcess;
import dev.jdyld.executor.ThreadLocalBlock;
import dev.jdyld.memory.MemoryException;
import dev.jdyld.memory.PermissionGroup;
import dev.jdyld.memory.Slab;
import dev.jdyld.runtime.Initializers;
import dev.jdyld.runtime.LoadStage;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

import static dev.jdyld.elf.Elf.SHN_ABS;
import static dev.jdyld.elf.Elf.SHN_LORESERVE;
import static dev.jdyld.elf.Elf.SHN_UNDEF;
import static dev.jdyld.elf.Elf.SHT_NOBITS;
import static dev.jdyld.elf.Elf.STT_FUNC;
import static dev.jdyld.elf.Elf.STT_GNU_IFUNC;
import static dev.jdyld.elf.Elf.STT_NOTYPE;
import static dev.jdyld.elf.Elf.STT_TLS;
import static dev.jdyld.elf.Elf.STV_HIDDEN;
import static dev.jdyld.elf.Elf.STV_INTERNAL;

/**
 * Links one set, in named steps; each reads only what the earlier ones produced:
 * <ol>
 *   <li>select the inputs (objects, archive members pulled in) and drop duplicate COMDAT groups;</li>
 *   <li>resolve symbols ({@link SymbolTable});</li>
 *   <li>plan ({@link SetPlan}): the relocation scan sizes the GOT and stubs exactly, then every
 *       section gets its offset;</li>
 *   <li>map the slab (the {@linkplain TargetProcess target}'s memory manager); copy section bytes;</li>
 *   <li>make the set's TLS key and write the code the linker emits; give every global its address;</li>
 *   <li>fill the GOT ({@link GotEntries}), write stubs ({@link Stubs}), apply relocations.</li>
 * </ol>
 * The result is relocated but still writable: the caller finalizes its permissions. Any failure
 * after the slab is mapped unmaps it (and deletes the TLS key) before the exception leaves, so a
 * failed link leaves nothing behind.
 */
public final class SetLinker {
    private final Architecture arch;
    private final TargetProcess target;
    private final EarlierSets earlier;
    private final Arena arena;
    private final boolean relaxGot;
    private final boolean executableStackAllowed;
    private final boolean parallel;
    /** {@code values()} copies its array at every call: this runs once per exported name. */
    private static final PermissionGroup[] GROUPS = PermissionGroup.values();

    /**
     * A linker for one set; {@code arena} is the load's own, which the slab's segments belong to, so
     * that they die with the load: confined to the loading thread (its close stops no other thread)
     * unless the load is {@code parallel}.
     * {@code relaxGot}: whether GOT loads of the set's own symbols may be rewritten to reach them directly.
     * {@code executableStackAllowed}: whether a set that needs an executable stack may load.
     * {@code parallel}: whether objects may be parsed and relocated on the common fork-join pool's
     * threads as well, which needs a shared {@code arena}; worth it for a large set only.
     */
    public SetLinker(Architecture arch, TargetProcess target, EarlierSets earlier, Arena arena,
                     boolean relaxGot, boolean executableStackAllowed, boolean parallel) {
        this.arch = arch;
        this.target = target;
        this.earlier = earlier;
        this.arena = arena;
        this.relaxGot = relaxGot;
        this.executableStackAllowed = executableStackAllowed;
        this.parallel = parallel;
    }

    /**
     * Whether inputs of {@code bytes} in all are worth linking in parallel: 8 MiB or more, with at
     * least two pool workers beside the loading thread. With one (a 2-core machine) a cold load of
     * the 200,000-function program measured slower in parallel than not: the second core is the JIT
     * compilers'. The system property {@code jdyld.parallelLink} ({@code true}, {@code false})
     * overrides the choice for every load.
     */
    public static boolean worthParallel(long bytes) {
        String forced = System.getProperty("jdyld.parallelLink");
        if (forced != null) {
            return Boolean.parseBoolean(forced);
        }
        return bytes >= 8 << 20 && ForkJoinPool.getCommonPoolParallelism() > 1;
    }

    /**
     * Runs {@code task} for 0 .. {@code count - 1}: on the common fork-join pool when {@code parallel},
     * else in order on this thread. Whatever fails, every task has ended when this returns; the
     * failure of the lowest index is thrown (the one a sequential run would have thrown).
     */
    static void forEach(int count, boolean parallel, IntConsumer task) {
        if (!parallel || count < 2) {
            for (int i = 0; i < count; i++) {
                task.accept(i);
            }
            return;
        }
        RuntimeException[] failures = new RuntimeException[count];
        Error[] errors = new Error[count];
        IntStream.range(0, count).parallel().forEach(i -> {
            try {
                task.accept(i);
            } catch (RuntimeException e) {
                failures[i] = e;
            } catch (Error e) {
                errors[i] = e;
            }
        });
        for (int i = 0; i < count; i++) {
            if (errors[i] != null) {
                throw errors[i];
            }
            if (failures[i] != null) {
                throw failures[i];
            }
        }
    }

    public LinkedSet link(List<ObjectFile> inputs) {
        LoadStage.PARSE.reached();
        InputSelection selection = new InputSelection(inputs, arch, parallel);
        List<ElfObject> objects = selection.objects;
        GnuStackNote.Need executableStack = GnuStackNote.need(objects);
        if (executableStack != null && !executableStackAllowed) {
            throw new LinkException(executableStack.missing() ? Location.file(executableStack.object())
                    : Location.file(executableStack.object()).section(".note.GNU-stack"), "needs an executable stack: "
                    + executableStack.reason() + (executableStack.missing()
                    ? "; give it an empty one (as --noexecstack, or .section .note.GNU-stack,\"\",@progbits), or load it"
                    + " with JitLinker.builder().executableStack(true)"
                    : ", as gcc marks code whose GNU C nested functions write trampolines on the stack; load it with"
                    + " JitLinker.builder().executableStack(true), or compile without nested functions whose address is taken"));
        }
        // Each global name decoded and hashed once, object by object, before the table takes them in order.
        forEach(objects.size(), parallel, o -> objects.get(o).hashGlobalNames());
        SymbolTable symbols = new SymbolTable(objects, new ComdatGroups(objects, earlier), arch);
        symbols.executableStack = executableStack != null;
        symbols.resolve(earlier, target);
        LoadStage.PLAN.reached();
        SetPlan plan = SetPlan.make(arch, symbols, true, relaxGot, target.memory().addressSpace());
        LoadStage.ALLOCATE.reached();
        Slab slab = allocate(plan, plan.hasDirectCallsToEarlierSets);
        if (slab == null) {
            // No window reaches the earlier sets it calls: plan again with stubs for those calls.
            plan = SetPlan.make(arch, symbols, false, relaxGot, target.memory().addressSpace());
            slab = allocate(plan, false);
        }
        ThreadLocalBlock tls = null;
        try {
            SetImage image = new SetImage(plan, slab);
            LoadStage.COPY.reached();
            copySections(image);
            tls = createThreadLocalStorage(image);
            writeGlueCode(image);
            assignAddresses(image);
            if (plan.staticTls) {
                // glibc copies the template into every thread when the block is placed, so it must be
                // final first: relocate the .tdata sections, then place the block.
                applyRelocations(image, new GotEntries(image, null), Sections.THREAD_LOCAL);
                tls = target.createStaticThreadLocalStorage(image.segment(PermissionGroup.RELRO).asSlice(
                        plan.linkerSections.tlsTemplate(), plan.tls.templateSize()), plan.tls.blockSize(),
                        plan.tls.alignment(), describe(objects));
            }
            GotEntries got = new GotEntries(image, tls);
            got.fillGlobals(target::threadPointer);
            Stubs.write(image);
            Stubs.writeIslands(image);
            LoadStage.RELOCATE.reached();
            applyRelocations(image, got, plan.staticTls ? Sections.OTHERS : Sections.ALL);
            return new LinkedSet(slab, tls, exports(image), LayoutReport.describe(image, selection.pulled, tls,
                    executableStack == null ? null : executableStack.toString()),
                    image.dsoHandle, initializers(image), symbols.comdat.kept, describe(objects),
                    inputsAsRead(objects));
        } catch (Throwable t) {
            if (tls != null) {
                tls.close();
            }
            slab.close();
            throw t;
        }
    }

    /** Maps the slab; null when placement failed and a plan with stubs for earlier-set calls may succeed. */
    private Slab allocate(SetPlan plan, boolean mayRetry) {
        try {
            return target.memory().allocate(plan.slabRequest(), arena);
        } catch (MemoryException e) {
            if (mayRetry) {
                return null;
            }
            throw new LinkException(Location.file(describe(plan.objects)), "cannot place the set: " + e.getMessage(), e);
        }
    }

    /** Each object's name and bytes (an archive member's own), without copying what is already an array. */
    private static List<ObjectFile> inputsAsRead(List<ElfObject> objects) {
        List<ObjectFile> inputs = new ArrayList<>(objects.size());
        for (ElfObject object : objects) {
            byte[] bytes = object.data.heapBase().filter(base -> base instanceof byte[] array
                            && array.length == object.data.byteSize()).map(base -> (byte[]) base)
                    .orElseGet(() -> object.data.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            inputs.add(new ObjectFile(object.name, bytes));
        }
        return inputs;
    }

    /** The first input's name, and how many more there are. */
    private static String describe(List<ElfObject> objects) {
        return objects.get(0).name + (objects.size() > 1 ? " and " + (objects.size() - 1) + " more" : "");
    }

    /** Section bytes copied into place; NOBITS stays as mapped: zero. */
    private static void copySections(SetImage image) {
        List<ElfObject> objects = image.plan.objects;
        for (int o = 0; o < objects.size(); o++) {
            ElfObject object = objects.get(o);
            for (int s = 1; s < object.sectionCount; s++) {
                if (image.plan.sections.isLoaded(o, s) && object.sectionType[s] != SHT_NOBITS && object.sectionSize[s] > 0) {
                    MemorySegment.copy(object.data, object.sectionOffset[s], image.section(o, s), 0, object.sectionSize[s]);
                }
            }
        }
    }

    /**
     * The set's pthread key, template and emitted TLS runtime code; null when the set has no TLS or
     * its block goes to static TLS, which needs the template relocated first.
     */
    private ThreadLocalBlock createThreadLocalStorage(SetImage image) {
        SetPlan plan = image.plan;
        if (!plan.usesTls) {
            return null;
        }
        LoadStage.TLS.reached();
        if (plan.staticTls) {
            arch.writeStaticTlsCode(image.segment(PermissionGroup.TEXT), plan.linkerSections.tlsCode());
            return null;
        }
        arch.writeTlsCode(image.segment(PermissionGroup.TEXT), plan.linkerSections.tlsCode(),
                target.runtimeFunction(RuntimeFunction.PTHREAD_GETSPECIFIC), target.runtimeFunction(RuntimeFunction.TLS_SLOW_PATH),
                target.runtimeFunction(RuntimeFunction.FREE));
        return target.createThreadLocalStorage(image.tlsCode + arch.tlsDestructorEntry(),
                image.base(PermissionGroup.RELRO) + plan.linkerSections.tlsTemplate(), plan.tls.templateSize(),
                plan.tls.blockSize(), plan.tls.alignment());
    }

    private void writeGlueCode(SetImage image) {
        if (image.glueCode != 0) {
            arch.writeGlueCode(image.segment(PermissionGroup.TEXT), image.plan.linkerSections.glueCode(), image.glueCode,
                    image.dsoHandle, target.runtimeFunction(RuntimeFunction.CXA_ATEXIT),
                    target.runtimeFunction(RuntimeFunction.CXA_AT_QUICK_EXIT), target.runtimeFunction(RuntimeFunction.REGISTER_ATFORK));
        }
    }

    /** Addresses of the set's own global definitions. */
    private void assignAddresses(SetImage image) {
        for (GlobalSymbol global : image.plan.symbols.globals) {
            switch (global.kind) {
                case DEFINED -> global.address = image.symbolAddress(global.object, global.symbol);
                case COMMON -> global.address = image.base(PermissionGroup.DATA)
                        + image.plan.linkerSections.common()[global.id];
                case LINKER_DEFINED -> global.address = switch (global.name) {
                    case SymbolTable.TLS_GET_ADDR -> image.tlsCode + arch.tlsGetAddrEntry();
                    case SymbolTable.DSO_HANDLE -> image.dsoHandle;
                    case SymbolTable.GLOBAL_OFFSET_TABLE -> image.got;
                    default -> image.glueCode + arch.glueEntry(global.name);
                };
                default -> { }
            }
        }
    }

    /** Which relocation sections a pass applies, by whether their target is a thread-local template section. */
    private enum Sections { ALL, THREAD_LOCAL, OTHERS }

    /**
     * Per object: its resolved symbols and local GOT entries, then every relocation section of a
     * loaded section that {@code which} selects.
     */
    private void applyRelocations(SetImage image, GotEntries got, Sections which) {
        SetPlan plan = image.plan;
        // Objects write disjoint sections and GOT slots: they are relocated independently.
        forEach(plan.objects.size(), parallel, o -> {
            ElfObject object = plan.objects.get(o);
            ResolvedSymbols resolved = null;
            for (int rela : object.relaSections) {
                int target = object.sectionInfo[rela];
                boolean threadLocal = plan.tls.offset(o, target) >= 0;
                if (which != Sections.ALL && threadLocal != (which == Sections.THREAD_LOCAL)) {
                    continue;
                }
                if (resolved == null) {
                    resolved = resolvedSymbols(image, o, got);
                }
                if (plan.sections.isLoaded(o, target)) {
                    arch.relocate(new RelocationTarget(arch, object, rela, image.section(o, target),
                            image.sectionAddress[o][target], resolved, Stubs.thunks(image, o, target)),
                            image.got);
                }
            }
        });
        got.fillModuleIndex();
    }

    /** S, G + GOT, L and Z of every symbol of one object; has the GOT entries of its local symbols filled. */
    private ResolvedSymbols resolvedSymbols(SetImage image, int o, GotEntries entries) {
        SetPlan plan = image.plan;
        ElfObject object = plan.objects.get(o);
        GotTable got = plan.got;
        int[] globalOf = plan.symbols.globalOf[o];
        ResolvedSymbols r = new ResolvedSymbols(object.symbolCount);
        r.tlsModule = entries.module();
        r.tlsThreadPointerOffset = entries.threadPointerOffset();
        r.tlsLdSlot = image.gotSlot(got.moduleIndexSlot());
        boolean locals = got.hasLocals(o);
        for (int s = 1; s < object.symbolCount; s++) {
            r.inDroppedGroup[s] = plan.comdat.inDroppedGroup(object, o, s);
            int g = globalOf[s];
            if (g >= 0) {
                GlobalSymbol global = plan.symbols.globals.get(g);
                int stub = plan.stubs.stub(g);
                long stubAddress = stub >= 0 ? image.stubAddress(stub) : 0;
                r.address[s] = plan.stubs.isCanonical(g) ? stubAddress : global.address;
                r.size[s] = global.size;
                r.gotSlot[s] = image.gotSlot(got.slot(GotTable.Entry.ADDRESS, g));
                r.tlsGdSlot[s] = image.gotSlot(got.slot(GotTable.Entry.TLS_INDEX, g));
                r.tlsDescSlot[s] = image.gotSlot(got.slot(GotTable.Entry.TLS_DESCRIPTOR, g));
                r.callTarget[s] = stub >= 0 ? stubAddress : global.address;
                continue;
            }
            long address = image.symbolAddress(o, s);
            r.address[s] = address;
            r.size[s] = object.symbolSize[s];
            r.callTarget[s] = address;
            if (!locals) {
                continue;
            }
            r.gotSlot[s] = image.gotSlot(got.localSlot(GotTable.Entry.ADDRESS, o, s));
            r.tlsGdSlot[s] = image.gotSlot(got.localSlot(GotTable.Entry.TLS_INDEX, o, s));
            r.tlsDescSlot[s] = image.gotSlot(got.localSlot(GotTable.Entry.TLS_DESCRIPTOR, o, s));
            entries.fillLocal(o, s, address, inThreadLocalSection(plan, o, object.symbolSection[s]));
        }
        return r;
    }

    private static boolean inThreadLocalSection(SetPlan plan, int o, int section) {
        return section > 0 && section < plan.objects.get(o).sectionCount && plan.tls.offset(o, section) >= 0;
    }

    /** IFUNC resolvers to call, then constructors and destructors in the order a static link runs them. */
    private static Initializers.Calls initializers(SetImage image) {
        SetPlan plan = image.plan;
        List<Initializers.Ifunc> ifuncs = new ArrayList<>();
        for (GlobalSymbol global : plan.symbols.globals) {
            int slot = plan.stubs.ifuncSlot(global.id);
            if (slot >= 0) {
                ifuncs.add(new Initializers.Ifunc(global.address, plan.linkerSections.ifuncTable() + slot * GotTable.ENTRY_SIZE));
            }
        }
        Initializers.Calls arrays = Initializers.collect(plan.objects, plan.sections.groups(), image::section);
        return new Initializers.Calls(ifuncs, arrays.init(), arrays.fini());
    }

    /** Global, non-hidden definitions of the set: what lookups and later sets see (an IFUNC as its stub). */
    private static LinkedSet.Exports exports(SetImage image) {
        SetPlan plan = image.plan;
        int exported = 0;
        for (GlobalSymbol global : plan.symbols.globals) {
            boolean isExported = switch (global.kind) {
                case DEFINED -> {
                    int visibility = plan.objects.get(global.object).visibility(global.symbol);
                    yield visibility != STV_HIDDEN && visibility != STV_INTERNAL;
                }
                case COMMON -> true;
                default -> false;
            };
            if (isExported) {
                int stub = plan.stubs.stub(global.id);
                global.exportAddress = plan.stubs.isCanonical(global.id) && stub >= 0 ? image.stubAddress(stub) : global.address;
                global.exportKind = global.kind == GlobalSymbol.Kind.COMMON ? LinkedSet.ExportKind.DATA : kind(plan, global);
                exported++;
            }
        }
        return new LinkedSet.Exports(plan.symbols.byName, exported);
    }

    /** What a symbol an object of the set defines is: by its type, and by the memory its section went to. */
    private static LinkedSet.ExportKind kind(SetPlan plan, GlobalSymbol global) {
        ElfObject object = plan.objects.get(global.object);
        int type = object.symbolType(global.symbol);
        int section = object.symbolSection[global.symbol];
        if (type == STT_FUNC || type == STT_GNU_IFUNC) {
            return LinkedSet.ExportKind.FUNCTION;
        }
        if (type == STT_TLS || global.tls) {
            return LinkedSet.ExportKind.THREAD_LOCAL;
        }
        if (section == SHN_ABS || section == SHN_UNDEF || section >= SHN_LORESERVE) {
            return LinkedSet.ExportKind.ABSOLUTE;
        }
        if (plan.tls.offset(global.object, section) >= 0) {
            return LinkedSet.ExportKind.THREAD_LOCAL;
        }
        int group = plan.sections.group(global.object, section);
        if (group < 0) {
            return LinkedSet.ExportKind.ABSOLUTE; // a section that is not loaded
        }
        return switch (GROUPS[group]) {
            case TEXT -> type == STT_NOTYPE ? LinkedSet.ExportKind.CODE_LABEL : LinkedSet.ExportKind.READ_ONLY_DATA;
            case DATA -> LinkedSet.ExportKind.DATA;
            default -> LinkedSet.ExportKind.READ_ONLY_DATA;
        };
    }
}
