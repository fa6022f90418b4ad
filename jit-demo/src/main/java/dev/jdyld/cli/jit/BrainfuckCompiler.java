package dev.jdyld.cli.jit;

import java.io.ByteArrayOutputStream;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Compiles Brainfuck straight to x86-64 machine code, in Java, into an {@link ObjectWriter}: a
 * function {@code void NAME(unsigned char *tape)}. The tape pointer lives in {@code rbx}; runs of
 * {@code + - > <} become one instruction; {@code .} calls {@code emit(c)} (R_X86_64_PLT32, so a
 * redefined {@code emit} is reached), {@code ,} calls {@code getchar} through the GOT
 * (R_X86_64_GOTPCRELX), and at the end the function passes a string from {@code .rodata}
 * (R_X86_64_PC32) to {@code java_done}, a Java upcall (R_X86_64_PLT32).
 */
public final class BrainfuckCompiler {
    private BrainfuckCompiler() {}

    /** Appends {@code name} compiled from {@code program} to {@code object}; returns its code size. */
    public static int compile(String program, String name, ObjectWriter object) {
        Code code = new Code();
        code.bytes(0x53, 0x48, 0x89, 0xfb);                       // push %rbx; mov %rdi,%rbx
        Deque<Integer> loops = new ArrayDeque<>();
        for (int i = 0; i < program.length(); i++) {
            char op = program.charAt(i);
            int run = 1;
            if ("+-<>".indexOf(op) >= 0) {
                while (i + 1 < program.length() && program.charAt(i + 1) == op) {
                    run++;
                    i++;
                }
            }
            switch (op) {
                case '+' -> code.bytes(0x80, 0x03, run & 0xff);            // addb $n,(%rbx)
                case '-' -> code.bytes(0x80, 0x2b, run & 0xff);            // subb $n,(%rbx)
                case '>' -> code.bytes(0x48, 0x81, 0xc3).int32(run);       // add $n,%rbx
                case '<' -> code.bytes(0x48, 0x81, 0xeb).int32(run);       // sub $n,%rbx
                case '.' -> {
                    code.bytes(0x0f, 0xb6, 0x3b, 0xe8);                     // movzbl (%rbx),%edi; call emit
                    code.call(object, "emit", ObjectWriter.R_X86_64_PLT32);
                }
                case ',' -> {
                    code.bytes(0xff, 0x15);                                 // call *getchar@GOTPCREL(%rip)
                    code.call(object, "getchar", ObjectWriter.R_X86_64_GOTPCRELX);
                    code.bytes(0x88, 0x03);                                 // mov %al,(%rbx)
                }
                case '[' -> {
                    code.bytes(0x80, 0x3b, 0x00, 0x0f, 0x84).int32(0);      // cmpb $0,(%rbx); je <after ]>
                    loops.push(code.size());
                }
                case ']' -> {
                    if (loops.isEmpty()) {
                        throw new IllegalArgumentException("unmatched ] at " + i);
                    }
                    int afterOpen = loops.pop();
                    code.bytes(0x80, 0x3b, 0x00, 0x0f, 0x85).int32(afterOpen - (code.size() + 4)); // jne <after [>
                    code.patch32(afterOpen - 4, code.size() - afterOpen);
                }
                default -> { } // anything else is a comment
            }
        }
        if (!loops.isEmpty()) {
            throw new IllegalArgumentException("unmatched [");
        }
        String message = name + " finished";
        object.string(name + ".done", message);
        code.bytes(0x48, 0x8d, 0x3d);                                       // lea message(%rip),%rdi
        code.relocations.add(new int[] {code.size(), -1});
        code.int32(0);
        code.bytes(0xe8);                                                   // call java_done
        code.call(object, "java_done", ObjectWriter.R_X86_64_PLT32);
        code.bytes(0x5b, 0xc3);                                             // pop %rbx; ret
        int base = object.function(name, code.toBytes());
        for (int[] r : code.relocations) {
            if (r[1] == -1) {
                object.referenceString(base + r[0], name + ".done");
            }
        }
        for (Code.Call call : code.calls) {
            object.relocate(base + call.offset(), call.type(), call.symbol(), -4);
        }
        return code.size();
    }

    /** The same program run by a plain Java interpreter, for comparison; output goes to {@code out}. */
    public static void interpret(String program, byte[] tape, java.util.function.IntConsumer out) {
        int[] match = new int[program.length()];
        Deque<Integer> open = new ArrayDeque<>();
        for (int i = 0; i < program.length(); i++) {
            if (program.charAt(i) == '[') {
                open.push(i);
            } else if (program.charAt(i) == ']') {
                int start = open.pop();
                match[start] = i;
                match[i] = start;
            }
        }
        int cell = 0;
        for (int pc = 0; pc < program.length(); pc++) {
            switch (program.charAt(pc)) {
                case '+' -> tape[cell]++;
                case '-' -> tape[cell]--;
                case '>' -> cell++;
                case '<' -> cell--;
                case '.' -> out.accept(tape[cell] & 0xff);
                case '[' -> {
                    if (tape[cell] == 0) {
                        pc = match[pc];
                    }
                }
                case ']' -> {
                    if (tape[cell] != 0) {
                        pc = match[pc];
                    }
                }
                default -> { }
            }
        }
    }

    /** {@code int emit(int c)}: a tail call of {@code putchar}, upper-casing letters when asked. */
    public static void emit(ObjectWriter object, boolean upperCase) {
        Code code = new Code();
        if (upperCase) {
            code.bytes(0x8d, 0x47, 0x9f, 0x83, 0xf8, 0x19, 0x77, 0x03, 0x83, 0xef, 0x20); // c-'a' <= 25 ? c-32 : c
        }
        code.bytes(0xe9);                                                   // jmp putchar
        code.call(object, "putchar", ObjectWriter.R_X86_64_PLT32);
        int base = object.function("emit", code.toBytes());
        for (Code.Call call : code.calls) {
            object.relocate(base + call.offset(), call.type(), call.symbol(), -4);
        }
    }

    /** Machine code being written, with the places that need relocations. */
    private static final class Code {
        record Call(int offset, int type, String symbol) {}

        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final java.util.List<Call> calls = new java.util.ArrayList<>();
        private final java.util.List<int[]> relocations = new java.util.ArrayList<>();

        Code bytes(int... values) {
            for (int value : values) {
                bytes.write(value);
            }
            return this;
        }

        Code int32(int value) {
            return bytes(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24);
        }

        void call(ObjectWriter object, String symbol, int type) {
            calls.add(new Call(size(), type, symbol));
            int32(0);
        }

        void patch32(int offset, int value) {
            byte[] current = toBytes();
            for (int i = 0; i < 4; i++) {
                current[offset + i] = (byte) (value >>> (8 * i));
            }
            bytes.reset();
            bytes.writeBytes(current);
        }

        int size() {
            return bytes.size();
        }

        byte[] toBytes() {
            return bytes.toByteArray();
        }
    }
}
