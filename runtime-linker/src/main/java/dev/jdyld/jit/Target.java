package dev.jdyld.jit;

import java.util.Locale;

/**
 * The machine a linker links for and its code runs on. Code for the JVM's own machine may run in
 * process or in a child; code for another machine runs only in a child-process executor built for
 * it, under qemu-user ({@code qemu-aarch64 -L /usr/aarch64-linux-gnu}) when this machine is not one.
 */
public enum Target {
    /** x86-64 (AMD64), System V psABI. */
    X86_64("amd64"),
    /** AArch64 (ARM64), AAPCS64 and AAELF64. */
    AARCH64("aarch64");

    private final String machine;

    Target(String machine) {
        this.machine = machine;
    }

    /**
     * The JVM's own machine.
     *
     * @return its target
     * @throws IllegalStateException on a machine jdyld does not link for
     */
    public static Target host() {
        String arch = System.getProperty("os.arch");
        for (Target target : values()) {
            if (target.machine.equals(arch) || target.name().toLowerCase(Locale.ROOT).equals(arch)) {
                return target;
            }
        }
        throw new IllegalStateException("jdyld does not link for this JVM's machine (" + arch + ")");
    }

    /**
     * A target by the name the CLI takes: {@code x86_64} (or {@code amd64}, {@code x86-64}) and
     * {@code aarch64} (or {@code arm64}).
     *
     * @param name the name
     * @return the target
     * @throws IllegalArgumentException for another name
     */
    public static Target of(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "x86_64", "x86-64", "amd64" -> X86_64;
            case "aarch64", "arm64" -> AARCH64;
            default -> throw new IllegalArgumentException("unknown target '" + name + "' (x86_64, aarch64)");
        };
    }

    /**
     * The machine's name as Java's {@code os.arch} spells it ({@code amd64}, {@code aarch64}).
     *
     * @return the name
     */
    public String machine() {
        return machine;
    }

    /**
     * Whether this is the JVM's own machine.
     *
     * @return true when code for it can run in this process
     */
    public boolean isHost() {
        return machine.equals(System.getProperty("os.arch"));
    }
}
