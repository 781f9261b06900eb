package io.snigate.transport;

import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelOption;
import io.netty.channel.DefaultChannelConfig;
import io.netty.channel.MessageSizeEstimator;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.SocketChannelConfig;
import io.netty.channel.unix.IntegerUnixChannelOption;
import io.netty.channel.unix.RawUnixChannelOption;
import io.netty.channel.unix.Socket;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The settings of a {@link RingClientChannel}: Netty's generic ones, half-closure, and raw and
 * integer socket options read and written on the socket itself (the original destination of a
 * redirected connection is one). The TCP settings a {@code SocketChannelConfig} names are left as
 * the accepted socket inherited them from its listener; setting one here changes nothing.
 */
final class RingClientConfig extends DefaultChannelConfig implements SocketChannelConfig {
    private final RingClientChannel channel;
    private volatile boolean allowHalfClosure;

    RingClientConfig(RingClientChannel channel) {
        super(channel);
        this.channel = channel;
    }

    @Override
    public <T> boolean setOption(ChannelOption<T> option, T value) {
        if (option == ChannelOption.ALLOW_HALF_CLOSURE) {
            allowHalfClosure = (Boolean) value;
            return true;
        }
        try {
            if (option instanceof IntegerUnixChannelOption opt) {
                socket().setIntOpt(opt.level(), opt.optname(), (Integer) value);
                return true;
            }
            if (option instanceof RawUnixChannelOption opt) {
                socket().setRawOpt(opt.level(), opt.optname(), (ByteBuffer) value);
                return true;
            }
        } catch (IOException e) {
            throw new ChannelException(e);
        }
        return super.setOption(option, value);
    }

    @SuppressWarnings("unchecked")
    @Override
    public <T> T getOption(ChannelOption<T> option) {
        if (option == ChannelOption.ALLOW_HALF_CLOSURE) {
            return (T) Boolean.valueOf(allowHalfClosure);
        }
        try {
            if (option instanceof IntegerUnixChannelOption opt) {
                return (T) Integer.valueOf(socket().getIntOpt(opt.level(), opt.optname()));
            }
            if (option instanceof RawUnixChannelOption opt) {
                ByteBuffer out = ByteBuffer.allocate(opt.length());
                socket().getRawOpt(opt.level(), opt.optname(), out);
                return (T) out.flip();
            }
        } catch (IOException e) {
            throw new ChannelException(e);
        }
        return super.getOption(option);
    }

    private Socket socket() {
        return (Socket) channel.fd();
    }

    @Override public boolean isAllowHalfClosure() { return allowHalfClosure; }
    @Override public SocketChannelConfig setAllowHalfClosure(boolean allow) { allowHalfClosure = allow; return this; }
    @Override public boolean isTcpNoDelay() { return true; }
    @Override public SocketChannelConfig setTcpNoDelay(boolean tcpNoDelay) { return this; }
    @Override public int getSoLinger() { return -1; }
    @Override public SocketChannelConfig setSoLinger(int soLinger) { return this; }
    @Override public int getSendBufferSize() { return 0; }
    @Override public SocketChannelConfig setSendBufferSize(int size) { return this; }
    @Override public int getReceiveBufferSize() { return 0; }
    @Override public SocketChannelConfig setReceiveBufferSize(int size) { return this; }
    @Override public boolean isKeepAlive() { return false; }
    @Override public SocketChannelConfig setKeepAlive(boolean keepAlive) { return this; }
    @Override public int getTrafficClass() { return 0; }
    @Override public SocketChannelConfig setTrafficClass(int trafficClass) { return this; }
    @Override public boolean isReuseAddress() { return false; }
    @Override public SocketChannelConfig setReuseAddress(boolean reuseAddress) { return this; }
    @Override public SocketChannelConfig setPerformancePreferences(int c, int l, int b) { return this; }
    @Override public SocketChannelConfig setConnectTimeoutMillis(int ms) { super.setConnectTimeoutMillis(ms); return this; }
    @Override @Deprecated public SocketChannelConfig setMaxMessagesPerRead(int n) { super.setMaxMessagesPerRead(n); return this; }
    @Override public SocketChannelConfig setWriteSpinCount(int n) { super.setWriteSpinCount(n); return this; }
    @Override public SocketChannelConfig setAllocator(ByteBufAllocator a) { super.setAllocator(a); return this; }
    @Override public SocketChannelConfig setRecvByteBufAllocator(RecvByteBufAllocator a) { super.setRecvByteBufAllocator(a); return this; }
    @Override public SocketChannelConfig setAutoRead(boolean autoRead) { super.setAutoRead(autoRead); return this; }
    @Override public SocketChannelConfig setAutoClose(boolean autoClose) { super.setAutoClose(autoClose); return this; }
    @Override public SocketChannelConfig setMessageSizeEstimator(MessageSizeEstimator e) { super.setMessageSizeEstimator(e); return this; }
    @Override public SocketChannelConfig setWriteBufferWaterMark(WriteBufferWaterMark m) { super.setWriteBufferWaterMark(m); return this; }
}
