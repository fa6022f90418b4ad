package dev.jdyld.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Whole processes, timed from this one with {@link System#nanoTime} around start and exit. */
final class Processes {
    private Processes() {}


    /** Wall seconds of one run of {@code command}, or NaN when it had not ended after {@code limit} seconds (then killed). */
    static double timeOnce(List<String> command, long limit) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        long start = System.nanoTime();
        if (!process.waitFor(limit, java.util.concurrent.TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
            return Double.NaN;
        }
        return (System.nanoTime() - start) / 1e9;
    }


    static List<String> concat(List<String> head, List<String> tail) {
        List<String> all = new ArrayList<>(head);
        all.addAll(tail);
        return all;
    }


    /** Wall seconds of {@code command} over {@code runs} runs after one warm-up. */
    static Report.Figure repeated(List<String> command, int runs) throws IOException, InterruptedException {
        time(command);
        List<Double> times = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            times.add(time(command));
        }
        return Report.Figure.of(times);
    }


    static String shell(List<String> command) {
        return command.stream().map(word -> "'" + word.replace("'", "'\\''") + "'")
                .collect(java.util.stream.Collectors.joining(" "));
    }


    /** Wall seconds of {@code a} and {@code b} over runs in turn (a b a b ...) after one warm-up each. */
    static Report.Figure[] paired(List<String> a, List<String> b) throws IOException, InterruptedException {
        time(a);
        time(b);
        List<Double> as = new ArrayList<>();
        List<Double> bs = new ArrayList<>();
        for (int i = 0; i < Report.PROCESS_RUNS; i++) {
            as.add(time(a));
            bs.add(time(b));
        }
        return new Report.Figure[] {Report.Figure.of(as), Report.Figure.of(bs)};
    }


    static double time(List<String> command) throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.DISCARD);
        long start = System.nanoTime();
        int status = builder.start().waitFor();
        long end = System.nanoTime();
        if (status != 0) {
            throw new IOException(String.join(" ", command) + " exited with " + status);
        }
        return (end - start) / 1e9;
    }


    /**
     * Peak resident set of {@code command} and the processes it waited for, in MiB, as GNU time's
     * {@code %M} reports it (the largest of them: for {@code gcc}, its {@code ld}); NaN without
     * {@code /usr/bin/time} (Debian's package {@code time}).
     */
    static double peakRssMiB(List<String> command) throws IOException, InterruptedException {
        if (!java.nio.file.Files.isExecutable(java.nio.file.Path.of("/usr/bin/time"))) {
            return Double.NaN;
        }
        java.nio.file.Path report = java.nio.file.Files.createTempFile("jdyld-bench", ".rss");
        try {
            time(concat(List.of("/usr/bin/time", "-f", "%M", "-o", report.toString()), command));
            return Long.parseLong(java.nio.file.Files.readString(report).strip()) / 1024.0;
        } finally {
            java.nio.file.Files.deleteIfExists(report);
        }
    }

    static String capture(List<String> command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (process.waitFor() != 0) {
            throw new IOException(String.join(" ", command) + " failed:\n" + output);
        }
        return output;
    }
}
