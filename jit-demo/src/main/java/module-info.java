/** The jdyld command line: run, layout, demo, repl. Uses only the linker's public API. */
module dev.jdyld.cli {
    requires dev.jdyld.linker;
    requires info.picocli;
    requires org.jline;

    opens dev.jdyld.cli to info.picocli;
}
