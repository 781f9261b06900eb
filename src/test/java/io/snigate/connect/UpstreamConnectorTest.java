package io.snigate.connect;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.ChannelException;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.Future;
import io.snigate.config.Upstream;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.Reason;
import io.snigate.relay.UpstreamLink;
import io.snigate.route.RouteDecision;
import io.snigate.transport.Transport;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * {@link UpstreamConnector} when the upstream's channel cannot even be made (no descriptor left,
 * EMFILE): the attempt fails with a reason, on the spot, and no exception leaves the connector.
 */
class UpstreamConnectorTest {
    @Test
    void aSocketThatCannotBeMadeFailsTheAttemptAsUnreachable() {
        AtomicInteger asked = new AtomicInteger();
        Transport noDescriptors = new Transport("nio", "a test's", null, null, NioSocketChannel.class, null, family -> {
            asked.incrementAndGet();
            throw new ChannelException("newSocketStream(..) failed: Too many open files");
        });
        UpstreamConnector connector = new UpstreamConnector(noDescriptors, null, (event, record, nanos) -> {},
                () -> DestinationPolicy.forListeners(List.of()), () -> 0);
        EmbeddedChannel client = new EmbeddedChannel();
        ConnectionRecord record = ConnectionRecord.attach(client, "test", (event, c, nanos) -> {});
        RouteDecision decision = RouteDecision.routed("test", Upstream.parse("192.0.2.1:443"));

        Future<UpstreamLink> link = connector.connect(client.eventLoop(), decision, record, 1_000,
                ChannelInboundHandlerAdapter::new);
        client.runPendingTasks();

        assertThat(asked.get()).isEqualTo(1);
        assertThat(link.isDone()).as("failed at once, not by the budget").isTrue();
        assertThat(link.cause()).isInstanceOf(UpstreamException.class);
        assertThat(((UpstreamException) link.cause()).reason()).isEqualTo(Reason.UPSTREAM_UNREACHABLE);
        assertThat(link.cause().getCause()).hasMessageContaining("Too many open files");
        client.finishAndReleaseAll();
    }
}
