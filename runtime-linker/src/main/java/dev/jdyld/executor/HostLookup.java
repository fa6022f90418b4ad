package dev.jdyld.executor;

import java.util.List;

/**
 * The host search order in the target process, after the scopes' own definitions: its global
 * scope, then the host libraries opened there, in order.
 */
public interface HostLookup {
    /** Address of {@code name} there, or 0 when the host does not define it. */
    long find(String name);

    /** Addresses of all {@code names} at once (one round trip to a child), 0 for each the host lacks. */
    default long[] findAll(List<String> names) {
        long[] addresses = new long[names.size()];
        for (int i = 0; i < addresses.length; i++) {
            addresses[i] = find(names.get(i));
        }
        return addresses;
    }

    /**
     * Opens a host library there and adds it to the search order: what {@code dlopen} takes, or a
     * short name as for the compiler's {@code -l}.
     */
    void addLibrary(String name);

    /** The host libraries added, as given, in search order. */
    List<String> libraryNames();

    /** When unresolved names look like a host library's that is not open, what to add; null otherwise. */
    String missingLibraryHint(List<String> unresolved);
}
