package io.snigate.listen;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;

/** Who counts as one client for {@code max_connections_per_client}. */
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
}
