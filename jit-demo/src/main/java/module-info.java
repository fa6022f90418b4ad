/** The jdyld command line: run, layout, disasm, demo, repl. Uses only the linker's public API. */
module dev.jdyld.cli {
    requires dev.jdyld.linker;
    requires org.jline;
}
