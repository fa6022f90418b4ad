package dev.jdyld.cli;

import dev.jdyld.jit.JitLinker;
import dev.jdyld.jit.LoadedSet;
import dev.jdyld.jit.Target;
import dev.jdyld.core.SetLayout;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code jdyld disasm}: the relocated code as it sits in memory, disassembled with Capstone, with
 * call and jump targets and RIP-relative operands named: {@code <fib>}, {@code <stub: printf>},
 * {@code <GOT: stderr>}.
 */
final class DisasmCommand extends Main.LoadingCommand {
    String symbol;

    DisasmCommand() {
        super(new Main.Option(null, "--symbol", "NAME", "Only this function."));
    }

    private static final Pattern IMMEDIATE_TARGET = Pattern.compile("^0x([0-9a-f]+)$");
    private static final Pattern RIP_RELATIVE = Pattern.compile("(-?0x[0-9a-f]+)\\(%rip\\)");
    /** AArch64 instructions whose last operand is an absolute target as Capstone prints it ({@code #0x...}). */
    private static final Pattern ARM64_DIRECT = Pattern.compile("bl?|b\\.\\w+|cbn?z|tbn?z|adr|ldr|ldrsw|prfm");
    private static final Pattern ARM64_TARGET = Pattern.compile("#0x([0-9a-f]+)$");
    /** {@code [x16, #0x18]} or {@code x0, x0, #0x18} after an adrp of x16 / x0: base register and offset. */
    private static final Pattern ARM64_PAGE_OFFSET = Pattern.compile("\\[?(x\\d+), #(0x[0-9a-f]+|\\d+)\\]?$");

    @Override
    String name() {
        return "disasm";
    }

    @Override
    String[] description() {
        return new String[] {"Loads FILEs (objects and archives) as one set without running any of it and"
                + " disassembles its code in memory, naming call targets, stubs and GOT slots."};
    }

    @Override
    void setOwn(String value) {
        symbol = value; // --symbol
    }

    @Override
    int call() {
        List<Path> files = files();
        try (JitLinker linker = linkerOptions.builder().runInitializers(false).build()) {
            LoadedSet set = LinkerOptions.load(linker, files);
            if (symbol != null && set.layout().symbols().stream().noneMatch(
                    s -> s.name().equals(symbol) && s.kind() == SetLayout.Symbol.Kind.FUNCTION)) {
                System.err.println("jdyld: " + files.get(0) + ": no function named '" + symbol + "' in the set");
                return 1;
            }
            print(set, symbol, System.out, List.of(), linkerOptions.target);
        }
        return 0;
    }

    /**
     * Disassembles every code section of {@code set} (or only function {@code only}) to {@code out},
     * as it sits in memory, read through {@link LoadedSet#memory} (a child executor's too).
     */
    static void print(LoadedSet set, String only, PrintStream out) {
        print(set, only, out, List.of(), Target.host());
    }

    /**
     * As {@link #print(LoadedSet, String, PrintStream)}, naming call targets outside the set by
     * {@code others}; the set's code is {@code target}'s.
     */
    static void print(LoadedSet set, String only, PrintStream out, java.util.Collection<SetLayout.Symbol> others,
                      Target target) {
        SetLayout layout = set.layout();
        TreeMap<Long, SetLayout.Symbol> byAddress = new TreeMap<>();
        for (SetLayout.Symbol s : others) {
            byAddress.put(s.address(), s);
        }
        // Sections name what no symbol covers (string literals: <.rodata.str1.1+0x4>); symbols win.
        for (SetLayout.Section section : layout.sections()) {
            byAddress.put(section.address(), new SetLayout.Symbol(section.name(), SetLayout.Symbol.Kind.OBJECT,
                    section.address(), section.size()));
        }
        for (SetLayout.Symbol s : layout.symbols()) {
            byAddress.put(s.address(), s);
        }
        try (Disassembler disassembler = new Disassembler(target)) {
            for (SetLayout.Section section : layout.sections()) {
                if (!section.group().equals("TEXT") || section.size() == 0) {
                    continue;
                }
                List<SetLayout.Symbol> functions = layout.symbols().stream()
                        .filter(s -> s.kind() == SetLayout.Symbol.Kind.FUNCTION && s.address() >= section.address()
                                && s.address() < section.address() + section.size())
                        .filter(s -> only == null || s.name().equals(only)).toList();
                if (only != null && functions.isEmpty()) {
                    continue;
                }
                out.printf("%nsection %s (%s) at 0x%x, %d bytes%n", section.name(), section.object(), section.address(),
                        section.size());
                if (only == null) {
                    disassemble(disassembler, set, section.address(), section.size(), byAddress, out);
                } else {
                    for (SetLayout.Symbol function : functions) {
                        disassemble(disassembler, set, function.address(), Math.max(function.size(), 1), byAddress, out);
                    }
                }
            }
        }
    }

