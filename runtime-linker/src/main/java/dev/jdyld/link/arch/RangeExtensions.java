package dev.jdyld.link.arch;

/**
 * Where a branch goes that does not reach its target directly: the range-extension thunk of the
 * caller's part of a large set (see {@code link.layout.BranchIslands}). Bound to one relocation
 * section; null where the set has no islands.
 */
public interface RangeExtensions {
    /** The address of the thunk for a branch to {@code symbol} (of the object) plus {@code addend}, or 0 when there is none. */
    long thunk(int symbol, long addend);
}
