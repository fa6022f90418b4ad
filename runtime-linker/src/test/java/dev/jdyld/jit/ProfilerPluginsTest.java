package dev.jdyld.jit;

import dev.jdyld.core.SetLayout;
import dev.jdyld.memory.MemoryMaps;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** perf visibility: the perf map's lines and the jitdump file's records, read back and checked field by field. */
class ProfilerPluginsTest {
    @TempDir
    Path dir;

    private Path compile() {
        return Toolchain.compile(dir, "fib", """
                #include <stdio.h>
                static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
                int run(void) { printf("%d\\n", fib(20)); return fib(10); }
                """, "-O1", "-fPIC");
    }

    @Test
    void thePerfMapHasALinePerFunctionAndStub() throws Exception {
        PerfMap perfMap = new PerfMap(dir);
        try (JitLinker linker = JitLinker.builder().plugin(perfMap).build()) {
            LoadedSet set = linker.load(compile());
            Map<String, long[]> lines = new HashMap<>();
            for (String line : Files.readAllLines(perfMap.file())) {
                assertThat(line).matches("[0-9a-f]+ [0-9a-f]+ .+");
                String[] fields = line.split(" ", 3);
                lines.put(fields[2], new long[] {Long.parseUnsignedLong(fields[0], 16), Long.parseLong(fields[1], 16)});
            }
            SetLayout.Symbol run = set.layout().symbols().stream().filter(s -> s.name().equals("run")).findFirst().orElseThrow();
            assertThat(lines.get("run")).containsExactly(set.address("run"), run.size());
            assertThat(lines).containsKeys("fib", "stub: printf");
            assertThat(perfMap.file().getFileName().toString()).isEqualTo("perf-" + ProcessHandle.current().pid() + ".map");
            set.close();
            assertThat(Files.readAllLines(perfMap.file())).as("closed ranges are recorded as unloaded")
                    .contains(Long.toHexString(set.layout().symbols().stream().filter(s -> s.name().equals("run"))
                            .findFirst().orElseThrow().address()) + " " + Long.toHexString(run.size()) + " [unloaded] run");
        }
    }

    @Test
    @SuppressWarnings("restricted")
    void theJitdumpFileHasTheHeaderALoadRecordPerFunctionWithItsCodeAndACloseRecord() throws Exception {
        JitDump jitdump = new JitDump(dir);
        Path file = jitdump.file();
        long runAddress;
        byte[] runCode;
        try (JitLinker linker = JitLinker.builder().plugin(jitdump).build()) {
            LoadedSet set = linker.load(compile());
            SetLayout.Symbol run = set.layout().symbols().stream().filter(s -> s.name().equals("run")).findFirst().orElseThrow();
            runAddress = run.address();
            runCode = MemorySegment.ofAddress(runAddress).reinterpret(run.size()).toArray(ValueLayout.JAVA_BYTE);
            assertThat(MemoryMaps.read()).as("perf record learns of the file from an executable mapping of it")
                    .anyMatch(m -> m.name().equals(file.toString()) && m.permissions().equals("r-xp"));
        }
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(b.getInt()).isEqualTo(0x4A695444);
        assertThat(b.getInt()).isEqualTo(1);
        assertThat(b.getInt()).isEqualTo(40);
        assertThat(b.getInt()).isEqualTo(62);
        b.getInt();
        assertThat(b.getInt()).isEqualTo((int) ProcessHandle.current().pid());
        b.getLong();
        b.getLong();
        Map<String, Long> loads = new HashMap<>();
        long lastIndex = -1;
        int lastId = -1;
        while (b.hasRemaining()) {
            int start = b.position();
            int id = b.getInt();
            int size = b.getInt();
            b.getLong();
            lastId = id;
            if (id == 0) {
                assertThat(b.getInt()).isEqualTo((int) ProcessHandle.current().pid());
                b.getInt();
                long vma = b.getLong();
                long codeAddress = b.getLong();
                long codeSize = b.getLong();
                long index = b.getLong();
                assertThat(codeAddress).isEqualTo(vma);
                assertThat(index).isEqualTo(lastIndex + 1);
                lastIndex = index;
                int nameStart = b.position();
                while (b.get() != 0) { }
                String name = new String(b.array(), nameStart, b.position() - nameStart - 1, StandardCharsets.UTF_8);
                byte[] code = new byte[(int) codeSize];
                b.get(code);
                loads.put(name, vma);
                if (name.equals("run")) {
                    assertThat(code).isEqualTo(runCode);
                }
            }
            assertThat(b.position() - start).as("record size").isEqualTo(size);
        }
        assertThat(loads).containsEntry("run", runAddress).containsKeys("fib", "stub: printf")
                .as("closed ranges are recorded as unloaded").containsEntry("[unloaded] run", runAddress);
        assertThat(lastId).as("the last record is JIT_CODE_CLOSE").isEqualTo(3);
    }
}
