package dev.jdyld.link;

import dev.jdyld.core.LinkException;
import dev.jdyld.link.aarch64.Aarch64;
import dev.jdyld.link.arch.Architecture;
import dev.jdyld.link.x86_64.X86_64;

/** The architectures jdyld links for, by machine name: the JVM's own, or the one a child executor runs. */
public final class HostArchitecture {
    private HostArchitecture() {}

    /** The JVM's own machine's: in-process code runs here. */
    public static Architecture get() {
        return of(System.getProperty("os.arch"));
    }

    /** The architecture of objects whose {@code e_machine} is {@code machine}, or null when jdyld has none. */
    public static Architecture ofElfMachine(int machine) {
        for (Architecture arch : new Architecture[] {X86_64.INSTANCE, Aarch64.INSTANCE}) {
            if (arch.machine() == machine) {
                return arch;
            }
        }
        return null;
    }

    /** A new architecture is a package beside {@code link.x86_64} and a case here. */
    public static Architecture of(String machine) {
        return switch (machine) {
            case "amd64", "x86_64" -> X86_64.INSTANCE;
            case "aarch64" -> Aarch64.INSTANCE;
            default -> throw new LinkException("jdyld does not link for this machine (" + machine
                    + "); supported: x86-64, AArch64");
        };
    }
}
