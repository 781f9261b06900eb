package io.snigate.admin;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.flow.FlowControlHandler;
import io.netty.handler.timeout.WriteTimeoutHandler;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import io.prometheus.metrics.expositionformats.ExpositionFormatWriter;
import io.prometheus.metrics.expositionformats.ExpositionFormats;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.snigate.core.OncePerSecond;
import io.snigate.core.PipelineNames;
import io.snigate.transport.AcceptFailures;
import io.snigate.transport.ReusePort;
import io.snigate.transport.Transport;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin HTTP endpoint: {@code /metrics} for Prometheus (text 0.0.4, or OpenMetrics when the
 * scraper asks for it), {@code /healthz} (200 while every event loop runs) and {@code /readyz}
 * (200 once every listener is bound and the config is loaded, 503 while draining). While the
 * snigate this one replaces (a restart's hand-over) listens on the same address, {@code /metrics}
 * answers with no series. It runs on
 * its own event loop, so a scrape never delays a proxied connection's I/O.
 *
 * <p>A connection gets one request answered at a time: the next is read once the answer is
 * written, so a client that pipelines scrapes and reads nothing costs a scrape or two, not one
 * per request it sent, and the probes on other connections keep their answers. A connection that
 * has not sent a whole request within {@link #REQUEST_SECONDS} of being ready for one is closed,
 * however it trickles its bytes, and so is one that does not take an answer within that time; at most {@link #MAX_CONNECTIONS} are open at once, so that idle
 * admin connections cannot take the descriptors the proxy needs. A request Netty could not
 * decode, or whose path is not well encoded, gets a 400; a method other than GET and HEAD a 405.
 */
public final class AdminServer {
    private static final int MAX_REQUEST_BYTES = 8192;
    static final int REQUEST_SECONDS = 30;
    /** Far more than a scraper and a few probes; the rest are closed at once. */
    static final int MAX_CONNECTIONS = 64;
    private static final long PID = ProcessHandle.current().pid();
    private static final Logger LOG = LoggerFactory.getLogger(AdminServer.class);
    private static final String DEFERRED =
            "# the snigate this one replaces answers /metrics on this address until it stops; pid=" + PID + "\n";

    private final PrometheusMeterRegistry registry;
    private final BooleanSupplier ready;
    /** Whether every event loop still runs: one whose thread an error ended serves none of its connections. */
    private final BooleanSupplier alive;
    private final BooleanSupplier answersMetrics;
    private final long requestMillis;
    private final ExpositionFormats formats = ExpositionFormats.init();
    /**
     * Open admin connections, for the cap and for {@link #close} (a kept-alive scraper's is
     * answered until closed); each leaves the group as it closes.
     */
    private final ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private Channel server;
    private final OncePerSecond refusalDue = new OncePerSecond();

    /**
     * @param answersMetrics false while the process this one replaces still answers {@code /metrics}
     *     on the same address: a scrape then gets no series here (a successful scrape, so that
     *     {@code up} stays 1), never the two processes' counters in turn
     */
    public AdminServer(PrometheusMeterRegistry registry, BooleanSupplier ready, BooleanSupplier alive,
            BooleanSupplier answersMetrics) {
        this(registry, ready, alive, answersMetrics, TimeUnit.SECONDS.toMillis(REQUEST_SECONDS));
    }

    AdminServer(PrometheusMeterRegistry registry, BooleanSupplier ready, BooleanSupplier alive, long requestMillis) {
        this(registry, ready, alive, () -> true, requestMillis);
    }

    private AdminServer(PrometheusMeterRegistry registry, BooleanSupplier ready, BooleanSupplier alive,
            BooleanSupplier answersMetrics, long requestMillis) {
        this.registry = registry;
        this.ready = ready;
        this.alive = alive;
        this.answersMetrics = answersMetrics;
        this.requestMillis = requestMillis;
    }

    /**
     * Closes {@code ch}, over the cap. Said at most once a second: a scraper or a probe refused
     * meanwhile fails with nothing else to tell why (SnigateInstanceDown, a failed liveness probe).
     */
    private void refused(Channel ch) {
        if (refusalDue.due()) {
            LOG.warn("admin endpoint: {} connections open, closing a new one from {}; an idle one is closed"
                    + " after {} s (scrapers and probes are refused meanwhile: keep the admin address private)",
                    MAX_CONNECTIONS, ch.remoteAddress(), requestMillis / 1000);
        }
        ch.close();
    }

    public Channel bind(EventLoopGroup group, Transport transport, InetSocketAddress address)
            throws InterruptedException {
        server = ReusePort.on(new ServerBootstrap(), transport.serverChannelClass())
                .group(group)
                .channelFactory(transport.serverChannelFor(address))
                .childOption(ChannelOption.AUTO_READ, false)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (connections.size() >= MAX_CONNECTIONS) {
                            refused(ch);
                            return;
                        }
                        connections.add(ch);
                        ch.pipeline()
                                // An answer must be taken within the same time: one never read
                                // would otherwise hold its connection, and the deadline waits for it.
                                .addLast(PipelineNames.ADMIN_WRITE_TIMEOUT,
                                        new WriteTimeoutHandler(requestMillis, TimeUnit.MILLISECONDS))
                                .addLast(PipelineNames.ADMIN_HTTP_CODEC, new HttpServerCodec())
                                .addLast(PipelineNames.ADMIN_AGGREGATOR, new HttpObjectAggregator(MAX_REQUEST_BYTES))
                                .addLast(PipelineNames.ADMIN_FLOW_CONTROL, new FlowControlHandler())
                                .addLast(PipelineNames.ADMIN_ENDPOINTS, new Endpoints());
                    }
                })
                .bind(address)
                .sync()
                .channel();
        // Behind the acceptor, which the bind has added by now: out of descriptors, a line a second.
        server.pipeline().addLast(PipelineNames.ACCEPT_FAILURES, new AcceptFailures());
        return server;
    }

    /** Closes the endpoint: its listening socket, and every connection open on it. */
    public void close() {
        if (server != null) {
            server.close();
        }
        connections.close();
    }

    private final class Endpoints extends SimpleChannelInboundHandler<FullHttpRequest> {
        /** A request is being answered: the next is read once its answer is written. */
        private boolean answering;
        /** Closes the connection unless a whole request comes first. */
        private ScheduledFuture<?> requestDeadline;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            awaitRequest(ctx); // the first request
            ctx.fireChannelActive();
        }

        private void awaitRequest(ChannelHandlerContext ctx) {
            requestDeadline = ctx.executor().schedule(() -> ctx.close(), requestMillis, TimeUnit.MILLISECONDS);
            ctx.read();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (requestDeadline != null) {
                requestDeadline.cancel(false);
            }
            ctx.fireChannelInactive();
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (!answering) {
                ctx.read(); // a request not whole yet: read on
            }
            ctx.fireChannelReadComplete();
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) throws IOException {
            answering = true;
            requestDeadline.cancel(false);
            String path = request.decoderResult().isSuccess() ? pathOf(request.uri()) : null;
            if (path == null) {
                ctx.writeAndFlush(text(ctx, HttpResponseStatus.BAD_REQUEST, "not a request this endpoint can read\n"))
                        .addListener(ChannelFutureListener.CLOSE);
                return;
            }
            FullHttpResponse response;
            if (!request.method().equals(HttpMethod.GET) && !request.method().equals(HttpMethod.HEAD)) {
                response = text(ctx, HttpResponseStatus.METHOD_NOT_ALLOWED, "only GET and HEAD\n");
                response.headers().set(HttpHeaderNames.ALLOW, "GET, HEAD");
            } else {
                response = switch (path) {
                    case "/metrics" -> metrics(ctx, request.headers().get(HttpHeaderNames.ACCEPT));
                    case "/healthz" -> alive.getAsBoolean()
                            ? text(ctx, HttpResponseStatus.OK, "ok\n")
                            : text(ctx, HttpResponseStatus.SERVICE_UNAVAILABLE, "an event loop has stopped\n");
                    // The pid tells two processes sharing the admin port apart (handover/AwaitReady).
                    case "/readyz" -> ready.getAsBoolean()
                            ? text(ctx, HttpResponseStatus.OK, "ready pid=" + PID + "\n")
                            : text(ctx, HttpResponseStatus.SERVICE_UNAVAILABLE, "not ready pid=" + PID + "\n");
                    default -> text(ctx, HttpResponseStatus.NOT_FOUND, "try /metrics, /healthz or /readyz\n");
                };
            }
            if (request.method().equals(HttpMethod.HEAD)) {
                response.content().clear();
            }
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            HttpUtil.setKeepAlive(response, keepAlive);
            var written = ctx.writeAndFlush(response);
            if (!keepAlive) {
                written.addListener(ChannelFutureListener.CLOSE);
            } else {
                written.addListener((ChannelFutureListener) f -> {
                    answering = false;
                    if (f.isSuccess()) {
                        awaitRequest(ctx); // the next request, once this answer is out
                    }
                });
            }
        }

        /** The request's path, or null when its percent-encoding is broken. */
        private static String pathOf(String uri) {
            try {
                return new QueryStringDecoder(uri).path();
            } catch (IllegalArgumentException badlyEncoded) {
                return null;
            }
        }

        private FullHttpResponse metrics(ChannelHandlerContext ctx, String accept) throws IOException {
            ExpositionFormatWriter writer = formats.findWriter(accept);
            boolean answers = answersMetrics.getAsBoolean();
            ByteBuf body = ctx.alloc().buffer(16 * 1024);
            try (ByteBufOutputStream out = new ByteBufOutputStream(body)) {
                if (!answers && writer.getContentType().startsWith("text/plain")) {
                    out.write(DEFERRED.getBytes(StandardCharsets.UTF_8)); // OpenMetrics has no comments
                }
                writer.write(out, answers ? registry.getPrometheusRegistry().scrape() : MetricSnapshots.of());
            } catch (IOException | RuntimeException | Error e) { // out of memory too
                body.release();
                throw e;
            }
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, body);
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, writer.getContentType());
            response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
            return response;
        }

        private FullHttpResponse text(ChannelHandlerContext ctx, HttpResponseStatus status, String body) {
            ByteBuf content = ctx.alloc().buffer(body.length()).writeBytes(body.getBytes(StandardCharsets.UTF_8));
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_PLAIN + "; charset=utf-8");
            response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
            return response;
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
