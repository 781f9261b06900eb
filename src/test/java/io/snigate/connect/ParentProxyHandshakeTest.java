package io.snigate.connect;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.concurrent.Promise;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.Reason;
import io.snigate.relay.UpstreamLink;
import io.snigate.testing.PipelineTails;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * {@link ParentProxyHandshake}'s reading of a parent proxy's answer to {@code CONNECT}, however
 * it arrives: split over reads, after interim 1xx answers, with bare line feeds; what is not an
 * HTTP/1.x answer, or too long, or followed by bytes, is no tunnel. Buffers are checked by the
 * leak detector (paranoid in tests).
 */
class ParentProxyHandshakeTest {
    private final EmbeddedChannel parent = new EmbeddedChannel();
    private final ConnectionRecord record = ConnectionRecord.attach(new EmbeddedChannel(), "test", (event, c, nanos) -> {});
    private final Promise<UpstreamLink> tunnel = parent.eventLoop().newPromise();

    /** Starts the handshake, checks the request it sends, then feeds {@code reads} one by one. */
    private void answer(String... reads) {
        ParentProxyHandshake.start(parent, "api.example:443", null, record, tunnel);
        ByteBuf request = parent.readOutbound();
        assertThat(request.toString(StandardCharsets.US_ASCII))
                .isEqualTo("CONNECT api.example:443 HTTP/1.1\r\nHost: api.example:443\r\n\r\n");
        request.release();
        for (String read : reads) {
            parent.writeInbound(Unpooled.copiedBuffer(read, StandardCharsets.ISO_8859_1));
        }
        parent.runPendingTasks();
    }

    private void assertTunnel() {
        assertThat(tunnel.isSuccess()).as("tunnel: %s", tunnel.cause()).isTrue();
        assertThat(parent.isOpen()).isTrue();
        assertThat(parent.pipeline().get(ParentProxyHandshake.class)).as("removed once done").isNull();
        assertThat(parent.finishAndReleaseAll()).isFalse();
    }

    private void assertRefused(Reason reason, int status) {
        assertThat(tunnel.isDone()).as("answered, not left to the budget").isTrue();
        assertThat(((UpstreamException) tunnel.cause()).reason()).isEqualTo(reason);
        assertThat(record.parentStatus()).isEqualTo(status);
        assertThat(parent.isOpen()).isFalse();
        parent.finishAndReleaseAll();
    }

    @Test
    void anAnswerSplitOverReadsOpensTheTunnel() {
        answer("HTTP/1.", "1 200 Connection est", "ablished\r\n", "Via: squid\r\n\r", "\n");
        assertTunnel();
        assertThat(record.parentStatus()).isEqualTo(200);
    }

    @Test
    void interimAnswersAreSkipped() {
        answer("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n");
        assertTunnel();
        assertThat(record.parentStatus()).isEqualTo(200);
    }

    @Test
    void anEmptyLineBeforeTheStatusLineIsSkipped() {
        answer("HTTP/1.1 100 Continue\r\n\r\n\r\n", "\r\nHTTP/1.1 200 OK\r\n\r\n");
        assertTunnel();
    }

    /** No direct memory for the answer: the dial fails as over a budget, not as the parent's fault. */
    @Test
    void noMemoryForTheAnswerIsAConnectionLimit() {
        answer();
        parent.pipeline().fireExceptionCaught(new OutOfMemoryError("Cannot reserve 256 bytes of direct buffer memory"));
        assertRefused(Reason.CONNECTION_LIMIT, 0);
    }

    /** A bug in the handshake fails the dial as internal_error (before: upstream_unreachable, the parent's fault). */
    @Test
    void aBugInTheHandshakeIsAnInternalError() {
        PipelineTails.expectInThisClass("after an unexpected error", "a bug in the handshake");
        answer();
        parent.pipeline().fireExceptionCaught(new IllegalStateException("a bug in the handshake"));
        assertRefused(Reason.INTERNAL_ERROR, 0);
    }

    @Test
    void switchingProtocolsIsNoTunnel() {
        answer("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n");
        assertRefused(Reason.PARENT_PROXY_REFUSED, 101);
    }

    @Test
    void bareLineFeedsEndTheAnswerToo() {
        answer("HTTP/1.0 200 OK\nProxy-Agent: old\n\n");
        assertTunnel();
    }

    /** The parent's FIN comes as an event on an upstream channel, which allows half-closure. */
    @Test
    void aParentThatClosesBeforeItsAnswerEndsIsUnreachableOrRefusedByTheStatusItSent() {
        answer("HTTP/1.1 2");
        parent.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertRefused(Reason.UPSTREAM_UNREACHABLE, 0);
    }

    @Test
    void aParentThatClosesAfterARefusalsStatusLineIsARefusal() {
        answer("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n");
        parent.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertRefused(Reason.PARENT_PROXY_REFUSED, 403);
    }

    @Test
    void aRefusalNamesItsStatus() {
        answer("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n<html>denied</html>");
        assertRefused(Reason.PARENT_PROXY_REFUSED, 407);
    }

    @Test
    void whatIsNotAnHttp1AnswerIsNoTunnel() {
        answer("HTTX/1.1 200 OK\r\n\r\n");
        assertRefused(Reason.UPSTREAM_UNREACHABLE, 0);
    }

    @Test
    void bytesAfterTheAnswerAreNoTunnel() {
        answer("HTTP/1.1 200 OK\r\n\r\n\u0016\u0003\u0003");
        assertRefused(Reason.UPSTREAM_UNREACHABLE, 200);
    }

    @Test
    void anAnswerWithoutItsBlankLineIsCutOffAtEightKilobytes() {
        answer("HTTP/1.1 200 OK\r\n", "X-Padding: " + "a".repeat(8192) + "\r\n");
        assertRefused(Reason.UPSTREAM_UNREACHABLE, 0);
    }
}
