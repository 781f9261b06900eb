package io.snigate.preread;

import static io.snigate.preread.TestHellos.concat;
import static io.snigate.preread.TestHellos.hello;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.snigate.core.ClientHelloEvent;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.Reason;
import io.snigate.core.TlsVersions;
import io.snigate.testing.NettyLeaks;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The pre-read handler on a channel fed by the test, for what only the handler shows: that it
 * holds a ClientHello back until its last record is whole, then hands on every byte as it came,
 * and how it ends a client that stops short.
 */
@ExtendWith(NettyLeaks.class)
class PrereadHandlerTest {
    private static final int MAX_HELLO = 16384;
    /** A fatal decode_error alert in the record version of the hellos below (TLS 1.0). */
    private static final byte[] DECODE_ERROR_ALERT = {21, 3, 1, 0, 2, 2, 50};

    /** Observes nothing, whatever methods the observer interface has. */
    private static final ConnectionObserver NONE = (ConnectionObserver) Proxy.newProxyInstance(
            ConnectionObserver.class.getClassLoader(), new Class<?>[] {ConnectionObserver.class}, (o, m, a) -> null);

    private final List<Object> events = new ArrayList<>();
    private EmbeddedChannel channel;
    private ConnectionRecord record;
    private PrereadHandler preread;

