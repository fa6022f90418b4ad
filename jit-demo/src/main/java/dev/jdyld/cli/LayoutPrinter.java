package dev.jdyld.cli;

import dev.jdyld.core.SetLayout;
import dev.jdyld.jit.JitLinker;
import dev.jdyld.jit.Target;
import dev.jdyld.memory.WindowUsage;

import java.util.List;

/** Renders a {@link SetLayout} as a table for people or as JSON for tools. */
final class LayoutPrinter {
    private LayoutPrinter() {}

    static String table(SetLayout layout, List<WindowUsage> windows) {
        return table(layout, windows, Target.host(), true);
    }

    /** As {@link #table(SetLayout, List)} for a set of {@code target}'s code, in this process or a child's. */
    static String table(SetLayout layout, List<WindowUsage> windows, Target target, boolean inProcess) {
        StringBuilder out = new StringBuilder();
        out.append(String.format("GOT entries: %d   stubs: %d   relocations: %d%n",
                layout.gotEntries(), layout.stubs(), layout.relocations()));
        out.append("Executable stack: ").append(layout.executableStack() == null ? "not needed"
                : "needed (" + layout.executableStack() + ")").append(System.lineSeparator());
        out.append(String.format("%nGroup   Start              End                Size       Perm%n"));
        for (SetLayout.Group g : layout.groups()) {
            out.append(String.format("%-7s 0x%016x 0x%016x 0x%08x %s%n", g.name(), g.address(),
                    g.address() + g.size(), g.size(), g.permissions()));
        }
        out.append(String.format("%nAddress            Size       Align    Group  Section (object)%n"));
        for (SetLayout.Section s : layout.sections()) {
            out.append(String.format("0x%016x 0x%08x %-8d %-6s %s (%s)%n", s.address(), s.size(), s.alignment(),
                    s.group(), s.name(), s.object()));
        }
        SetLayout.ThreadLocalBlock tls = layout.threadLocal();
        if (tls != null) {
            out.append(String.format("%nThread-local block: %s, size 0x%x (0x%x from .tdata), align %d%n",
                    tls.staticTls() ? "static TLS" : "per-thread blocks (dynamic)", tls.size(), tls.templateSize(),
                    tls.alignment()));
            if (tls.staticTls()) {
                // Variant II (x86-64) lies below the thread pointer, variant I (AArch64) above it.
                String at = target == Target.X86_64 ? String.format("%%fs:0 - 0x%x", -tls.threadPointerOffset())
                        : String.format("tpidr_el0 + 0x%x", tls.threadPointerOffset());
                out.append("  at ").append(at).append(" in every thread");
                if (inProcess) {
                    out.append(String.format("; static TLS reserve left: %d bytes", JitLinker.staticTlsReserveLeft()));
                }
                out.append(System.lineSeparator());
            }
        }
        if (!layout.members().isEmpty()) {
            out.append(String.format("%nArchive members pulled in (and the undefined symbol that pulled each)%n"));
            for (SetLayout.Member m : layout.members()) {
                out.append(String.format("%s(%s)  for %s%n", m.archive(), m.member(), m.symbol()));
            }
        }
        out.append(String.format("%nWindow             Reserved   Committed  Used       Padding    Sets VMAs%n"));
        for (WindowUsage w : windows) {
            out.append(String.format("0x%016x 0x%08x 0x%08x 0x%08x 0x%08x %4d %4d%s%n", w.base(), w.reserved(),
                    w.committed(), w.used(), w.padding(), w.slabs(), w.mappings(), w.dualMapped() ? "  dual-mapped" : ""));
        }
        return out.toString();
    }

    static String json(SetLayout layout, List<WindowUsage> windows) {
        return json(layout, windows, Target.host(), true);
    }

    /** As {@link #json(SetLayout, List)} for a set of {@code target}'s code, in this process or a child's. */
    static String json(SetLayout layout, List<WindowUsage> windows, Target target, boolean inProcess) {
        StringBuilder out = new StringBuilder();
        out.append("{\n  \"gotEntries\": ").append(layout.gotEntries())
                .append(",\n  \"stubs\": ").append(layout.stubs())
                .append(",\n  \"relocations\": ").append(layout.relocations())
                .append(",\n  \"executableStack\": ").append(layout.executableStack() == null ? "null" : quote(layout.executableStack()));
        SetLayout.ThreadLocalBlock tls = layout.threadLocal();
        if (tls != null) {
            out.append(",\n  \"threadLocal\": {\"static\": ").append(tls.staticTls())
                    .append(", \"size\": ").append(tls.size())
                    .append(", \"templateSize\": ").append(tls.templateSize())
                    .append(", \"alignment\": ").append(tls.alignment())
                    .append(", \"threadPointerOffset\": ").append(tls.threadPointerOffset());
            if (tls.staticTls() && inProcess) {
                out.append(", \"staticReserveLeft\": ").append(JitLinker.staticTlsReserveLeft());
            }
            out.append('}');
        }
        out.append(",\n  \"groups\": [");
        String sep = "\n";
        for (SetLayout.Group g : layout.groups()) {
            out.append(sep).append("    {\"name\": ").append(quote(g.name()))
                    .append(", \"address\": ").append(g.address())
                    .append(", \"size\": ").append(g.size())
                    .append(", \"permissions\": ").append(quote(g.permissions())).append('}');
            sep = ",\n";
        }
        out.append("\n  ],\n  \"sections\": [");
        sep = "\n";
        for (SetLayout.Section s : layout.sections()) {
            out.append(sep).append("    {\"object\": ").append(quote(s.object()))
                    .append(", \"name\": ").append(quote(s.name()))
                    .append(", \"group\": ").append(quote(s.group()))
                    .append(", \"address\": ").append(s.address())
                    .append(", \"size\": ").append(s.size())
                    .append(", \"alignment\": ").append(s.alignment()).append('}');
            sep = ",\n";
        }
        out.append("\n  ],\n  \"members\": [");
        sep = "\n";
        for (SetLayout.Member m : layout.members()) {
            out.append(sep).append("    {\"archive\": ").append(quote(m.archive()))
                    .append(", \"member\": ").append(quote(m.member()))
                    .append(", \"symbol\": ").append(quote(m.symbol())).append('}');
            sep = ",\n";
        }
        out.append("\n  ],\n  \"windows\": [");
        sep = "\n";
        for (WindowUsage w : windows) {
            out.append(sep).append("    {\"base\": ").append(w.base())
                    .append(", \"reserved\": ").append(w.reserved())
                    .append(", \"committed\": ").append(w.committed())
                    .append(", \"used\": ").append(w.used())
                    .append(", \"padding\": ").append(w.padding())
                    .append(", \"sets\": ").append(w.slabs())
                    .append(", \"mappings\": ").append(w.mappings())
                    .append(", \"dualMapped\": ").append(w.dualMapped()).append('}');
            sep = ",\n";
        }
        out.append("\n  ]\n}\n");
        return out.toString();
    }

    static String quote(String text) {
        StringBuilder out = new StringBuilder("\"");
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }
}
