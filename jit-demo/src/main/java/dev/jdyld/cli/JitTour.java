package dev.jdyld.cli;

import dev.jdyld.cli.jit.BrainfuckCompiler;
import dev.jdyld.cli.jit.ObjectWriter;
import dev.jdyld.jit.JitLinker;
import dev.jdyld.jit.LoadedSet;
import dev.jdyld.core.ObjectFile;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The demo's second half: a JIT. Brainfuck is compiled in Java to x86-64 code in an ELF object
 * built in memory, loaded from its bytes, called through a MethodHandle, timed against a Java
 * interpreter of the same program, and its output routine redefined under it.
 */
final class JitTour {
    static final String HELLO = "++++++++[>++++[>++>+++>+++>+<<<<-]>+>+>->>+[<]<-]>>.>---.+++++++..+++.>>.<-.<.+++.------.--------.>>+.>++.";
    /** 255 x 255 x 255 iterations of the inner loop, no output. */
    static final String BUSY = "-[>-[>-[>+<-]<-]<-]";

    private final PrintStream out;
    private int doneCalls;

    JitTour(PrintStream out) {
        this.out = out;
    }

    @SuppressWarnings("unused") // called by the generated code through an upcall stub
    private int javaDone(MemorySegment message) {
        doneCalls++;
        return 0;
    }

    void run() throws Exception {
        try {
            tour();
        } catch (Exception | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private void tour() throws Throwable {
        try (JitLinker linker = JitLinker.create(); Arena arena = Arena.ofConfined()) {
            MethodHandle done = MethodHandles.lookup().findVirtual(JitTour.class, "javaDone",
                    MethodType.methodType(int.class, MemorySegment.class)).bindTo(this);
            linker.defineFunction("java_done", done, FunctionDescriptor.of(JAVA_INT, ADDRESS));

            ObjectWriter output = new ObjectWriter();
            BrainfuckCompiler.emit(output, false);
            linker.loadObjects(List.of(new ObjectFile("emit.o", output.toBytes())));
            ObjectWriter program = new ObjectWriter();
            int helloSize = BrainfuckCompiler.compile(HELLO, "hello", program);
            int busySize = BrainfuckCompiler.compile(BUSY, "busy", program);
            BrainfuckCompiler.compile(",.", "echo", program); // not run here: it reads stdin
            byte[] bytes = program.toBytes();
            LoadedSet set = linker.loadObjects(List.of(new ObjectFile("brainfuck.o", bytes)));
            out.printf("Compiled Brainfuck programs in Java to x86-64: hello (%d bytes of code), busy (%d bytes), echo,"
                    + " in a %d-byte ELF object; loaded it from memory with %d relocations (PLT32 to emit and to the"
                    + " Java upcall java_done, GOTPCRELX to getchar, PC32 to .rodata).%n%n", helloSize, busySize,
                    bytes.length, set.layout().relocations());
            ByteArrayOutputStream listing = new ByteArrayOutputStream();
            DisasmCommand.print(set, "hello", new PrintStream(listing, true, StandardCharsets.UTF_8));
            List<String> lines = listing.toString(StandardCharsets.UTF_8).lines().toList();
            out.println("$ jdyld disasm (the first lines of hello)");
            lines.stream().limit(14).forEach(out::println);
            out.println("  ... " + (lines.size() - 14) + " more lines");

            MemorySegment tape = arena.allocate(30_000);
            MethodHandle hello = set.function("hello", FunctionDescriptor.ofVoid(ADDRESS));
            out.print("\nhello(tape) prints: ");
            out.flush();
            hello.invokeExact(tape);
            CStdio.flushAll();

            MethodHandle busy = set.function("busy", FunctionDescriptor.ofVoid(ADDRESS));
            tape.fill((byte) 0);
            long start = System.nanoTime();
            busy.invokeExact(tape);
            long jit = System.nanoTime() - start;
            byte[] javaTape = new byte[30_000];
            start = System.nanoTime();
            BrainfuckCompiler.interpret(BUSY, javaTape, c -> { });
            long interpreted = System.nanoTime() - start;
            boolean same = java.util.Arrays.equals(javaTape, 0, 16, tape.asSlice(0, 16).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), 0, 16);
            out.printf("%nbusy: 16.6 million loop iterations: compiled %.1f ms, Java interpreter %.1f ms (%.0fx), same tape: %s%n",
                    jit / 1e6, interpreted / 1e6, (double) interpreted / jit, same ? "yes" : "NO");

            ObjectWriter upper = new ObjectWriter();
            BrainfuckCompiler.emit(upper, true);
            linker.redefine(List.of(new ObjectFile("emit-upper.o", upper.toBytes())));
            out.print("\nemit redefined (upper case); the same compiled hello now prints: ");
            out.flush();
            tape.fill((byte) 0);
            hello.invokeExact(tape);
            CStdio.flushAll();
            out.printf("%njava_done was called back %d times by the generated code.%n", doneCalls);
        }
    }
}
