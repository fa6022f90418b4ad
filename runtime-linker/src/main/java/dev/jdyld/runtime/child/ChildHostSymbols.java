package dev.jdyld.runtime.child;

import dev.jdyld.core.ExecutorException;
import dev.jdyld.core.LinkException;
import dev.jdyld.executor.HostLookup;
import dev.jdyld.runtime.HostSymbols;

import java.util.ArrayList;
import java.util.List;

/**
 * The host's symbols in the executor: its global scope, then the libraries opened there. A load's
 * host names go in one request.
 */
final class ChildHostSymbols implements HostLookup {
    private final ChildProcess child;
    private final String multiarchTriple;
    private final List<String> libraryNames = new ArrayList<>();

    ChildHostSymbols(ChildProcess child, String multiarchTriple) {
        this.child = child;
        this.multiarchTriple = multiarchTriple;
    }

    @Override
    public long find(String name) {
        return findAll(List.of(name))[0];
    }

    @Override
    public long[] findAll(List<String> names) {
        if (names.isEmpty()) {
            return new long[0];
        }
        Protocol.Writer request = new Protocol.Writer().u32(names.size());
        for (String name : names) {
            request.string(name);
        }
        Protocol.Reader reply = new Protocol.Reader(child.request(Protocol.LOOKUP, request.bytes(), 0), "LOOKUP reply");
        long[] addresses = new long[names.size()];
        for (int i = 0; i < addresses.length; i++) {
            addresses[i] = reply.u64();
        }
        return addresses;
    }

    @Override
    public synchronized void addLibrary(String name) {
        String firstError = null;
        for (String candidate : HostSymbols.libraryCandidates(multiarchTriple, name)) {
            try {
                child.request(Protocol.DLOPEN, new Protocol.Writer().string(candidate).bytes(), 0);
                libraryNames.add(name);
                return;
            } catch (ExecutorException e) {
                if (!child.isAlive()) {
                    throw e;
                }
                if (firstError == null) {
                    firstError = e.getMessage().substring(e.getMessage().indexOf(": ") + 2);
                }
            }
        }
        throw new LinkException("cannot open host library " + name + " in the executor: " + firstError);
    }

    @Override
    public synchronized List<String> libraryNames() {
        return List.copyOf(libraryNames);
    }

    @Override
    public String missingLibraryHint(List<String> unresolved) {
        return HostSymbols.missingLibraryHint(libraryNames(), unresolved);
    }
}
