/** The jdyld command line: run, layout, demo. Uses only the linker's public API. */
module dev.jdyld.cli {
    requires dev.jdyld.linker;
    requires info.picocli;

    opens dev.jdyld.cli to info.picocli;
}
