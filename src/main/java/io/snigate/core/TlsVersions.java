package io.snigate.core;

/** The TLS protocol versions as they appear on the wire, and their conventional names. */
public final class TlsVersions {
    public static final int SSL_3_0 = 0x0300;
    public static final int TLS_1_0 = 0x0301;
    public static final int TLS_1_1 = 0x0302;
    public static final int TLS_1_2 = 0x0303;
    public static final int TLS_1_3 = 0x0304;

    private TlsVersions() {}

    /**
     * The wire code of a version written as in the config, {@code "1.0"} to {@code "1.3"}.
     *
     * @throws IllegalArgumentException whose message says what is wrong but not where
     */
    public static int parse(String written) {
        return switch (written) {
            case "1.0" -> TLS_1_0;
            case "1.1" -> TLS_1_1;
            case "1.2" -> TLS_1_2;
            case "1.3" -> TLS_1_3;
            default -> throw new IllegalArgumentException("write the version as \"1.0\", \"1.1\", \"1.2\" or \"1.3\"");
        };
    }

    /** The conventional name of a protocol version, e.g. {@code TLSv1.3}, or its hex code. */
    public static String name(int version) {
        return switch (version) {
            case TLS_1_3 -> "TLSv1.3";
            case TLS_1_2 -> "TLSv1.2";
            case TLS_1_1 -> "TLSv1.1";
            case TLS_1_0 -> "TLSv1.0";
            case SSL_3_0 -> "SSLv3";
            default -> String.format("0x%04x", version);
        };
    }
}