    private static void disassemble(Disassembler disassembler, LoadedSet set, long address, long size,
                                    TreeMap<Long, SetLayout.Symbol> symbols, PrintStream out) {
        MemorySegment code = set.memory(address, size);
        Map<String, Long> pages = new java.util.HashMap<>(); // AArch64: the page each register got from ADRP
        for (Disassembler.Instruction instruction : disassembler.disassemble(code, address)) {
            SetLayout.Symbol here = symbols.get(instruction.address());
            if (here != null && here.kind() != SetLayout.Symbol.Kind.GOT && !here.name().startsWith(".")) {
                out.printf("%n%016x <%s>:%n", instruction.address(), label(here));
            }
            StringBuilder bytes = new StringBuilder();
            for (int i = 0; i < instruction.size(); i++) {
                bytes.append(String.format("%02x ", code.get(java.lang.foreign.ValueLayout.JAVA_BYTE,
                        instruction.address() - address + i)));
            }
            out.printf("  %12x:  %-24s %s%s%n", instruction.address(), bytes.toString().strip(), instruction,
                    annotation(instruction, symbols, pages));
        }
    }

    /**
     * {@code  <name+off>} for a call or jump to a known address, or a RIP-relative operand; on
     * AArch64 for a branch, {@code adr}, a literal load, and a load or add off a page an
     * {@code adrp} put in its base register ({@code pages}: a GOT slot is named so).
     */
    private static String annotation(Disassembler.Instruction instruction, TreeMap<Long, SetLayout.Symbol> symbols,
                                     Map<String, Long> pages) {
        long target;
        Matcher immediate = IMMEDIATE_TARGET.matcher(instruction.operands());
        Matcher relative = RIP_RELATIVE.matcher(instruction.operands());
        Matcher arm64Target = ARM64_TARGET.matcher(instruction.operands());
        Matcher arm64Page = ARM64_PAGE_OFFSET.matcher(instruction.operands());
        String mnemonic = instruction.mnemonic();
        if (mnemonic.equals("adrp") && arm64Target.find()) {
            pages.put(instruction.operands().substring(0, instruction.operands().indexOf(',')),
                    Long.parseUnsignedLong(arm64Target.group(1), 16));
            return "";
        } else if (ARM64_DIRECT.matcher(mnemonic).matches() && arm64Target.find()) {
            target = Long.parseUnsignedLong(arm64Target.group(1), 16);
        } else if ((mnemonic.startsWith("ldr") || mnemonic.startsWith("str") || mnemonic.equals("add")) && arm64Page.find()
                && pages.containsKey(arm64Page.group(1))) {
            String offset = arm64Page.group(2);
            target = pages.get(arm64Page.group(1)) + (offset.startsWith("0x") ? Long.parseLong(offset.substring(2), 16)
                    : Long.parseLong(offset));
        } else if ((mnemonic.startsWith("call") || mnemonic.startsWith("j")) && immediate.find()) {
            target = Long.parseUnsignedLong(immediate.group(1), 16);
        } else if (relative.find()) {
            String displacement = relative.group(1);
            long value = displacement.startsWith("-") ? -Long.parseLong(displacement.substring(3), 16)
                    : Long.parseLong(displacement.substring(2), 16);
            target = instruction.address() + instruction.size() + value;
        } else {
            return "";
        }
        Map.Entry<Long, SetLayout.Symbol> entry = symbols.floorEntry(target);
        if (entry == null) {
            return "";
        }
        SetLayout.Symbol symbol = entry.getValue();
        long offset = target - symbol.address();
        if (offset != 0 && offset >= Math.max(symbol.size(), 1)) {
            return "";
        }
        return "  <" + label(symbol) + (offset == 0 ? "" : "+0x" + Long.toHexString(offset)) + ">";
    }

    private static String label(SetLayout.Symbol symbol) {
        return switch (symbol.kind()) {
            case STUB -> "stub: " + symbol.name();
            case GOT -> "GOT: " + symbol.name();
            default -> symbol.name();
        };
    }
}
