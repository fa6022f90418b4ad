package dev.jdyld.link.aarch64;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** GNU binutils for AArch64 as the tests' reference: what as and ld make of a listing. */
final class GnuAs {
    private GnuAs() {}

    /**
     * {@code lines} assembled with {@code aarch64-linux-gnu-as}, linked with {@code .text} at
     * {@code textAddress} (so that ADRP's page is resolved as written), as the raw bytes of .text.
     */
    static byte[] assembleText(Path dir, List<String> lines, long textAddress) throws IOException, InterruptedException {
        Path source = Files.write(dir.resolve("listing.s"), lines);
        Path object = dir.resolve("listing.o");
        Path linked = dir.resolve("listing.elf");
        Path raw = dir.resolve("listing.bin");
        String address = "0x" + Long.toHexString(textAddress);
        run(List.of("aarch64-linux-gnu-as", source.toString(), "-o", object.toString()));
        run(List.of("aarch64-linux-gnu-ld", "-Ttext=" + address, "-e", address, "-o", linked.toString(), object.toString()));
        run(List.of("aarch64-linux-gnu-objcopy", "-O", "binary", "-j", ".text", linked.toString(), raw.toString()));
        return Files.readAllBytes(raw);
    }

    private static void run(List<String> command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes());
        assertThat(process.waitFor()).as(command + ": " + output).isZero();
    }
}
