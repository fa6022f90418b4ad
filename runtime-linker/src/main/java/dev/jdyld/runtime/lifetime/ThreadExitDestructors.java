package dev.jdyld.runtime.lifetime;

import dev.jdyld.core.LinkException;
import dev.jdyld.link.arch.Architecture;
import dev.jdyld.runtime.ffi.LoadedCode;
import dev.jdyld.runtime.ffi.Native;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Thread-local destructors that loaded code registers ({@code __cxa_thread_atexit},
 * {@code __cxa_thread_atexit_impl}) hold the set they belong to, as glibc ties them to a DSO and
 * defers its {@code dlclose}: a set with destructors pending on live threads keeps its memory
 * until those threads have run them.
 *
 * <p>Loaded code's references to both names resolve to {@link #registrationAddress}, which leads
 * to an upcall that finds the set by the {@code dso_symbol} argument (its {@code __dso_handle}),
 * takes a hold on its memory and registers with glibc a record of the destructor instead of the
 * destructor itself. At thread exit glibc hands the record to a second upcall, which calls the
 * destructor as a call into the set and gives the hold back; the last hold unmaps the set, on the
 * exiting thread. So the destructor's code and its object (in the set's thread-local block,
 * jdyld's own or its piece of glibc's static TLS, both given back with the memory) stay until it
 * ran. A registration for an address jdyld does not know, or for a set whose memory is already
 * released, goes to glibc unchanged.
 *
 * <p>The second upcall runs where glibc runs thread-local destructors: in {@code exit} on the
 * calling thread, and at the end of a thread, after its start routine returned. For a Java thread
 * the JVM has detached the thread by then (its {@code JavaThread} is gone, the thread is a foreign
 * one to the JVM); the FFM upcall stub attaches it again as a new daemon thread, which is safe
 * because nothing of the old {@code Thread} is used: the upcall sees a fresh {@code Thread} and a
 * fresh {@link ThreadCalls} record. The stub detaches it through a C++ {@code thread_local}
 * destructor of the JVM's own that it registers when it attaches; here that is during this upcall,
 * and glibc runs it later in the same pass over the thread's list (the pass takes the head of the
 * list anew each time). Threads that loaded code started are foreign threads to the JVM, attached
 * by their first upcall (always before they register a destructor, which is an upcall itself), so
 * the JVM's destructor runs after ours there too. Once the JVM is destroyed no thread can be
 * attached; then the native entries in front of both upcalls ({@link ThreadExitGuard}) call glibc
 * and the destructor themselves, and the set stays mapped.
 *
 * <p>A process that ends with registrations pending ({@code exit} from loaded code, or the JVM's
 * own exit) runs only the calling thread's destructors, as glibc always does; the others' records
 * and holds simply end with the process.
 */
public final class ThreadExitDestructors {
    /** Sets that may register destructors, by the address of their {@code __dso_handle}. */
    private static final Map<Long, Registered> BY_DSO_HANDLE = new ConcurrentHashMap<>();
    /** Destructors registered with glibc through a record and not run yet, by the record's id. */
    private static final Map<Long, Registered> PENDING = new ConcurrentHashMap<>();
    private static final AtomicLong IDS = new AtomicLong();

    /* struct record { void (*dtor)(void *); void *obj; long id; };  malloc'd, freed when it runs (the guard's layout too) */
    private static final long RECORD_DTOR = 0;
    private static final long RECORD_OBJ = 8;
    private static final long RECORD_ID = 16;
    private static final long RECORD_SIZE = 24;

    /** A set's memory holds, and the lifetime its destructors run under (which names the set). */
    private record Registered(MemoryHolds holds, SetLifetime lifetime) {}

    private ThreadExitDestructors() {}

