package io.snigate.preread;

import io.netty.buffer.ByteBuf;
import io.snigate.core.Reason;
import java.nio.charset.StandardCharsets;

/**
 * Tells apart the openers of connections that are not TLS, so that the log can say why one was
 * refused: {@code CONNECT} (matched case-insensitively, since a proxy client misconfigured this
 * way is worth recognising), other HTTP/1 request lines (methods matched case-sensitively, as
 * HTTP defines them), the HTTP/2 preface, and a PROXY protocol header (v1's {@code "PROXY "}, v2's
 * signature) on a listener that expects none: a balancer's {@code send-proxy} without the
 * listener's {@code proxy_protocol}, which nginx logs as a broken header. Everything else,
 * SSLv2-style hellos included, is {@link Reason#NOT_TLS}.
 */
final class NonTlsOpeners {

    private static final HttpOpener[] OPENERS = {
        HttpOpener.method("CONNECT", true, Reason.CONNECT_REQUEST),
        HttpOpener.method("GET", false, Reason.PLAIN_HTTP),
        HttpOpener.method("HEAD", false, Reason.PLAIN_HTTP),
        HttpOpener.method("POST", false, Reason.PLAIN_HTTP),
        HttpOpener.method("PUT", false, Reason.PLAIN_HTTP),
        HttpOpener.method("DELETE", false, Reason.PLAIN_HTTP),
        HttpOpener.method("OPTIONS", false, Reason.PLAIN_HTTP),
        HttpOpener.method("TRACE", false, Reason.PLAIN_HTTP),
        HttpOpener.method("PATCH", false, Reason.PLAIN_HTTP),
        HttpOpener.preface("PRI * HTTP/2.0", Reason.PLAIN_HTTP),
        HttpOpener.preface("PROXY ", Reason.PROXY_PROTOCOL_INVALID),
        HttpOpener.preface("\r\n\r\n\0\r\nQUIT\n", Reason.PROXY_PROTOCOL_INVALID),
    };

    private NonTlsOpeners() {}

    /** The verdict on {@code [start, end)}, which does not open with a TLS handshake record. */
    static PrereadVerdict classify(ByteBuf buf, int start, int end, boolean endOfStream) {
        int received = end - start;
        boolean couldStillMatch = false;
        for (HttpOpener opener : OPENERS) {
            int compared = Math.min(received, opener.text.length);
            if (!opener.matches(buf, start, compared)) {
                continue;
            }
            if (compared == opener.text.length) {
                return PrereadVerdict.reject(opener.reason);
            }
            // A client that sent a whole method token and then closed said enough.
            if (endOfStream && received >= opener.tokenLength) {
                return PrereadVerdict.reject(opener.reason);
            }
            couldStillMatch = true;
        }
        return couldStillMatch && !endOfStream
                ? PrereadVerdict.NEED_MORE
                : PrereadVerdict.reject(Reason.NOT_TLS);
    }

    private static final class HttpOpener {
        final byte[] text;
        /** How much of {@link #text} identifies the request when the client closes early. */
        final int tokenLength;
        final boolean ignoreCase;
        final Reason reason;

        private HttpOpener(String text, int tokenLength, boolean ignoreCase, Reason reason) {
            this.text = text.getBytes(StandardCharsets.US_ASCII);
            this.tokenLength = tokenLength;
            this.ignoreCase = ignoreCase;
            this.reason = reason;
        }

        static HttpOpener method(String method, boolean ignoreCase, Reason reason) {
            return new HttpOpener(method + " ", method.length(), ignoreCase, reason);
        }

        static HttpOpener preface(String preface, Reason reason) {
            return new HttpOpener(preface, preface.length(), false, reason);
        }

        boolean matches(ByteBuf buf, int start, int count) {
            for (int i = 0; i < count; i++) {
                int actual = buf.getUnsignedByte(start + i);
                int expected = text[i];
                if (actual != expected && !(ignoreCase && toUpperAscii(actual) == expected)) {
                    return false;
                }
            }
            return true;
        }

        private static int toUpperAscii(int c) {
            return c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c;
        }
    }
}
