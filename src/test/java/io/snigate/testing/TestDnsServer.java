package io.snigate.testing;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.dns.DatagramDnsQuery;
import io.netty.handler.codec.dns.DatagramDnsQueryDecoder;
import io.netty.handler.codec.dns.DatagramDnsResponse;
import io.netty.handler.codec.dns.DatagramDnsResponseEncoder;
import io.netty.handler.codec.dns.DefaultDnsRawRecord;
import io.netty.handler.codec.dns.DnsOpCode;
import io.netty.handler.codec.dns.DnsQuestion;
import io.netty.handler.codec.dns.DnsRecordType;
import io.netty.handler.codec.dns.DnsResponseCode;
import io.netty.handler.codec.dns.DnsSection;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real DNS server on 127.0.0.1 (UDP, built on netty-codec-dns) that answers A and AAAA queries
 * from a table (an address answers the query of its family; a name may have one of each), and can
 * be told to answer NXDOMAIN, SERVFAIL or nothing at all for a name, or to hold a name's answers,
 * or its AAAA answers only, until the test releases them. Names under a registered
 * {@code *.suffix} answer like the suffix's entry.
 */
public final class TestDnsServer implements AutoCloseable {
    public enum Behaviour { ANSWER, NXDOMAIN, SERVFAIL, SILENT, HELD, HELD_AAAA }

    /** What a name is answered with: its addresses, A and AAAA records by their length. */
    private record Entry(Behaviour behaviour, List<InetAddress> addresses, int ttl) {
        Entry(Behaviour behaviour, InetAddress address, int ttl) {
            this(behaviour, address == null ? List.of() : List.of(address), ttl);
        }
    }

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Map<String, Entry> entries = new ConcurrentHashMap<>();
    private final AtomicInteger queries = new AtomicInteger();
    /** Queries by the name asked, lower case and without the trailing dot. */
    private final Map<String, AtomicInteger> queriesByName = new ConcurrentHashMap<>();
    /** The answers {@link #hold} keeps back, sent by {@link #release}. */
    private final List<Runnable> held = new ArrayList<>();
    private final Channel channel;