    /**
     * The entries, made when a set first references the registration functions; they live as long
     * as the process. Loaded code and glibc call the guarded ones ({@link ThreadExitGuard}).
     */
    private static final class Entries {
        /* int register(void (*dtor)(void *), void *obj, void *dso_symbol); */
        static final long REGISTER_UPCALL = upcall("registerDestructor",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        /* void run(struct record *record); */
        static final long RUN_UPCALL = upcall("runDestructor", FunctionDescriptor.ofVoid(JAVA_LONG));
        /** The guarded entries, made with the first architecture asked for: the process's own. */
        static volatile ThreadExitGuard guarded;

        static synchronized ThreadExitGuard guarded(Architecture arch) {
            if (guarded == null) {
                guarded = ThreadExitGuard.around(arch, REGISTER_UPCALL, RUN_UPCALL);
            }
            return guarded;
        }

        private static long upcall(String name, FunctionDescriptor descriptor) {
            try {
                return LoadedCode.upcall(MethodHandles.lookup().findStatic(ThreadExitDestructors.class, name,
                        descriptor.toMethodType()), descriptor);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }
    }

    /**
     * What loaded code's {@code __cxa_thread_atexit} and {@code __cxa_thread_atexit_impl} resolve
     * to: {@code int (void (*dtor)(void *), void *obj, void *dso_symbol)}.
     *
     * @return the address of the registration function, valid for the life of the process
     * @throws LinkException when its code or upcalls cannot be made
     */
    public static long registrationAddress(Architecture arch) {
        try {
            return Entries.guarded(arch).register();
        } catch (ExceptionInInitializerError | NoClassDefFoundError e) {
            // Say why each time a set needs it, not once obscurely.
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new LinkException("cannot make jdyld's thread_local destructor registration: " + cause, cause);
        }
    }

    /**
     * The set whose {@code __dso_handle} is at {@code dsoHandle} is loaded: destructors its code
     * registers hold {@code holds}, and run as calls into the set of {@code lifetime} that hold no
     * count of it, as its constructors do: a refused close's message lists them, and retirements
     * wait for them.
     */
    public static void register(long dsoHandle, MemoryHolds holds, SetLifetime lifetime) {
        if (dsoHandle != 0) {
            BY_DSO_HANDLE.put(dsoHandle, new Registered(holds, lifetime));
        }
    }

    /** The set's memory is released: no destructor of it is pending any more. */
    public static void unregister(long dsoHandle) {
        if (dsoHandle != 0) {
            BY_DSO_HANDLE.remove(dsoHandle);
        }
    }

    /**
     * Destructors registered through jdyld that have not run: their threads are alive, or ended the
     * process without running them.
     *
     * @return how many there are
     */
    public static int pending() {
        return PENDING.size();
    }

    @SuppressWarnings("unused") // called by loaded code through REGISTER_UPCALL
    private static int registerDestructor(long dtor, long obj, long dsoSymbol) {
        try {
            Registered set = BY_DSO_HANDLE.get(dsoSymbol);
            if (set == null || !set.holds().hold()) {
                return Native.cxaThreadAtexitImpl(dtor, obj, dsoSymbol);
            }
            return registerHolding(set, dtor, obj, dsoSymbol);
        } catch (Throwable t) {
            // Nothing may leave an upcall (the JVM would abort); the destructor will not run.
            report("registering a thread_local destructor failed", t);
            return -1;
        }
    }

    /**
     * Registers a record of {@code dtor(obj)} with glibc, the hold on the set taken; gives the hold
     * back if it cannot. Without memory for the record, the destructor goes to glibc as it is.
     */
    @SuppressWarnings("restricted")
    private static int registerHolding(Registered set, long dtor, long obj, long dsoSymbol) {
        long record = Native.malloc(RECORD_SIZE);
        if (record == 0) {
            set.holds().release();
            return Native.cxaThreadAtexitImpl(dtor, obj, dsoSymbol);
        }
        long id = IDS.incrementAndGet();
        boolean registered = false;
        try {
            MemorySegment fields = MemorySegment.ofAddress(record).reinterpret(RECORD_SIZE);
            fields.set(JAVA_LONG, RECORD_DTOR, dtor);
            fields.set(JAVA_LONG, RECORD_OBJ, obj);
            fields.set(JAVA_LONG, RECORD_ID, id);
            PENDING.put(id, set);
            // dso_symbol: the entry itself, which lives as long as the process and in no shared
            // object, so glibc counts the registration on the main program. Not 0: glibc caches the
            // last dso_symbol per thread, starting from 0 with no object, and would use that none.
            long run = Entries.guarded.run(); // made when the set's registration resolved
            int result = Native.cxaThreadAtexitImpl(run, record, run);
            registered = result == 0;
            return result;
        } finally {
            if (!registered) {
                PENDING.remove(id);
                Native.free(record);
                set.holds().release();
            }
        }
    }

    @SuppressWarnings({"unused", "restricted"}) // called by glibc at thread exit through RUN_UPCALL
    private static void runDestructor(long record) {
        try {
            MemorySegment fields = MemorySegment.ofAddress(record).reinterpret(RECORD_SIZE);
            long dtor = fields.get(JAVA_LONG, RECORD_DTOR);
            long obj = fields.get(JAVA_LONG, RECORD_OBJ);
            Registered set = PENDING.remove(fields.get(JAVA_LONG, RECORD_ID));
            Native.free(record);
            if (set == null) {
                System.err.println("jdyld: a thread_local destructor record at 0x" + Long.toHexString(record)
                        + " names no registration; its destructor is not run");
                return;
            }
            try {
                run(set, dtor, obj);
            } finally {
                set.holds().release();
            }
        } catch (Throwable t) {
            report("running a thread_local destructor failed", t);
        }
    }

    /** Calls {@code dtor(obj)} recorded as a call into the set, as a handle's call is. */
    private static void run(Registered set, long dtor, long obj) {
        ThreadCalls calls = ThreadCalls.current();
        calls.enter(set.lifetime(), "thread_local destructor");
        Throwable unreported;
        try {
            LoadedCode.callVoid(dtor, obj);
        } finally {
            unreported = calls.exit();
        }
        if (unreported != null) {
            report("a thread_local destructor of " + set.lifetime().name() + " called a symbol that could not be made", unreported);
        }
    }

    /** One line on stderr: an upcall has no caller to throw to. */
    private static void report(String what, Throwable t) {
        System.err.println("jdyld: " + what + ": " + t);
    }
}
