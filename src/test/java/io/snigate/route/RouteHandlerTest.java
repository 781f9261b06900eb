package io.snigate.route;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.snigate.core.ClientHelloEvent;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.Reason;
import io.snigate.testing.PipelineTails;
import org.junit.jupiter.api.Test;

/** The route stage as the last handler before the relay: what no stage handled ends the connection. */
class RouteHandlerTest {
    private final EmbeddedChannel client = new EmbeddedChannel();
    private final ConnectionRecord record = ConnectionRecord.attach(client, "test", (event, connection, nanos) -> { });

    @Test
    void anExceptionThrownWhileRoutingClosesTheConnectionAsAnInternalError() {
        PipelineTails.expectInThisClass("after an unexpected error", "a bug in the route table");
        RouteHandler route = new RouteHandler(() -> {
            throw new IllegalStateException("a bug in the route table");
        }, new RouteConnections(), (ctx, connection, decision) -> { });
        client.pipeline().addLast(route);

        client.pipeline().fireUserEventTriggered(ClientHelloEvent.INSTANCE);

        assertThat(client.isOpen()).isFalse();
        assertThat(record.reason()).isEqualTo(Reason.INTERNAL_ERROR);
    }

    @Test
    void anExceptionAnEarlierStageDidNotHandleClosesTheConnectionAsAnInternalError() {
        PipelineTails.expectInThisClass("after an unexpected error", "a bug in an earlier stage");
        RouteHandler route = new RouteHandler(() -> null, new RouteConnections(), (ctx, connection, decision) -> { });
        client.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                throw new IllegalStateException("a bug in an earlier stage");
            }
        }).addLast(route);

        client.writeInbound("bytes");

        assertThat(client.isOpen()).isFalse();
        assertThat(record.reason()).isEqualTo(Reason.INTERNAL_ERROR);
    }
}