    public TestDnsServer() throws InterruptedException {
        channel = new Bootstrap()
                .group(group)
                .channel(NioDatagramChannel.class)
                .handler(new io.netty.channel.ChannelInitializer<NioDatagramChannel>() {
                    @Override
                    protected void initChannel(NioDatagramChannel ch) {
                        ch.pipeline()
                                .addLast(new DatagramDnsQueryDecoder())
                                .addLast(new DatagramDnsResponseEncoder())
                                .addLast(new Answerer());
                    }
                })
                .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .sync()
                .channel();
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    /** "127.0.0.1:PORT", for the config's {@code resolvers}. */
    public String hostPort() {
        return "127.0.0.1:" + address().getPort();
    }

    public int queries() {
        return queries.get();
    }

    /** How many queries (A and AAAA together) asked for {@code name}. */
    public int queriesFor(String name) {
        AtomicInteger count = queriesByName.get(name.toLowerCase(Locale.ROOT));
        return count == null ? 0 : count.get();
    }

    public TestDnsServer answer(String name, InetAddress address, int ttlSeconds) {
        entries.put(name.toLowerCase(Locale.ROOT), new Entry(Behaviour.ANSWER, address, ttlSeconds));
        return this;
    }

    /** Answers {@code name} with {@code address}, but only once {@link #release} is called. */
    public TestDnsServer hold(String name, InetAddress address, int ttlSeconds) {
        entries.put(name.toLowerCase(Locale.ROOT), new Entry(Behaviour.HELD, address, ttlSeconds));
        return this;
    }

    /** Sends every answer held so far. */
    public void release() {
        channel.eventLoop().execute(() -> {
            held.forEach(Runnable::run);
            held.clear();
        });
    }

    /** Answers {@code name} with every one of {@code addresses}, in their order, each to the query of its family. */
    public TestDnsServer answerAll(String name, List<InetAddress> addresses, int ttlSeconds) {
        entries.put(name.toLowerCase(Locale.ROOT), new Entry(Behaviour.ANSWER, List.copyOf(addresses), ttlSeconds));
        return this;
    }

    /** Answers {@code name} with both addresses, each to the query of its family. */
    public TestDnsServer answerBoth(String name, InetAddress ipv4, InetAddress ipv6, int ttlSeconds) {
        entries.put(name.toLowerCase(Locale.ROOT), new Entry(Behaviour.ANSWER, List.of(ipv4, ipv6), ttlSeconds));
        return this;
    }

    /**
     * Answers {@code name}'s A queries with {@code ipv4} at once, and its AAAA queries with
     * {@code ipv6} only once {@link #release} is called: a resolver that is slow or silent for AAAA.
     */
    public TestDnsServer answerAaaaOnRelease(String name, InetAddress ipv4, InetAddress ipv6, int ttlSeconds) {
        entries.put(name.toLowerCase(Locale.ROOT), new Entry(Behaviour.HELD_AAAA, List.of(ipv4, ipv6), ttlSeconds));
        return this;
    }

    public TestDnsServer behave(String name, Behaviour behaviour) {
        entries.put(name.toLowerCase(Locale.ROOT), new Entry(behaviour, List.of(), 0));
        return this;
    }

    private Entry lookup(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        if (n.endsWith(".")) {
            n = n.substring(0, n.length() - 1);
        }
        Entry exact = entries.get(n);
        if (exact != null) {
            return exact;
        }
        for (int dot = n.indexOf('.'); dot >= 0; dot = n.indexOf('.', dot + 1)) {
            Entry wildcard = entries.get("*" + n.substring(dot));
            if (wildcard != null) {
                return wildcard;
            }
        }
        return new Entry(Behaviour.NXDOMAIN, List.of(), 0);
    }

    private final class Answerer extends SimpleChannelInboundHandler<DatagramDnsQuery> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, DatagramDnsQuery query) {
            queries.incrementAndGet();
            DnsQuestion question = query.recordAt(DnsSection.QUESTION);
            String asked = question.name().toLowerCase(Locale.ROOT);
            asked = asked.endsWith(".") ? asked.substring(0, asked.length() - 1) : asked;
            queriesByName.computeIfAbsent(asked, name -> new AtomicInteger()).incrementAndGet();
            Entry entry = lookup(question.name());
            if (entry.behaviour() == Behaviour.SILENT) {
                return;
            }
            InetSocketAddress sender = query.sender();
            InetSocketAddress recipient = query.recipient();
            int id = query.id();
            if (entry.behaviour() == Behaviour.HELD
                    || entry.behaviour() == Behaviour.HELD_AAAA && question.type() == DnsRecordType.AAAA) {
                held.add(() -> respond(ctx, recipient, sender, id, question, entry));
            } else {
                respond(ctx, recipient, sender, id, question, entry);
            }
        }

        private void respond(ChannelHandlerContext ctx, InetSocketAddress recipient, InetSocketAddress sender, int id,
                DnsQuestion question, Entry entry) {
            DatagramDnsResponse response = new DatagramDnsResponse(recipient, sender, id, DnsOpCode.QUERY);
            response.setRecursionAvailable(true);
            response.addRecord(DnsSection.QUESTION, question);
            switch (entry.behaviour()) {
                case NXDOMAIN -> response.setCode(DnsResponseCode.NXDOMAIN);
                case SERVFAIL -> response.setCode(DnsResponseCode.SERVFAIL);
                default -> {
                    for (InetAddress address : entry.addresses()) {
                        byte[] ip = address.getAddress();
                        boolean wantsA = question.type() == DnsRecordType.A && ip.length == 4;
                        boolean wantsAaaa = question.type() == DnsRecordType.AAAA && ip.length == 16;
                        if (wantsA || wantsAaaa) {
                            response.addRecord(DnsSection.ANSWER, new DefaultDnsRawRecord(
                                    question.name(), question.type(), entry.ttl(), Unpooled.wrappedBuffer(ip)));
                        }
                    }
                }
            }
            ctx.writeAndFlush(response);
        }
    }

    @Override
    public void close() {
        channel.close();
        group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
    }
}
