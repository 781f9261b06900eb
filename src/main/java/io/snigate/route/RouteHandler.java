package io.snigate.route;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.snigate.core.ClientHelloEvent;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.Reason;
import io.snigate.core.Rejection;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stage three: decides where a classified connection may go, using whichever route table is
 * current at that moment (a reload swaps the table; connections already routed keep their
 * upstream), and hands an allowed connection to the next stage. The decision (route, client
 * rules, TLS floor, audit mode) is {@link RouteTable#decide}, the same that {@code snigate
 * explain} shows. It keeps no state of its own, so one instance serves every connection.
 */
@ChannelHandler.Sharable
public final class RouteHandler extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(RouteHandler.class);

    /** The stage after routing: dial the upstream and start relaying. */
    public interface Dialer {
        void dial(ChannelHandlerContext ctx, ConnectionRecord record, RouteDecision decision);
    }

    private final Supplier<RouteTable> routes;
    private final RouteConnections routeConnections;
    private final Dialer dialer;

    public RouteHandler(Supplier<RouteTable> routes, RouteConnections routeConnections, Dialer dialer) {
        this.routes = routes;
        this.routeConnections = routeConnections;
        this.dialer = dialer;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (!(evt instanceof ClientHelloEvent)) {
            ctx.fireUserEventTriggered(evt);
            return;
        }
        // The pre-read left the ClientHello's facts in the record; the event only says they are there.
        ConnectionRecord record = ConnectionRecord.of(ctx.channel());
        RouteDecision decision = routes.get().decide(record);
        record.route(decision.routeLabel());
        record.policy(decision.mode().label(), decision.wouldReject());
        if (!decision.routed()) {
            Rejection.reject(ctx.channel(), decision.rejectReason(), record.recordVersion());
        } else if (!routeConnections.admit(record, decision)) {
            Rejection.reject(ctx.channel(), Reason.CONNECTION_LIMIT, record.recordVersion());
        } else {
            dialer.dial(ctx, record, decision);
        }
    }

    /**
     * The last handler until the relay: what reaches it, an earlier stage's or its own, no stage
     * handled. Left to Netty's tail, the connection would stay open for good, its pre-read timer
     * cancelled and on io_uring no longer read.
     */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.warn("closing {} after an unexpected error", ctx.channel(), cause);
        ConnectionRecord.of(ctx.channel()).endedBecause(Reason.INTERNAL_ERROR);
        ctx.close();
    }
}
