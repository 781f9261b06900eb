package io.snigate.config;

/**
 * A configuration file that cannot be used, with the place to fix it. The message reads like a
 * compiler's: {@code routes.yaml:12: what is wrong and what to do}, or {@code routes.yaml: ...}
 * when the problem has no single line (a missing key, an unreadable file).
 */
public final class ConfigException extends Exception {
    private final String file;
    private final int line;
    private final String problem;

    public ConfigException(String file, int line, String problem) {
        this(file, line, problem, null);
    }

    public ConfigException(String file, int line, String problem, Throwable cause) {
        super(format(file, line, problem), cause);
        this.file = file;
        this.line = line;
        this.problem = problem;
    }

    private static String format(String file, int line, String problem) {
        return line > 0 ? file + ":" + line + ": " + problem : file + ": " + problem;
    }

    /** The file name as given to the loader. */
    public String file() {
        return file;
    }

    /** The 1-based line the problem is on, or 0 when it is not on one line. */
    public int line() {
        return line;
    }

    /** The message without the {@code file:line:} prefix. */
    public String problem() {
        return problem;
    }
}
