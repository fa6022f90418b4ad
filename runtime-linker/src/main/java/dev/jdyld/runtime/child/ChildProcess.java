package dev.jdyld.runtime.child;

import dev.jdyld.core.ExecutorCrashedException;
import dev.jdyld.core.ExecutorException;
import dev.jdyld.runtime.ffi.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongFunction;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * One running {@code jdyld-executor}: started with {@code posix_spawn}, its end of a socket pair as
 * descriptor 3 and the JVM's standard streams as its own, nothing listening anywhere. Requests go
 * one at a time ({@code synchronized}); the answer to each is its reply, an error, or the
 * executor's death: a crash report its signal handler sent, then end of file. A dead executor is
 * reaped at once and every later request throws the same {@link ExecutorException}.
 */
public final class ChildProcess implements AutoCloseable {
    private static final int CHILD_SOCKET = 3;
    private static final long HELLO_TIMEOUT_MILLIS = 10_000;

    private final int pid;
    private final int socket;
    private final Arena buffers = Arena.ofShared();
    /** Reused for every read; replaced by a bigger one when a message needs it. */
    private MemorySegment buffer = buffers.allocate(4096, 8);
    private final long pageSize;
    private final long anchor;
    private final Map<String, Long> bootstrap;
    private int nextId = 1;
    /** Why the executor is gone; null while it runs. */
    private ExecutorException death;
    private int exitStatus = -1;
    private volatile LongFunction<String> symbolizer = address -> null;
    /** Answers the executor's calls into the JVM: payload of JDX_UPCALL to its reply's. */
    private volatile java.util.function.UnaryOperator<byte[]> upcalls = payload -> new byte[16];

    private ChildProcess(int pid, int socket) {
        this.pid = pid;
        this.socket = socket;
        Message hello;
        try {
            hello = receive(HELLO_TIMEOUT_MILLIS);
        } catch (ExecutorException e) {
            close();
            throw e;
        }
        if (hello.opcode != Protocol.HELLO) {
            close();
            throw new ExecutorException("jdyld-executor (pid " + pid + ") did not start: it sent "
                    + Protocol.name(hello.opcode) + " before HELLO");
        }
        Protocol.Reader reader = new Protocol.Reader(hello.payload, "HELLO");
        reader.u32();
        pageSize = reader.u64();
        anchor = reader.u64();
        int count = reader.u32();
        Map<String, Long> symbols = new HashMap<>();
        for (int i = 0; i < count; i++) {
            String name = reader.string();
            symbols.put(name, reader.u64());
        }
        bootstrap = Map.copyOf(symbols);
    }

    /**
     * Starts an executor from {@code executable} and waits for its HELLO.
     *
     * @throws ExecutorException if it cannot be started or does not say HELLO
     */
    public static ChildProcess start(String executable) {
        return start(List.of(executable));
    }