    @BeforeEach
    void setUp() {
        channel = new EmbeddedChannel();
        record = ConnectionRecord.attach(channel, "test", NONE);
        preread = new PrereadHandler(record, MAX_HELLO, 60_000, NONE);
        channel.pipeline().addLast(preread).addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                events.add(evt);
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ctx.fireChannelRead(msg); // to the channel's inbound queue
            }
        });
    }

    @AfterEach
    void tearDown() {
        channel.finishAndReleaseAll();
    }

    @Test
    void holdsTheHelloUntilItsLastRecordIsWholeThenHandsOnEveryByte() {
        byte[] wire = hello().sni("whole.example").alpn("h2").records(2);
        int cut = wire.length - 7; // inside the second record's fragment

        channel.writeInbound(tracked(Arrays.copyOfRange(wire, 0, cut)));

        assertThat(events).as("events while the last record is short").isEmpty();
        assertThat(channel.isOpen()).isTrue();
        assertThat(channel.<Object>readInbound()).as("bytes passed on early").isNull();
        assertThat(record.sni()).isNull();

        channel.writeInbound(tracked(Arrays.copyOfRange(wire, cut, wire.length)));

        assertThat(events).containsExactly(ClientHelloEvent.INSTANCE);
        assertThat(record.sni()).isEqualTo("whole.example");
        assertThat(record.ja4()).isEqualTo(NaiveJa4.of(wire));
        channel.pipeline().remove(preread);
        assertThat(readAllInbound()).isEqualTo(wire);
    }

    /** On epoll the channel reads on while the upstream is dialed: bytes then pause it at once. */
    @Test
    void bytesAfterTheDecidedHelloPauseReadingUntilTheRelay() {
        byte[] wire = hello().sni("early.example").records(1);
        channel.writeInbound(tracked(wire));
        assertThat(events).as("decided").hasSize(1);
        assertThat(channel.config().isAutoRead()).as("nothing more came: reading goes on").isTrue();

        byte[] early = new byte[100];
        channel.writeInbound(tracked(early));

        assertThat(channel.config().isAutoRead()).isFalse();
        channel.pipeline().remove(preread);
        assertThat(readAllInbound()).hasSize(wire.length + early.length);
    }

    @Test
    void aResetWhileTheDecidedConnectionIsRoutedOrConnectingClosesItQuietly() throws Exception {
        channel.writeInbound(tracked(hello().sni("reset.example").records(1)));
        assertThat(events).as("decided").hasSize(1);

        // On epoll the channel reads on while the upstream is dialed: a reset comes as an exception.
        channel.pipeline().fireExceptionCaught(new java.io.IOException("Connection reset by peer"));

        channel.checkException(); // nothing reached the pipeline's tail
        assertThat(channel.isOpen()).isFalse();
        assertThat(events).hasSize(1);
    }

    /**
     * The balancer's own connection (a PROXY LOCAL or UNKNOWN header) that resets: a health check
     * with nothing sent, a client that closed with part of a hello sent.
     */
    @Test
    void theBalancersOwnConnectionResetIsAHealthCheckOnlyWithNothingSent() {
        channel.pipeline().fireUserEventTriggered(io.snigate.core.ProxyHeaderTaken.LOCAL);
        channel.pipeline().fireExceptionCaught(new java.io.IOException("Connection reset by peer"));
        assertThat(record.reason()).isEqualTo(Reason.HEALTH_CHECK);

        setUp();
        channel.pipeline().fireUserEventTriggered(io.snigate.core.ProxyHeaderTaken.LOCAL);
        channel.writeInbound(tracked(Arrays.copyOf(hello().sni("part.example").records(1), 40)));
        channel.pipeline().fireExceptionCaught(new java.io.IOException("Connection reset by peer"));
        assertThat(record.reason()).isEqualTo(Reason.CLIENT_CLOSED);
    }

    /** No direct memory for the next read, half a ClientHello in: refused as over a budget, what was buffered released. */
    @Test
    void noDirectMemoryForTheNextReadIsAConnectionLimit() {
        byte[] wire = hello().sni("memory.example").records(2);
        channel.writeInbound(tracked(Arrays.copyOfRange(wire, 0, wire.length - 7)));

        channel.pipeline().fireExceptionCaught(new OutOfMemoryError("Cannot reserve 2048 bytes of direct buffer memory"));

        channel.checkException(); // nothing reached the pipeline's tail
        assertThat(record.reason()).isEqualTo(Reason.CONNECTION_LIMIT);
        assertThat(channel.isOpen()).isFalse();
        assertThat(events).doesNotContain(ClientHelloEvent.INSTANCE);
    }

    @Test
    void clientClosingBeforeTheLastRecordIsWholeIsMalformed() {
        byte[] wire = hello().sni("whole.example").records(2);

        channel.writeInbound(tracked(Arrays.copyOfRange(wire, 0, wire.length - 1)));
        channel.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);

        assertThat(record.reason()).isEqualTo(Reason.MALFORMED);
        assertThat(readAllOutbound()).isEqualTo(DECODE_ERROR_ALERT);
        assertThat(channel.isOpen()).isFalse();
        assertThat(events).doesNotContain(ClientHelloEvent.INSTANCE);
        assertThat(record.ja4()).isNull();
    }

    @Test
    void recordGoingOnPastTheHelloIsMalformedBeforeTheRestArrives() {
        byte[] handshake = hello().sni("past.example").handshake();
        byte[] wire = TestHellos.frame(concat(handshake, new byte[] {11, 0, 0, 2, 0, 0}), TlsVersions.TLS_1_0);

        channel.writeInbound(tracked(Arrays.copyOfRange(wire, 0, 9)));

        assertThat(record.reason()).isEqualTo(Reason.MALFORMED);
        assertThat(readAllOutbound()).isEqualTo(DECODE_ERROR_ALERT);
        assertThat(channel.isOpen()).isFalse();
        assertThat(channel.<Object>readInbound()).isNull();
        assertThat(events).doesNotContain(ClientHelloEvent.INSTANCE);
    }

    @Test
    void innerEchIsMalformedBeforeRouting() {
        channel.writeInbound(tracked(hello().sni("routable.example").echInner().record()));

        assertThat(record.reason()).isEqualTo(Reason.MALFORMED);
        assertThat(record.sni()).as("no facts for a hello that does not parse").isNull();
        assertThat(readAllOutbound()).isEqualTo(DECODE_ERROR_ALERT);
        assertThat(events).doesNotContain(ClientHelloEvent.INSTANCE);
    }

    private byte[] readAllInbound() {
        return drain(channel::readInbound);
    }

    private byte[] readAllOutbound() {
        return drain(channel::readOutbound);
    }

    /** Every byte of the buffers {@code next} gives until it gives null, each released. */
    private static byte[] drain(Supplier<ByteBuf> next) {
        ByteBuf all = Unpooled.buffer();
        for (ByteBuf b; (b = next.get()) != null; ) {
            all.writeBytes(b);
            b.release();
        }
        byte[] bytes = ByteBufUtil.getBytes(all);
        all.release();
        return bytes;
    }

    /**
     * {@code bytes} in a buffer of the pooled allocator, which the leak detector tracks (it never
     * tracks a wrapped array): a reject path that forgets to release its first read fails the class.
     */
    private static ByteBuf tracked(byte[] bytes) {
        return ByteBufAllocator.DEFAULT.buffer(bytes.length).writeBytes(bytes);
    }
}
