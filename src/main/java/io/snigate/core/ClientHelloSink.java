package io.snigate.core;

import java.util.List;

/**
 * Receives what the pre-read learned from a client's ClientHello. The parser hands its facts
 * here instead of returning an object per parse, so that parsing a hello allocates nothing but
 * the strings it reports; in the proxy the sink is the connection's {@link ConnectionRecord}.
 */
public interface ClientHelloSink {

    /**
     * Called once for a ClientHello that parsed: forwarded, or rejected for its name
     * ({@link Reason#NO_SNI}, {@link Reason#INVALID_SNI}). Never called for other verdicts.
     *
     * @param sni the normalized, valid host name to route on when the hello is forwarded; for
     *     {@link Reason#INVALID_SNI} the name as sent, lower-cased, with every byte that could
     *     confuse a log reader escaped as {@code \xNN}; null when there is no host name
     * @param alpn the offered application protocols in the client's order (ISO-8859-1, so every
     *     byte survives) as an immutable list, or null when the hello has no ALPN extension
     * @param tlsVersion the highest version offered: the largest non-GREASE supported_versions
     *     entry, else the legacy_version (see {@link TlsVersions})
     * @param ech whether an encrypted_client_hello extension of type outer is present (any other
     *     type is refused as malformed before this is called): the real name is then hidden and
     *     {@code sni} is the client-facing outer name
     * @param recordVersion the version of the first record header, which the client is sure to
     *     accept in an alert
     * @param ja4 the hello's JA4 TLS client fingerprint (FoxIO), e.g.
     *     {@code t13d1516h2_8daaf6152771_e5627efa2ab1}
     */
    void clientHello(String sni, List<String> alpn, int tlsVersion, boolean ech, int recordVersion, String ja4);

    /**
     * Called before {@link #clientHello} for a hello that is forwarded: a 64-bit digest of its
     * 32-byte random, which no two ClientHellos share unless one is a copy of the other (the
     * proxy's own, come back through a balancer: a loop).
     */
    default void helloRandom(long digest) {}

    /**
     * Called before {@link #clientHello} for a hello whose records are whole: how many bytes they
     * take, record headers included. The hello ends where its last record ends, so what the
     * client sends after that many bytes is its next flight.
     */
    default void helloRecordBytes(int bytes) {}
}
