package io.snigate.bench;

import com.sun.net.httpserver.HttpServer;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.SocketChannelConfig;
import io.netty.channel.unix.Socket;
import io.netty.channel.unix.UnixChannel;
import io.netty.util.ReferenceCountUtil;
import io.snigate.config.ConfigLoader;
import io.snigate.config.ProxyConfig;
import io.snigate.transport.RelayReads;
import io.snigate.transport.Transport;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The least a Netty TCP relay does for one proxied connection, for measuring what snigate's own
 * stages add on top of the library it is built on. It reads snigate's config file for three
 * things (the first listener, the admin address, the first route's fixed upstream) and then, per
 * connection: accept, wait for the client's first bytes, create, register and connect an upstream
 * channel as snigate does, write those bytes, relay both ways with backpressure, pass a FIN on and
 * close once both sides have sent theirs. No pre-read, parse, route, policy, log, metric or timer.
 * The admin address answers {@code /readyz} once the listener is bound, so the rig's scripts
 * drive it like snigate: {@code PROXY_MAIN=io.snigate.bench.NettyFloor src/jmh/sh/measure.sh cpu
 * target/benchmarks.jar} (performance page, "The Netty floor"). With
 * {@code -Dsnigate.floor.upstream=handle} the upstream side is {@link HandleUpstream}, no channel.
 */
public final class NettyFloor {
    private NettyFloor() {}

    public static void main(String[] args) throws Exception {
        ProxyConfig config = config("NettyFloor", args);
        InetSocketAddress listen = config.listeners().get(0).address().toResolvedLiteral();
        InetSocketAddress upstream = config.routes().get(0).upstream().hostPort().toResolvedLiteral();
        Transport transport = Transport.select();
        boolean handleUpstream = "handle".equals(System.getProperty("snigate.floor.upstream", "channel"));
        if (handleUpstream && !transport.name().equals("io_uring")) {
            System.err.println("NettyFloor: -Dsnigate.floor.upstream=handle needs io_uring, not " + transport.name());
            System.exit(2);
        }
        BenchRing.Target handleTarget = handleUpstream ? new BenchRing.Target(upstream) : null;
        EventLoopGroup loops = transport.newEventLoopGroup(1);
        new ServerBootstrap()
                .group(loops)
                .channel(transport.serverChannelClass())
                .option(ChannelOption.SO_BACKLOG, 4096)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.RECVBUF_ALLOCATOR, RelayReads.allocator())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel client) {
                        client.pipeline().addLast("dial", handleUpstream
                                ? new HandleUpstream(handleTarget)
                                : new DialOnFirstBytes(transport, upstream));
                    }
                })
                .bind(listen)
                .sync();
        answerReady(config, loops);
        System.err.println("NettyFloor on " + transport.name() + ", upstream " + (handleUpstream ? "an io_uring handle" : "a channel")
                + ": " + listen + " -> " + upstream);
        loops.terminationFuture().sync();
    }

    /** The config file named on the command line, read as snigate reads it. */
    static ProxyConfig config(String name, String[] args) throws Exception {
        if (args.length != 2 || !args[0].equals("--config")) {
            System.err.println("usage: " + name + " --config routes.yaml");
            System.exit(2);
        }
        // As snigate's Main: Netty's JFR events off unless asked for, and its leak detector
        // sampling one buffer in 4,096 (one in 128 cost the stage floor about 9 % of its user time).
        if (System.getProperty("io.netty.jfr.enabled") == null) {
            System.setProperty("io.netty.jfr.enabled", "false");
        }
        System.getProperties().putIfAbsent("io.netty.leakDetection.samplingInterval", "4096");
        return ConfigLoader.load(Path.of(args[1]));
    }

    /** Answers {@code /readyz} on the config's admin address, as the rig's scripts expect; stops with the loops. */
    static void answerReady(ProxyConfig config, EventLoopGroup loops) throws IOException {
        HttpServer ready = HttpServer.create(config.admin().toResolvedLiteral(), 16);
        ready.createContext("/readyz", exchange -> {
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        ready.start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            ready.stop(0);
            loops.shutdownGracefully();
        }));
    }

    /** Holds what the client sends first and dials the upstream; replaced by a relay once connected. */
    private static final class DialOnFirstBytes extends ChannelInboundHandlerAdapter {
        private final Transport transport;
        private final InetSocketAddress target;
        private final List<Object> held = new ArrayList<>(1);
        private boolean dialing;
        private boolean clientDoneSending;

        DialOnFirstBytes(Transport transport, InetSocketAddress target) {
            this.transport = transport;
            this.target = target;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            held.add(msg);
            if (dialing) {
                return;
            }
            dialing = true;
            Channel client = ctx.channel();
            client.config().setAutoRead(false);
            SocketChannel upstream = transport.newSocketChannel(target);
            SocketChannelConfig config = upstream.config();
            config.setConnectTimeoutMillis(0);
            config.setAutoRead(false);
            config.setAllowHalfClosure(true);
            config.setRecvByteBufAllocator(RelayReads.allocator());
            client.eventLoop().register(upstream).addListener((ChannelFuture registered) -> {
                if (!registered.isSuccess()) {
                    upstream.unsafe().closeForcibly();
                    closeWithHeld(client);
                    return;
                }
                upstream.connect(target).addListener((ChannelFuture connected) -> {
                    if (!connected.isSuccess() || !client.isActive()) {
                        upstream.close();
                        closeWithHeld(client);
                        return;
                    }
                    Relay relay = new Relay(client, upstream);
                    upstream.pipeline().addLast("relay", relay.handler);
                    client.pipeline().replace(this, "relay", relay.handler);
                    for (Object bytes : held) {
                        upstream.write(bytes, upstream.voidPromise());
                    }
                    held.clear();
                    upstream.flush();
                    if (clientDoneSending) {
                        relay.doneSending(client);
                    } else {
                        client.config().setAutoRead(true);
                    }
                    upstream.config().setAutoRead(true);
                });
            });
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                clientDoneSending = true; // passed on once the relay stands
            }
        }

        private void closeWithHeld(Channel client) {
            held.forEach(ReferenceCountUtil::release);
            held.clear();
            client.close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            held.forEach(ReferenceCountUtil::release);
            held.clear();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** Both channels of one connection and one handler, shared, that copies each side to the other. */
    private static final class Relay {
        final Channel client;
        final Channel upstream;
        final Handler handler = new Handler();
        private int doneSending;

        Relay(Channel client, Channel upstream) {
            this.client = client;
            this.upstream = upstream;
        }

        Channel peerOf(Channel side) {
            return side == client ? upstream : client;
        }

        void closeBoth() {
            client.close();
            upstream.close();
        }

        /**
         * {@code side} sent FIN: passed on once what it sent before is written, by the socket
         * directly when nothing is queued, as snigate's tunnel does (Netty's shutdownOutput()
         * drops writes still queued).
         */
        void doneSending(Channel side) {
            if (++doneSending == 2) {
                closeOnceWritten(client);
                closeOnceWritten(upstream);
                return;
            }
            SocketChannel peer = (SocketChannel) peerOf(side);
            peer.config().setAllowHalfClosure(false);
            if (nothingQueued(peer)) {
                shutdownOutput(peer);
            } else {
                peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener((ChannelFuture f) -> {
                    if (f.isSuccess()) {
                        shutdownOutput(peer);
                    } else {
                        closeBoth();
                    }
                });
            }
        }

        private void shutdownOutput(SocketChannel peer) {
            if (peer instanceof UnixChannel unix && unix.fd() instanceof Socket socket) {
                try {
                    socket.shutdown(false, true);
                } catch (IOException e) {
                    closeBoth();
                }
            } else {
                peer.shutdownOutput();
            }
        }

        // This and closeOnceWritten are relay/Tunnel's own two helpers, written again: the floor
        // measures Netty without snigate's stages, so it does not reach into the relay package.
        private static boolean nothingQueued(Channel side) {
            ChannelOutboundBuffer queued = side.unsafe().outboundBuffer();
            return queued != null && queued.totalPendingWriteBytes() == 0;
        }

        private static void closeOnceWritten(Channel side) {
            if (!side.isOpen() || nothingQueued(side)) {
                side.close();
            } else {
                side.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @io.netty.channel.ChannelHandler.Sharable
        final class Handler extends ChannelInboundHandlerAdapter {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                Channel peer = peerOf(ctx.channel());
                peer.write(msg, peer.voidPromise());
            }

            @Override
            public void channelReadComplete(ChannelHandlerContext ctx) {
                Channel peer = peerOf(ctx.channel());
                peer.flush();
                if (!peer.isWritable()) {
                    ctx.channel().config().setAutoRead(false);
                }
            }

            @Override
            public void channelWritabilityChanged(ChannelHandlerContext ctx) {
                SocketChannel peer = (SocketChannel) peerOf(ctx.channel());
                if (ctx.channel().isWritable() && !peer.isInputShutdown()) {
                    peer.config().setAutoRead(true);
                }
            }

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof ChannelInputShutdownEvent) {
                    doneSending(ctx.channel());
                }
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                closeOnceWritten(peerOf(ctx.channel()));
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                closeBoth();
            }
        }
    }
}
