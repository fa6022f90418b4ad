package dev.jdyld.core;

import java.util.AbstractList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.RandomAccess;

/**
 * The symbols of a {@link SetLayout}, kept as columns (name, kind, address, size) and sorted by
 * address once: a large set names hundreds of thousands of ranges, and a record for each, sorted
 * through a comparator, costs several times the memory and time. Immutable; each {@link #get}
 * makes the record it returns.
 */
public final class AddressOrderedSymbols extends AbstractList<SetLayout.Symbol> implements RandomAccess {
    private static final SetLayout.Symbol.Kind[] KINDS = SetLayout.Symbol.Kind.values();

    private final String[] names;
    private final byte[] kinds;
    private final long[] addresses;
    private final long[] sizes;

    private AddressOrderedSymbols(String[] names, byte[] kinds, long[] addresses, long[] sizes) {
        this.names = names;
        this.kinds = kinds;
        this.addresses = addresses;
        this.sizes = sizes;
    }

    /** Collects symbols in any order; {@link #build} sorts them. */
    public static final class Builder {
        private String[] names;
        private byte[] kinds;
        private long[] addresses;
        private long[] sizes;
        private int count;

        /**
         * An empty builder with room for {@code expected} symbols (it grows past them).
         *
         * @param expected how many symbols are likely to be added
         */
        public Builder(int expected) {
            int capacity = Math.max(expected, 16);
            names = new String[capacity];
            kinds = new byte[capacity];
            addresses = new long[capacity];
            sizes = new long[capacity];
        }

        /**
         * Adds one symbol.
         *
         * @param name    its name
         * @param kind    what it names
         * @param address its first byte
         * @param size    its bytes
         * @return this builder
         */
        public Builder add(String name, SetLayout.Symbol.Kind kind, long address, long size) {
            if (count == names.length) {
                int grown = count * 2;
                names = Arrays.copyOf(names, grown);
                kinds = Arrays.copyOf(kinds, grown);
                addresses = Arrays.copyOf(addresses, grown);
                sizes = Arrays.copyOf(sizes, grown);
            }
            names[count] = name;
            kinds[count] = (byte) kind.ordinal();
            addresses[count] = address;
            sizes[count] = size;
            count++;
            return this;
        }

        /**
         * Adds every symbol of {@code symbols}.
         *
         * @param symbols symbols in any order
         * @return this builder
         */
        public Builder addAll(java.util.List<SetLayout.Symbol> symbols) {
            for (SetLayout.Symbol symbol : symbols) {
                add(symbol.name(), symbol.kind(), symbol.address(), symbol.size());
            }
            return this;
        }

        /**
         * The symbols in address order (equal addresses keep the order they were added in).
         *
         * @return the sorted, immutable list
         */
        public AddressOrderedSymbols build() {
            int[] order = order();
            String[] sortedNames = new String[count];
            byte[] sortedKinds = new byte[count];
            long[] sortedAddresses = new long[count];
            long[] sortedSizes = new long[count];
            for (int i = 0; i < count; i++) {
                int from = order[i];
                sortedNames[i] = names[from];
                sortedKinds[i] = kinds[from];
                sortedAddresses[i] = addresses[from];
                sortedSizes[i] = sizes[from];
            }
            return new AddressOrderedSymbols(sortedNames, sortedKinds, sortedAddresses, sortedSizes);
        }

        /**
         * Indexes in address order: when the address range and the count fit one long, each key is
         * the offset from the lowest address above the index and a primitive sort does it; otherwise
         * a stable sort of boxed indexes.
         */
        private int[] order() {
            int[] order = new int[count];
            if (count == 0) {
                return order;
            }
            long lowest = Long.MAX_VALUE;
            long highest = Long.MIN_VALUE;
            for (int i = 0; i < count; i++) {
                lowest = Math.min(lowest, addresses[i]);
                highest = Math.max(highest, addresses[i]);
            }
            int indexBits = 64 - Long.numberOfLeadingZeros(count);
            long range = highest - lowest;
            if (range >= 0 && 64 - Long.numberOfLeadingZeros(range) + indexBits <= 63) {
                long[] keys = new long[count];
                for (int i = 0; i < count; i++) {
                    keys[i] = (addresses[i] - lowest) << indexBits | i;
                }
                Arrays.sort(keys);
                long mask = (1L << indexBits) - 1;
                for (int i = 0; i < count; i++) {
                    order[i] = (int) (keys[i] & mask);
                }
                return order;
            }
            Integer[] boxed = new Integer[count];
            for (int i = 0; i < count; i++) {
                boxed[i] = i;
            }
            Arrays.sort(boxed, Comparator.comparingLong(i -> addresses[i]));
            for (int i = 0; i < count; i++) {
                order[i] = boxed[i];
            }
            return order;
        }
    }

    @Override
    public SetLayout.Symbol get(int index) {
        return new SetLayout.Symbol(names[index], KINDS[kinds[index]], addresses[index], sizes[index]);
    }

    @Override
    public int size() {
        return names.length;
    }

    /**
     * The name of symbol {@code index}, without making its record.
     *
     * @param index position in address order
     * @return its name
     */
    public String name(int index) {
        return names[index];
    }

    /**
     * The kind of symbol {@code index}.
     *
     * @param index position in address order
     * @return its kind
     */
    public SetLayout.Symbol.Kind kind(int index) {
        return KINDS[kinds[index]];
    }

    /**
     * The address of symbol {@code index}.
     *
     * @param index position in address order
     * @return its first byte
     */
    public long address(int index) {
        return addresses[index];
    }
}
