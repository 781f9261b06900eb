package io.snigate.core;

/**
 * The numbers of a TLS record's header (RFC 8446 §5.1) and of an alert (§6), which both the
 * pre-read, reading a client's records, and a rejection, writing an alert, need.
 */
public final class TlsRecord {
    /** ContentType. */
    public static final int CONTENT_TYPE_CHANGE_CIPHER_SPEC = 20;
    public static final int CONTENT_TYPE_ALERT = 21;
    public static final int CONTENT_TYPE_HANDSHAKE = 22;
    public static final int CONTENT_TYPE_APPLICATION_DATA = 23;
    /** The first byte of every record's version, SSL 3.0 ({@code 0x0300}) to TLS 1.3's legacy {@code 0x0303}. */
    public static final int VERSION_MAJOR = 3;
    /** AlertLevel. */
    public static final int ALERT_LEVEL_FATAL = 2;

    private TlsRecord() {}
}
