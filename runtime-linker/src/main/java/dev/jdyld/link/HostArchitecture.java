package dev.jdyld.link;

import dev.jdyld.core.LinkException;
import dev.jdyld.link.arch.Architecture;
import dev.jdyld.link.x86_64.X86_64;

/** The architecture of the JVM's own process: loaded code runs here, so it is the one sets are linked for. */
public final class HostArchitecture {
    private HostArchitecture() {}

    /** A new architecture is a package beside {@code link.x86_64} and a case here. */
    public static Architecture get() {
        String arch = System.getProperty("os.arch");
        return switch (arch) {
            case "amd64", "x86_64" -> X86_64.INSTANCE;
            default -> throw new LinkException("jdyld does not link for this JVM's architecture (" + arch
                    + "); supported: x86-64");
        };
    }
}
