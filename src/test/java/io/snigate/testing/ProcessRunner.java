package io.snigate.testing;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs a real client program (curl, openssl) with a hard time limit and collects its output. */
public final class ProcessRunner {
    public record Result(int exitCode, String stdout, String stderr) {}

    private ProcessRunner() {}

    public static Result run(int timeoutSeconds, String... command) throws IOException, InterruptedException {
        return runWithInput(timeoutSeconds, new byte[0], command);
    }

    public static Result runWithInput(int timeoutSeconds, byte[] input, String... command)
            throws IOException, InterruptedException {
        Process process = new ProcessBuilder(List.of(command)).start();
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> readAll(process.getInputStream()));
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> readAll(process.getErrorStream()));
        try (OutputStream stdin = process.getOutputStream()) {
            stdin.write(input);
        }
        if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError(command[0] + " did not finish within " + timeoutSeconds + " s");
        }
        return new Result(process.exitValue(), out.join(), err.join());
    }

    private static String readAll(java.io.InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }
}
