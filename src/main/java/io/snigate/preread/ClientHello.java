package io.snigate.preread;

import java.util.List;

/**
 * What the proxy learns from a client's first flight without decrypting anything.
 *
 * @param sni the normalized, valid host name to route on; null only in a rejected verdict
 * @param alpn the offered application protocols in the client's order (ISO-8859-1, so every byte
 *     survives), or null when the ClientHello has no ALPN extension
 * @param tlsVersion the highest version offered: the largest non-GREASE supported_versions entry,
 *     else the legacy_version
 * @param ech whether an encrypted_client_hello extension is present: the real name is then hidden
 *     and {@code sni} is the client-facing outer name
 * @param recordVersion the version of the first record header, which the client is sure to accept
 *     in an alert
 */
public record ClientHello(String sni, List<String> alpn, int tlsVersion, boolean ech, int recordVersion) {

    public static final int SSL_3_0 = 0x0300;
    public static final int TLS_1_0 = 0x0301;
    public static final int TLS_1_1 = 0x0302;
    public static final int TLS_1_2 = 0x0303;
    public static final int TLS_1_3 = 0x0304;

    public ClientHello {
        alpn = alpn == null ? null : List.copyOf(alpn);
    }

    /** The conventional name of a protocol version, e.g. {@code TLSv1.3}, or its hex code. */
    public static String versionName(int version) {
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
