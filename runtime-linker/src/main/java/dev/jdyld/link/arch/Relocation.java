package dev.jdyld.link.arch;

import dev.jdyld.elf.ElfObject;
import dev.jdyld.core.Location;
import dev.jdyld.core.RelocationException;

/**
 * The relocation the planning pass is looking at: one instance per pass, moved from entry to
 * entry, so that scanning allocates nothing per relocation.
 */
public final class Relocation {
    private final Architecture arch;
    private ElfObject object;
    private int targetSection;
    private long offset;
    private int type;
    private int symbol;
    private long addend;

    public Relocation(Architecture arch) {
        this.arch = arch;
    }

    public void moveTo(ElfObject object, int targetSection, long offset, int type, int symbol, long addend) {
        this.object = object;
        this.targetSection = targetSection;
        this.offset = offset;
        this.type = type;
        this.symbol = symbol;
        this.addend = addend;
    }

    public ElfObject object() {
        return object;
    }

    public int targetSection() {
        return targetSection;
    }

    /** Offset of the field in its section. */
    public long offset() {
        return offset;
    }

    public int type() {
        return type;
    }

    /** Symbol index in the object's symbol table. */
    public int symbol() {
        return symbol;
    }

    /** {@code A}: the entry's addend. */
    public long addend() {
        return addend;
    }

    public String name() {
        return arch.relocationName(type);
    }

    public Location location() {
        return object.location(targetSection, offset).relocation(name()).symbol(object.describeSymbol(symbol));
    }

    /** An error about this relocation, with its full location. */
    public RelocationException error(String what) {
        return new RelocationException(location(), what);
    }

    /** {@code R_X86_64_32 against 'x' in a.o section .text}: why a placement constraint exists. */
    public String describe() {
        String name = object.describeSymbol(symbol);
        return name() + " against " + (name.startsWith("#") ? "symbol " + name : "'" + name + "'") + " in "
                + object.name + " section " + object.sectionName[targetSection];
    }
}
