package io.snigate.proxyprotocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.Reason;
import io.snigate.testing.PipelineTails;
import org.junit.jupiter.api.Test;

/**
 * {@link ProxyHeaderReceived}'s end of a connection whose header stage met an error: a header the
 * decoder refused is {@code proxy_protocol_invalid}; no direct memory for the next read is
 * {@code connection_limit}, as in the pre-read, not the balancer's fault.
 */
class ProxyHeaderReceivedTest {
    private final EmbeddedChannel channel = new EmbeddedChannel();
    private final ConnectionRecord record = ConnectionRecord.attach(channel, "test", (event, c, nanos) -> {});

    ProxyHeaderReceivedTest() {
        channel.pipeline().addLast(new ProxyHeaderReceived(record, known -> true));
    }

    @Test
    void aHeaderTheDecoderRefusedIsInvalid() {
        channel.pipeline().fireExceptionCaught(new DecoderException("invalid PROXY header"));
        assertThat(channel.isOpen()).isFalse();
        assertThat(record.reason()).isEqualTo(Reason.PROXY_PROTOCOL_INVALID);
    }

    /** A bug in the stage is internal_error, with its stack trace (before: proxy_protocol_invalid, the balancer's fault). */
    @Test
    void aBugInTheStageIsAnInternalError() {
        PipelineTails.expectInThisClass("after an unexpected error", "a bug in the header's stage");
        channel.pipeline().fireExceptionCaught(new IllegalStateException("a bug in the header's stage"));
        assertThat(channel.isOpen()).isFalse();
        assertThat(record.reason()).isEqualTo(Reason.INTERNAL_ERROR);
    }

    @Test
    void noDirectMemoryForTheNextReadIsAConnectionLimit() {
        channel.pipeline().fireExceptionCaught(new OutOfMemoryError("Cannot reserve 2048 bytes of direct buffer memory"));
        assertThat(channel.isOpen()).isFalse();
        assertThat(record.reason()).isEqualTo(Reason.CONNECTION_LIMIT);
    }
}
