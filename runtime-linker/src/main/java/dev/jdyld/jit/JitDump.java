package dev.jdyld.jit;

import dev.jdyld.runtime.Demangler;
import dev.jdyld.runtime.ffi.Native;
import dev.jdyld.core.LinkException;
import dev.jdyld.link.HostArchitecture;
import dev.jdyld.core.Location;
import dev.jdyld.core.SetLayout;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A jitdump file ({@code jit-<pid>.dump}, the format of Linux's
 * {@code tools/perf/Documentation/jitdump-specification.txt}) for {@code perf inject --jit}: a
 * {@code JIT_CODE_LOAD} record with name, address and bytes per loaded function and stub, written
 * when a set is finalized. The file is mapped read-and-execute once, which is how
 * {@code perf record} learns of it (the mapping is of the file, never writable); timestamps are
 * {@code CLOCK_MONOTONIC}, so record with {@code perf record -k 1}.
 */
final class JitDump implements LinkPlugin, AutoCloseable {
    private static final int MAGIC = 0x4A695444; // "JiTD"
    private static final int VERSION = 1;
    private static final int HEADER_SIZE = 40;
    private static final int JIT_CODE_LOAD = 0;
    private static final int JIT_CODE_CLOSE = 3;

    private final Path file;
    private final FileChannel channel;
    private final long marker;
    private long codeIndex;

    /** Creates {@code jit-<pid>.dump} in {@code directory} and writes its header. */
    public JitDump(Path directory) {
        this.file = directory.resolve("jit-" + ProcessHandle.current().pid() + ".dump");
        try {
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE, StandardOpenOption.READ);
            ByteBuffer header = buffer(HEADER_SIZE);
            header.putInt(MAGIC).putInt(VERSION).putInt(HEADER_SIZE).putInt(HostArchitecture.get().machine()).putInt(0)
                    .putInt((int) ProcessHandle.current().pid()).putLong(System.nanoTime()).putLong(0);
            write(header);
        } catch (IOException e) {
            throw new LinkException(Location.file(file.toString()), "cannot create the jitdump file: " + e.getMessage(), e);
        }
        marker = Native.mapFileExecutable(file.toString());
    }

    /** The jitdump file. */
    public Path file() {
        return file;
    }

    @Override
    public synchronized void afterFinalize(LoadedSet set) {
        write(set, "");
    }

    /**
     * The set is about to be unmapped. The format has no unload record, so its ranges are loaded
     * again as {@code [unloaded] NAME}: samples there from now on are not blamed on the old code.
     */
    @Override
    public synchronized void beforeClose(LoadedSet set) {
        write(set, "[unloaded] ");
    }

    @SuppressWarnings("restricted")
    private void write(LoadedSet set, String prefix) {
        long thread = Native.gettid();
        for (SetLayout.Symbol symbol : set.layout().symbols()) {
            if (symbol.size() <= 0 || (symbol.kind() != SetLayout.Symbol.Kind.FUNCTION
                    && symbol.kind() != SetLayout.Symbol.Kind.STUB)) {
                continue;
            }
            String text = prefix + (symbol.kind() == SetLayout.Symbol.Kind.STUB ? "stub: " + symbol.name()
                    : Demangler.demangle(symbol.name()));
            byte[] name = (text + "\0").getBytes(StandardCharsets.UTF_8);
            int size = (int) (16 + 4 + 4 + 8 + 8 + 8 + 8 + name.length + symbol.size());
            ByteBuffer record = buffer(size);
            record.putInt(JIT_CODE_LOAD).putInt(size).putLong(System.nanoTime())
                    .putInt((int) ProcessHandle.current().pid()).putInt((int) thread)
                    .putLong(symbol.address()).putLong(symbol.address()).putLong(symbol.size()).putLong(codeIndex++)
                    .put(name);
            MemorySegment code = MemorySegment.ofAddress(symbol.address()).reinterpret(symbol.size());
            record.put(code.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            write(record);
        }
    }

    /** Writes the {@code JIT_CODE_CLOSE} record and closes the file. */
    @Override
    public synchronized void close() {
        ByteBuffer record = buffer(16);
        record.putInt(JIT_CODE_CLOSE).putInt(16).putLong(System.nanoTime());
        write(record);
        Native.unmapFile(marker);
        try {
            channel.close();
        } catch (IOException e) {
            throw new LinkException(Location.file(file.toString()), "cannot close the jitdump file: " + e.getMessage(), e);
        }
    }

    private static ByteBuffer buffer(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.nativeOrder());
    }

    private void write(ByteBuffer buffer) {
        buffer.flip();
        try {
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
        } catch (IOException e) {
            throw new LinkException(Location.file(file.toString()), "cannot write the jitdump file: " + e.getMessage(), e);
        }
    }
}
