package dev.jdyld.runtime.child;

import dev.jdyld.core.ExecutorCrashedException;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

/**
 * The executor built for AArch64 (the same C source, cross-compiled by the build where
 * {@code aarch64-linux-gnu-gcc} is installed) runs under qemu-aarch64 on this x86-64 machine and
 * speaks the same protocol: the first step toward linking AArch64 code here and running it there.
 */
class Aarch64ExecutorTest {
    @Test
    void theAarch64ExecutorStartsUnderQemuAndAnswersAndReportsACrash() {
        assumeThat(Path.of("/usr/bin/aarch64-linux-gnu-gcc")).as("the cross compiler (installed by .ci/run)").exists();
        assumeThat(ExecutorBinary.HOST).as("an x86-64 machine, where AArch64 runs under qemu").isEqualTo("amd64");
        assertThat(ExecutorBinary.class.getResource("jdyld-executor-aarch64")).as("built by the build").isNotNull();
        assertThat(Files.isExecutable(Path.of("/usr/bin/qemu-aarch64"))).as("qemu-user (installed by .ci/run)").isTrue();
        try (ChildProcess child = ChildProcess.start(ExecutorBinary.command("aarch64"))) {
            assertThat(child.pageSize()).isEqualTo(4096);
            assertThat(child.bootstrapSymbol("jdyld_tls_slow_path")).isNotZero();
            byte[] reply = child.request(Protocol.LOOKUP, new Protocol.Writer().u32(2).string("puts").string("nosuch")
                    .bytes(), 10_000);
            Protocol.Reader addresses = new Protocol.Reader(reply, "LOOKUP reply");
            assertThat(addresses.u64()).as("puts, in the AArch64 C library").isNotZero();
            assertThat(addresses.u64()).as("nosuch").isZero();
            byte[] call = new Protocol.Writer().u64(0x10).u32(Protocol.RETURN_INTEGER).u32(0).bytes();
            byte[] registers = new byte[call.length + 14 * 8];
            System.arraycopy(call, 0, registers, 0, call.length);
            assertThatThrownBy(() -> child.request(Protocol.CALL, registers, 10_000))
                    .isInstanceOfSatisfying(ExecutorCrashedException.class, e -> {
                        assertThat(e.signal()).isEqualTo(11);
                        assertThat(e.faultAddress()).isEqualTo(0x10);
                    })
                    .hasMessageContaining("Segmentation fault at address 0x10");
        }
    }
}
