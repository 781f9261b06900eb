package io.snigate.listen;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.netty.channel.embedded.EmbeddedChannel;
import io.snigate.config.Limits;
import io.snigate.core.ConnectionEvent;
import io.snigate.core.ConnectionRecord;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** Who counts as one client for {@code max_connections_per_client}, and what is counted when. */
class ConnectionLimitsTest {
    private static InetAddress ip(String text) throws Exception {
        return InetAddress.getByName(text);
    }

    @Test
    void anIpv6ClientIsCountedByItsSlash64ByDefault() throws Exception {
        InetAddress one = ConnectionLimits.clientOf(ip("2001:db8:1:2:aaaa::1"), 64);
        InetAddress other = ConnectionLimits.clientOf(ip("2001:db8:1:2:ffff:1:2:3"), 64);
        InetAddress nextNetwork = ConnectionLimits.clientOf(ip("2001:db8:1:3::1"), 64);
        assertThat(one).isEqualTo(other).isEqualTo(ip("2001:db8:1:2::"));
        assertThat(nextNetwork).isNotEqualTo(one);
        assertThat(ConnectionLimits.clientOf(ip("2001:db8:1:2:aaaa::1"), 128)).isEqualTo(ip("2001:db8:1:2:aaaa::1"));
        assertThat(ConnectionLimits.clientOf(ip("2001:db8:1:2:aaaa::1"), 48)).isEqualTo(ip("2001:db8:1::"));
    }

    @Test
    void anIpv4ClientIsItsAddressAlsoWhenMapped() throws Exception {
        assertThat(ConnectionLimits.clientOf(ip("192.0.2.7"), 64)).isEqualTo(ip("192.0.2.7"));
        byte[] mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, (byte) 192, 0, 2, 7};
        assertThat(ConnectionLimits.clientOf(java.net.Inet6Address.getByAddress(null, mapped, -1), 64))
                .isEqualTo(ip("192.0.2.7"));
    }

    @Test
    void withNoPerClientLimitNothingIsCountedAndALimitAReloadSetsCountsTheConnectionsAfterIt() {
        AtomicReference<Limits> current = new AtomicReference<>(Limits.DEFAULTS); // no per-client limit
        ConnectionLimits limits = new ConnectionLimits(current::get);
        ConnectionRecord before = admitted(limits);
        assertThat(limits.admitClient(before)).isTrue();
        assertThat(before.countedAsClient()).as("counted with no limit").isNull();

        current.set(new Limits(16384, 10000, 1, 4096, 64)); // a reload: one connection a client
        ConnectionRecord first = admitted(limits);
        assertThat(limits.admitClient(first)).isTrue();
        assertThat(limits.admitClient(admitted(limits))).as("over the budget of one").isFalse();
        limits.on(ConnectionEvent.CLOSED, before, 0);
        assertThat(limits.admitClient(admitted(limits))).as("an uncounted connection gives nothing back").isFalse();
        limits.on(ConnectionEvent.CLOSED, first, 0);
        assertThat(limits.admitClient(admitted(limits))).as("the counted one does").isTrue();
    }

    @Test
    void aClientOverItsBudgetAtAcceptIsCountedNowhere() {
        ConnectionLimits limits = new ConnectionLimits(() -> new Limits(16384, 3, 1, 2, 64));
        ConnectionRecord first = record();
        assertThat(limits.admit(first, true)).isTrue();
        limits.on(ConnectionEvent.PREREAD_DONE, first, 0);
        for (int i = 0; i < 3; i++) {
            ConnectionRecord refused = record();
            assertThat(limits.admit(refused, true)).as("the client's second connection").isFalse();
            assertThat(refused.isAdmitted()).isFalse();
            limits.on(ConnectionEvent.CLOSED, refused, 0);
        }
        assertThat(limits.open()).isEqualTo(1);
        limits.on(ConnectionEvent.CLOSED, first, 0);
        assertThat(limits.open()).isZero();
        ConnectionRecord[] next = {record(), record()};
        assertThat(limits.admit(next[0], false)).as("the pre-read budget of two is whole again").isTrue();
        assertThat(limits.admit(next[1], false)).isTrue();
    }

    /** A full budget is said on standard error, once a second however many it refuses. */
    @Test
    void aFullBudgetIsSaidOnceASecond() {
        Logger limitsLog = (Logger) LoggerFactory.getLogger(ConnectionLimits.class);
        ListAppender<ILoggingEvent> said = new ListAppender<>();
        said.start();
        limitsLog.addAppender(said);
        try {
            ConnectionLimits limits = new ConnectionLimits(() -> new Limits(16384, 1, 0, 4096, 64));
            admitted(limits);
            for (int i = 0; i < 5; i++) {
                assertThat(limits.admit(record(), false)).isFalse();
            }
        } finally {
            limitsLog.detachAppender(said);
        }
        assertThat(said.list).extracting(ILoggingEvent::getFormattedMessage).containsExactly(
                "limits.max_connections (1) reached: new connections are closed at accept (reason connection_limit);"
                        + " raise it (under half the process's open-file limit) or add instances");
    }

    /** A connection from 192.0.2.7, admitted to the budgets in all and in pre-read. */
    private static ConnectionRecord admitted(ConnectionLimits limits) {
        ConnectionRecord record = record();
        assertThat(limits.admit(record, false)).isTrue();
        return record;
    }

    /** A connection from 192.0.2.7, not yet counted anywhere. */
    private static ConnectionRecord record() {
        EmbeddedChannel channel = new EmbeddedChannel() {
            @Override
            public SocketAddress remoteAddress() {
                return new InetSocketAddress("192.0.2.7", 40000);
            }
        };
        return ConnectionRecord.attach(channel, "test", (event, c, nanos) -> {});
    }
}