    /**
     * Starts an executor with {@code command} (the program, or an emulator and its arguments in
     * front of it), its socket's number appended, and waits for its HELLO.
     *
     * @throws ExecutorException if it cannot be started or does not say HELLO
     */
    public static ChildProcess start(List<String> command) {
        int[] spawned;
        try {
            spawned = Spawner.THREAD.submit(() -> spawn(command)).get();
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof ExecutorException cause ? cause
                    : new ExecutorException("cannot start the executor: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ExecutorException("interrupted while starting the executor", e);
        }
        return new ChildProcess(spawned[0], spawned[1]);
    }

    /**
     * The executor's parent-death signal fires when the thread that started it ends, not the JVM:
     * every executor is started from this one daemon thread, which lives as long as the JVM.
     */
    private static final class Spawner {
        static final java.util.concurrent.ExecutorService THREAD = java.util.concurrent.Executors.newSingleThreadExecutor(
                task -> Thread.ofPlatform().daemon().name("jdyld-executor-spawner").unstarted(task));
    }

    /** posix_spawn with the socket pair's other end as descriptor 3: {pid, our end}. */
    private static int[] spawn(List<String> command) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pair = arena.allocate(JAVA_INT, 2);
            int rc = Native.socketPair(pair.address());
            if (rc < 0) {
                throw new ExecutorException("cannot create the executor's socket pair: errno " + -rc);
            }
            int ours = pair.getAtIndex(JAVA_INT, 0);
            int theirs = pair.getAtIndex(JAVA_INT, 1);
            MemorySegment actions = arena.allocate(Native.POSIX_SPAWN_FILE_ACTIONS_SIZE, 16);
            int spawned;
            MemorySegment pidOut = arena.allocate(JAVA_INT);
            try {
                rc = Native.fileActionsDup2(actions.address(), theirs, CHILD_SOCKET);
                if (rc != 0) {
                    throw new ExecutorException("posix_spawn_file_actions_adddup2 failed: errno " + rc);
                }
                MemorySegment path = Native.nulTerminated(arena, command.getFirst());
                MemorySegment argv = arena.allocate(JAVA_LONG, command.size() + 2L);
                for (int i = 0; i < command.size(); i++) {
                    argv.setAtIndex(JAVA_LONG, i, Native.nulTerminated(arena, command.get(i)).address());
                }
                argv.setAtIndex(JAVA_LONG, command.size(), Native.nulTerminated(arena, Integer.toString(CHILD_SOCKET)).address());
                argv.setAtIndex(JAVA_LONG, command.size() + 1, 0L);
                spawned = Native.posixSpawn(pidOut.address(), path.address(), actions.address(), argv.address(),
                        ExecutorBinary.environment(arena).address());
                Native.fileActionsDestroy(actions.address());
            } finally {
                Native.closeFile(theirs);
            }
            if (spawned != 0) {
                Native.closeFile(ours);
                throw new ExecutorException("cannot start the executor " + String.join(" ", command) + ": error " + spawned);
            }
            return new int[] {pidOut.get(JAVA_INT, 0), ours};
        }
    }

    /** The executor's process id. */
    public int pid() {
        return pid;
    }

    /** Its page size, as its kernel told it. */
    public long pageSize() {
        return pageSize;
    }

    /** An address of its C library's code: windows go near it. */
    public long anchor() {
        return anchor;
    }

    /** Address of one of the executor's own functions HELLO named (its runtime support), or 0. */
    public long bootstrapSymbol(String name) {
        return bootstrap.getOrDefault(name, 0L);
    }

    /** Names the code behind an address in a crash report ({@code fib+0x12 in set prog.o}), or null. */
    public void symbolizer(LongFunction<String> symbolizer) {
        this.symbolizer = symbolizer;
    }

    /** Answers calls from loaded code into the JVM (they arrive while a request of this thread waits). */
    public void upcalls(java.util.function.UnaryOperator<byte[]> handler) {
        this.upcalls = handler;
    }

    /** Whether the executor still runs. */
    public synchronized boolean isAlive() {
        return death == null;
    }

    /**
     * Sends a request and waits for its reply.
     *
     * @param timeoutMillis how long to wait before killing the executor; 0 waits for ever
     * @return the reply's payload
     * @throws ExecutorCrashedException if the executor dies meanwhile of a signal
     * @throws ExecutorException        if it refuses the request, exits, or is gone already
     */
    public synchronized byte[] request(int opcode, byte[] payload, long timeoutMillis) {
        return requestWithDescriptor(opcode, payload, -1, timeoutMillis);
    }

    /** As {@link #request}, with {@code descriptor} passed along ({@code SCM_RIGHTS}) when it is not -1. */
    public synchronized byte[] requestWithDescriptor(int opcode, byte[] payload, int descriptor, long timeoutMillis) {
        if (death != null) {
            throw death;
        }
        int id = nextId++;
        send(opcode, id, payload, descriptor);
        Message reply = receive(timeoutMillis);
        if (reply.opcode == Protocol.ERROR) {
            throw new ExecutorException("the executor refused " + Protocol.name(opcode) + ": "
                    + new String(reply.payload, java.nio.charset.StandardCharsets.UTF_8));
        }
        if (reply.opcode != (Protocol.REPLY | opcode) || reply.id != id) {
            throw died(new ExecutorException("protocol error: " + Protocol.name(opcode) + " #" + id + " answered by "
                    + Protocol.name(reply.opcode) + " #" + reply.id), true);
        }
        return reply.payload;
    }

    /**
     * The status the executor exited with when loaded code called {@code exit}; -1 while it runs
     * or when it died of a signal.
     */
    public synchronized int exitStatus() {
        return exitStatus;
    }

    private record Message(int opcode, int id, byte[] payload) {}

    private void send(int opcode, int id, byte[] payload, int descriptor) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment message = arena.allocate(Protocol.HEADER_SIZE + (long) payload.length, 8);
            message.set(JAVA_INT, 0, Protocol.MAGIC);
            message.set(JAVA_SHORT, 4, Protocol.VERSION);
            message.set(JAVA_SHORT, 6, (short) opcode);
            message.set(JAVA_INT, 8, id);
            message.set(JAVA_INT, 12, payload.length);
            MemorySegment.copy(payload, 0, message, JAVA_BYTE, Protocol.HEADER_SIZE, payload.length);
            long sent = 0;
            if (descriptor >= 0) {
                sent = sendWithDescriptor(arena, message, descriptor);
            }
            while (sent < message.byteSize()) {
                long n = Native.send(socket, message.address() + sent, message.byteSize() - sent);
                if (n < 0 && n != -4) {
                    // The executor is gone (EPIPE, ECONNRESET): what it said last tells why.
                    throw deathFromEndOfFile(0);
                }
                sent += Math.max(n, 0);
            }
        }
    }

    /** One {@code sendmsg} with the descriptor in {@code SCM_RIGHTS}; the bytes it sent. */
    private long sendWithDescriptor(Arena arena, MemorySegment message, int descriptor) {
        MemorySegment iov = arena.allocate(16, 8);
        iov.set(JAVA_LONG, 0, message.address());
        iov.set(JAVA_LONG, 8, message.byteSize());
        MemorySegment control = arena.allocate(24, 8); // CMSG_SPACE(sizeof(int))
        control.set(JAVA_LONG, 0, 20); // CMSG_LEN(sizeof(int))
        control.set(JAVA_INT, 8, Native.SOL_SOCKET);
        control.set(JAVA_INT, 12, Native.SCM_RIGHTS);
        control.set(JAVA_INT, 16, descriptor);
        MemorySegment header = arena.allocate(56, 8); // struct msghdr
        header.set(JAVA_LONG, 16, iov.address());
        header.set(JAVA_LONG, 24, 1);
        header.set(JAVA_LONG, 32, control.address());
        header.set(JAVA_LONG, 40, control.byteSize());
        long n = Native.sendmsg(socket, header.address());
        if (n < 0) {
            throw deathFromEndOfFile(0);
        }
        return n;
    }

    private Message receive(long timeoutMillis) {
        while (true) {
            MemorySegment header = readFully(Protocol.HEADER_SIZE, timeoutMillis);
            int magic = header.get(JAVA_INT, 0);
            short version = header.get(JAVA_SHORT, 4);
            int opcode = Short.toUnsignedInt(header.get(JAVA_SHORT, 6));
            int id = header.get(JAVA_INT, 8);
            int length = header.get(JAVA_INT, 12);
            if (magic != Protocol.MAGIC || version != Protocol.VERSION || length < 0 || length > Protocol.MAX_PAYLOAD) {
                throw died(new ExecutorException("protocol error: the executor sent a header with magic 0x"
                        + Integer.toHexString(magic) + ", version " + version + ", length " + length), true);
            }
            byte[] payload = readFully(length, timeoutMillis).toArray(JAVA_BYTE);
            if (opcode == Protocol.CRASH) {
                throw deathFromEndOfFile(0, CrashReport.read(payload, symbolizer));
            }
            if (opcode == Protocol.UPCALL) {
                // Loaded code calls into the JVM while the request waits; its handler may make requests
                // of its own (nested: the executor serves them before it expects this reply).
                send(Protocol.REPLY | Protocol.UPCALL, id, upcalls.apply(payload), -1);
                continue;
            }
            return new Message(opcode, id, payload);
        }
    }

    /** {@code length} bytes from the socket, or the executor's death when it ends first. */
    private MemorySegment readFully(int length, long timeoutMillis) {
        if (buffer.byteSize() < length) {
            buffer = buffers.allocate(length, 8);
        }
        long deadline = timeoutMillis == 0 ? Long.MAX_VALUE : System.nanoTime() + timeoutMillis * 1_000_000;
        long done = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment poll = arena.allocate(8, 4);
            while (done < length) {
                if (timeoutMillis != 0) {
                    long left = (deadline - System.nanoTime()) / 1_000_000;
                    poll.set(JAVA_INT, 0, socket);
                    poll.set(JAVA_SHORT, 4, Native.POLLIN);
                    if (left <= 0 || Native.poll(poll.address(), 1, (int) Math.min(left, Integer.MAX_VALUE)) == 0) {
                        Native.kill(pid, Native.SIGKILL);
                        throw deathFromEndOfFile(timeoutMillis);
                    }
                }
                long n = Native.read(socket, buffer.address() + done, length - done);
                if (n == 0 || (n < 0 && n != -4)) {
                    throw deathFromEndOfFile(0);
                }
                done += Math.max(n, 0);
            }
        }
        return buffer.asSlice(0, length); // the buffer is reused, and may be longer
    }

    private ExecutorException deathFromEndOfFile(long timedOutAfter) {
        return deathFromEndOfFile(timedOutAfter, null);
    }

    /**
     * The executor ended, or is ending (after a crash report): reap it and say how it ended,
     * with the report's details when there is one.
     */
    private ExecutorException deathFromEndOfFile(long timedOutAfter, CrashReport report) {
        if (death != null) {
            return death;
        }
        int status = reap();
        ExecutorException why;
        if (WaitStatus.exited(status)) {
            exitStatus = WaitStatus.exitCode(status);
            why = new ExecutorException("the executor (pid " + pid + ") exited with status " + exitStatus
                    + (report == null ? "" : " after " + report.describe()));
        } else {
            int signal = WaitStatus.signaled(status) ? WaitStatus.terminatingSignal(status) : 0;
            String what = report != null ? report.describe()
                    : timedOutAfter > 0 ? "killed after the call's timeout of " + timedOutAfter + " ms"
                    : Signals.describe(signal) + " (no report: killed from outside)";
            why = new ExecutorCrashedException(what + "; the executor (pid " + pid + ") is gone",
                    report != null ? report.signal() : signal, report != null ? report.faultAddress() : 0,
                    report != null ? report.frames() : List.of());
        }
        return died(why, false);
    }

    private ExecutorException died(ExecutorException why, boolean kill) {
        if (death == null) {
            if (kill) {
                Native.kill(pid, Native.SIGKILL);
                reap();
            }
            death = why;
            Native.closeFile(socket);
            buffers.close();
        }
        return death;
    }

    private boolean reaped;
    private int reapedStatus;

    /** Waits for the executor to end, killing it if it has not after a grace period; its wait status. */
    private int reap() {
        if (reaped) {
            return reapedStatus;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment status = arena.allocate(JAVA_INT);
            for (int waited = 0; ; waited++) {
                int rc = Native.waitpid(pid, status.address(), waited < 200 ? Native.WNOHANG : 0);
                if (rc == pid) {
                    break;
                }
                if (rc < 0 && rc != -4) {
                    status.set(JAVA_INT, 0, 0);
                    break; // not our child any more (reaped elsewhere): nothing left to wait for
                }
                if (waited == 199) {
                    Native.kill(pid, Native.SIGKILL); // 2 s after its end of file, still there
                }
                if (waited < 199) {
                    Thread.onSpinWait();
                    try {
                        Thread.sleep(10);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        Native.kill(pid, Native.SIGKILL);
                    }
                }
            }
            reaped = true;
            reapedStatus = status.get(JAVA_INT, 0);
            return reapedStatus;
        }
    }

    /**
     * Asks the executor to exit (its exit handlers run) and reaps it; kills it if it does not go.
     * Idempotent.
     */
    @Override
    public synchronized void close() {
        if (death != null) {
            return;
        }
        try {
            request(Protocol.SHUTDOWN, new byte[0], 5_000);
            deathFromEndOfFile(0);
        } catch (ExecutorException e) {
            // It was gone already, or went while shutting down: reaped either way.
        }
        died(new ExecutorException("the executor (pid " + pid + ") was shut down"), true);
    }

    /** Kills the executor (SIGKILL) and reaps it: for a linker closed while a call still runs. */
    public void kill() {
        Native.kill(pid, Native.SIGKILL);
    }
}
