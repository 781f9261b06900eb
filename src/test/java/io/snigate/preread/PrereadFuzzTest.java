package io.snigate.preread;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.snigate.core.ClientHelloEvent;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.ConnectionRecord;
import io.snigate.core.Reason;
import java.util.ArrayList;
import java.util.List;

/**
 * The whole pre-read step, fed byte by byte as the slowest network would deliver it, then the
 * end of stream: whatever the bytes, no exception escapes the pipeline, every buffer is released
 * or handed on, the verdict agrees with the parser's on the whole input, and a complete
 * ClientHello's bytes come out of the handler exactly as they went in.
 */
class PrereadFuzzTest {
    private static final int MAX_HELLO = 16384;

    private static final ConnectionObserver NONE = (event, connection, nanos) -> {};

    // Only fuzzing mode (JAZZER_FUZZ=1) runs this long; mvn verify replays the seed inputs once.
    @FuzzTest(maxDuration = "1h")
    void prereadNeverLeaksOrThrows(byte[] input) {
        List<ClientHelloEvent> events = new ArrayList<>();
        EmbeddedChannel channel = new EmbeddedChannel();
        ConnectionRecord record = ConnectionRecord.attach(channel, "fuzz", NONE);
        PrereadHandler preread = new PrereadHandler(record, MAX_HELLO, 60_000, NONE);
        channel.pipeline().addLast(preread).addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof ClientHelloEvent hello) {
                    events.add(hello);
                }
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ctx.fireChannelRead(msg); // to the channel's inbound queue, read back below
            }
        });
        List<ByteBuf> written = new ArrayList<>();
        for (byte b : input) {
            if (!channel.isOpen() || !events.isEmpty()) {
                break;
            }
            ByteBuf one = Unpooled.buffer(1).writeByte(b);
            written.add(one);
            channel.writeInbound(one);
        }
        if (channel.isOpen() && events.isEmpty()) {
            channel.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        }
        channel.checkException();

        ParserHarness.CollectingSink wholeFacts = new ParserHarness.CollectingSink();
        PrereadVerdict whole = ClientHelloParser.parse(Unpooled.wrappedBuffer(input), MAX_HELLO, true, wholeFacts);
        if (!events.isEmpty()) {
            assertThat(whole.isComplete()).isTrue();
            assertThat(record.sni()).isEqualTo(wholeFacts.hello().sni());
            assertThat(record.alpn()).isEqualTo(wholeFacts.hello().alpn());
            assertThat(record.ja4()).isEqualTo(wholeFacts.hello().ja4());
            channel.pipeline().remove(preread);
            ByteBuf passedOn = channel.readInbound();
            byte[] bytes = new byte[passedOn.readableBytes()];
            passedOn.readBytes(bytes);
            passedOn.release();
            assertThat(input).startsWith(bytes);
        } else {
            assertThat(channel.isOpen()).as("an undecided connection is refused and closed").isFalse();
            assertThat(record.reason()).isNotNull().isNotEqualTo(Reason.PREREAD_TIMEOUT);
        }
        channel.finishAndReleaseAll();
        assertThat(written).as("every buffer written is released or handed on, and released there")
                .allSatisfy(buffer -> assertThat(buffer.refCnt()).isZero());
    }
}
