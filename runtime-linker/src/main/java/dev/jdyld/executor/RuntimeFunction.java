package dev.jdyld.executor;

/** Functions of the target's runtime the engine writes into emitted code or binds names to. */
public enum RuntimeFunction {
    /** {@code __cxa_atexit}, that the emitted {@code atexit} glue tail-calls with the set's handle. */
    CXA_ATEXIT,
    /** {@code __cxa_at_quick_exit}, for the {@code at_quick_exit} glue. */
    CXA_AT_QUICK_EXIT,
    /** {@code __register_atfork}, for the {@code pthread_atfork} glue. */
    REGISTER_ATFORK,
    /** What {@code __cxa_thread_atexit(_impl)} binds to: thread_local destructors. */
    CXA_THREAD_ATEXIT,
    /** What {@code pthread_create} binds to in a set that needs an executable stack. */
    PTHREAD_CREATE,
    /** {@code pthread_getspecific}: the TLS fast path. */
    PTHREAD_GETSPECIFIC,
    /** The TLS slow path: a thread's first access to a set's block. */
    TLS_SLOW_PATH,
    /** {@code free}: the TLS key destructor. */
    FREE
}
