package dev.jdyld.link;

/** What a set being linked sees of the sets its linker loaded before it. */
public interface EarlierSets {
    /** The address of a symbol exported by an earlier set; 0 when none defines it. */
    long find(String name);

    /** Whether an earlier set kept a COMDAT group with this signature. */
    boolean keepsGroup(String signature);
}
