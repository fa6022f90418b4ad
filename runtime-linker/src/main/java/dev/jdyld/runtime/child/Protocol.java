package dev.jdyld.runtime.child;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The executor's protocol, version 1: the Java half of {@code runtime-linker/src/main/c/executor/protocol.h},
 * which documents every message. A message is a 16-byte header (magic, version, opcode, id,
 * length) and its payload, in the machine's byte order.
 */
final class Protocol {
    private Protocol() {}

    static final int MAGIC = 0x3158444a;
    static final short VERSION = 1;
    static final int HEADER_SIZE = 16;
    static final int MAX_PAYLOAD = 16 << 20;
    static final int REPLY = 0x8000;
    static final int ERROR = 0x7fff;

    static final int HELLO = 1;
    static final int MAP_WINDOW = 2;
    static final int PROTECT = 3;
    static final int UNMAP = 4;
    static final int LOOKUP = 5;
    static final int DLOPEN = 6;
    static final int CALL = 7;
    static final int RUN_MAIN = 8;
    static final int TLS_CREATE = 9;
    static final int TLS_DELETE = 10;
    static final int FINALIZE = 11;
    static final int REGISTER_FRAMES = 12;
    static final int DEREGISTER_FRAMES = 13;
    static final int EXECUTABLE_STACK = 14;
    static final int SHUTDOWN = 15;
    static final int CRASH = 16;
    static final int STATIC_TLS_LOAD = 17;
    static final int STATIC_TLS_CLOSE = 18;
    static final int UPCALL_THUNK = 19;
    static final int UPCALL = 20;
    static final int MAPS = 21;

    static final int RETURN_INTEGER = 0;
    static final int RETURN_DOUBLE = 1;
    static final int RETURN_FLOAT = 2;

    static String name(int opcode) {
        return switch (opcode & ~REPLY) {
            case HELLO -> "HELLO";
            case MAP_WINDOW -> "MAP_WINDOW";
            case PROTECT -> "PROTECT";
            case UNMAP -> "UNMAP";
            case LOOKUP -> "LOOKUP";
            case DLOPEN -> "DLOPEN";
            case CALL -> "CALL";
            case RUN_MAIN -> "RUN_MAIN";
            case TLS_CREATE -> "TLS_CREATE";
            case TLS_DELETE -> "TLS_DELETE";
            case FINALIZE -> "FINALIZE";
            case REGISTER_FRAMES -> "REGISTER_FRAMES";
            case DEREGISTER_FRAMES -> "DEREGISTER_FRAMES";
            case EXECUTABLE_STACK -> "EXECUTABLE_STACK";
            case SHUTDOWN -> "SHUTDOWN";
            case CRASH -> "CRASH";
            case ERROR -> "ERROR";
            case STATIC_TLS_LOAD -> "STATIC_TLS_LOAD";
            case STATIC_TLS_CLOSE -> "STATIC_TLS_CLOSE";
            case UPCALL_THUNK -> "UPCALL_THUNK";
            case UPCALL -> "UPCALL";
            case MAPS -> "MAPS";
            default -> "opcode " + opcode;
        };
    }

    /** A payload being written: fields appended in order, the buffer grown as needed. */
    static final class Writer {
        private ByteBuffer buffer = ByteBuffer.allocate(64).order(ByteOrder.nativeOrder());

        Writer u32(int value) {
            ensure(4).putInt(value);
            return this;
        }

        Writer u64(long value) {
            ensure(8).putLong(value);
            return this;
        }

        Writer string(String value) {
            byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
            ensure(4 + bytes.length).putInt(bytes.length).put(bytes);
            return this;
        }

        byte[] bytes() {
            byte[] out = new byte[buffer.position()];
            buffer.flip().get(out);
            return out;
        }

        private ByteBuffer ensure(int more) {
            if (buffer.remaining() < more) {
                ByteBuffer bigger = ByteBuffer.allocate(Math.max(buffer.capacity() * 2, buffer.position() + more))
                        .order(ByteOrder.nativeOrder());
                buffer.flip();
                bigger.put(buffer);
                buffer = bigger;
            }
            return buffer;
        }
    }

    /** A payload being read; a field past its end is a protocol error, not an index exception. */
    static final class Reader {
        private final ByteBuffer buffer;
        private final String message;

        Reader(byte[] payload, String message) {
            this.buffer = ByteBuffer.wrap(payload).order(ByteOrder.nativeOrder());
            this.message = message;
        }

        int u32() {
            need(4);
            return buffer.getInt();
        }

        long u64() {
            need(8);
            return buffer.getLong();
        }

        String string() {
            int length = u32();
            if (length < 0 || length > buffer.remaining()) {
                throw new IllegalStateException(message + ": a string of " + length + " bytes runs past the payload");
            }
            byte[] bytes = new byte[length];
            buffer.get(bytes);
            return new String(bytes, StandardCharsets.UTF_8);
        }

        private void need(int bytes) {
            if (buffer.remaining() < bytes) {
                throw new IllegalStateException(message + ": payload of " + buffer.limit() + " bytes is too short");
            }
        }
    }
}
