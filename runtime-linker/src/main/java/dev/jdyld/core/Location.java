package dev.jdyld.core;

/**
 * Where a load went wrong, as far as it is known: the input file (an archive member is named
 * {@code lib.a(member.o)}), the section, the byte offset (in the file for a malformed record, in
 * the section for a relocation), the relocation type and the symbol. Every {@link LinkException}
 * carries one, and its message starts with {@link #toString()}.
 *
 * @param file       input name, or null
 * @param section    section name (or {@code #N} before names are known), or null
 * @param offset     byte offset, or {@link #NO_OFFSET}
 * @param relocation psABI relocation name such as {@code R_X86_64_PC32}, or null
 * @param symbol     symbol name ({@code #N} for an unnamed one), or null
 */
public record Location(String file, String section, long offset, String relocation, String symbol) {
    /** The {@code offset} of a location that has none. */
    public static final long NO_OFFSET = -1;
    /** No location: the error concerns the load as a whole. */
    public static final Location NONE = new Location(null, null, NO_OFFSET, null, null);

    /**
     * An input file as a whole.
     *
     * @param file the input's name
     * @return a location naming only the file
     */
    public static Location file(String file) {
        return new Location(file, null, NO_OFFSET, null, null);
    }

    /**
     * This location in a section.
     *
     * @param section the section's name
     * @return the refined location
     */
    public Location section(String section) {
        return new Location(file, section, offset, relocation, symbol);
    }

    /**
     * This location at an offset.
     *
     * @param offset the offset in the file or section
     * @return the refined location
     */
    public Location offset(long offset) {
        return new Location(file, section, offset, relocation, symbol);
    }

    /**
     * This location at a relocation.
     *
     * @param relocation the relocation, e.g. its type and index
     * @return the refined location
     */
    public Location relocation(String relocation) {
        return new Location(file, section, offset, relocation, symbol);
    }

    /**
     * This location at a symbol.
     *
     * @param symbol the symbol's name
     * @return the refined location
     */
    public Location symbol(String symbol) {
        return new Location(file, section, offset, relocation, symbol);
    }

    /**
     * {@code file: section S offset 0xO: R_TYPE against 'symbol'}, leaving out what is unknown;
     * empty for {@link #NONE}.
     */
    @Override
    public String toString() {
        StringBuilder out = new StringBuilder();
        if (file != null) {
            out.append(file);
        }
        if (section != null) {
            separate(out).append("section ").append(section);
        }
        if (offset != NO_OFFSET) {
            (section != null ? out.append(' ') : separate(out)).append("offset 0x").append(Long.toHexString(offset));
        }
        if (relocation != null) {
            separate(out).append(relocation);
            if (symbol != null) {
                out.append(" against ").append(quoted(symbol));
            }
        } else if (symbol != null) {
            separate(out).append("symbol ").append(quoted(symbol));
        }
        return out.toString();
    }

    private static StringBuilder separate(StringBuilder out) {
        return out.isEmpty() ? out : out.append(": ");
    }

    private static String quoted(String symbol) {
        return symbol.startsWith("#") ? "symbol " + symbol : "'" + symbol + "'";
    }
}
