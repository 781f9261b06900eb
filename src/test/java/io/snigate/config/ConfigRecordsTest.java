package io.snigate.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snigate.core.Reason;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConfigRecordsTest {

    @Test
    void hostPortReadsIpv4Ipv6AndNames() {
        assertThat(HostPort.parse("192.0.2.1:443")).isEqualTo(new HostPort("192.0.2.1", 443));
        assertThat(HostPort.parse("[2001:db8::1]:443")).isEqualTo(new HostPort("2001:db8::1", 443));
        assertThat(HostPort.parse("Upstream.Example.com.:8443")).isEqualTo(new HostPort("upstream.example.com", 8443));
    }

    @Test
    void hostPortPrintsAsWritten() {
        assertThat(HostPort.parse("[::1]:443")).hasToString("[::1]:443");
        assertThat(HostPort.parse("192.0.2.1:443")).hasToString("192.0.2.1:443");
        assertThat(HostPort.parse("name.example:443")).hasToString("name.example:443");
    }

    @Test
    void onlyIpLiteralsBecomeSocketAddressesWithoutDns() {
        assertThat(HostPort.parse("[::1]:443").toResolvedLiteral())
                .isEqualTo(new InetSocketAddress("0:0:0:0:0:0:0:1", 443));
        assertThat(HostPort.parse("192.0.2.1:443").isIpLiteral()).isTrue();
        HostPort name = HostPort.parse("name.example:443");
        assertThat(name.isIpLiteral()).isFalse();
        assertThatThrownBy(name::toResolvedLiteral).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void hostPortRefusesWhatIsNotOne() {
        assertThatThrownBy(() -> HostPort.parse("$sni:443")).hasMessage("$sni can only be used as an upstream");
        assertThatThrownBy(() -> HostPort.parse("192.0.2.1:0")).hasMessage("port must be 1 to 65535");
        assertThatThrownBy(() -> HostPort.parse("192.0.2.1:https")).hasMessage("port \"https\" is not a number");
        assertThatThrownBy(() -> HostPort.parse("[2001:db8::1]")).hasMessageStartingWith("the port is missing");
        assertThatThrownBy(() -> HostPort.parse("[2001:db8::zz]:443"))
                .hasMessage("\"2001:db8::zz\" is not a valid IPv6 address");
        assertThatThrownBy(() -> HostPort.parse("256.0.0.1:443"))
                .hasMessage("\"256.0.0.1\" is neither an IP address nor a valid host name");
        assertThatThrownBy(() -> HostPort.parse("010.0.0.1:3128")).hasMessage("\"010.0.0.1\" has a leading zero,"
                + " which some tools read as octal; write each part of the address without one");
        assertThat(HostPort.parse("10.0.0.1:3128").host()).isEqualTo("10.0.0.1");
    }

    @Test
    void upstreamLabelsReadAsWritten() {
        assertThat(Upstream.parse("$sni:443")).isEqualTo(Upstream.sni(443));
        assertThat(Upstream.sni(8443).label()).isEqualTo("$sni:8443");
        assertThat(Upstream.parse("[2001:db8::1]:443").label()).isEqualTo("[2001:db8::1]:443");
        assertThat(Upstream.parse("192.0.2.1:443").hostPort()).isEqualTo(new HostPort("192.0.2.1", 443));
        assertThat(Upstream.parse("192.0.2.1:443").isIpLiteral()).isTrue();
        assertThat(Upstream.sni(443).isIpLiteral()).isFalse();
        assertThatThrownBy(() -> Upstream.sni(443).hostPort()).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void recordsCopyTheirLists() {
        List<String> match = new ArrayList<>(List.of("a.example.com"));
        Route route = new Route(match, List.of(), List.of(), Upstream.sni(443), List.of(), true, Delivery.DIRECT, 1, RoutePolicy.INHERITED, null);
        match.add("b.example.com");

        assertThat(route.match()).containsExactly("a.example.com");
        assertThatThrownBy(() -> route.match().add("c.example.com"))
                .isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void upstreamsTakeThePortOrTheAddressTheClientDialed() {
        assertThat(Upstream.parse("$sni:$port")).isEqualTo(Upstream.sni(Upstream.ORIGINAL_PORT));
        assertThat(Upstream.parse("$sni:$port").label()).isEqualTo("$sni:$port");
        assertThat(Upstream.parse("$original_dst")).isEqualTo(Upstream.originalDst());
        assertThat(Upstream.parse("[2001:db8::1]:$port").label()).isEqualTo("[2001:db8::1]:$port");
        assertThat(Upstream.parse("[2001:db8::1]:$port").isIpLiteral()).isTrue();
        assertThat(Upstream.parse("Name.Example:$port").label()).isEqualTo("name.example:$port");
        assertThatThrownBy(() -> Upstream.parse("name.example:$port").hostPort()).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> Upstream.parse("$original_dst:443")).hasMessageContaining("without a port");
        assertThatThrownBy(() -> Upstream.parse("$dst:443")).hasMessageStartingWith("the placeholders are $sni");
        assertThatThrownBy(() -> Upstream.parse("$sni:$prot")).hasMessage("port \"$prot\" is not a number");
        assertThatThrownBy(() -> Upstream.parse("host.example:$sni")).hasMessageStartingWith("the placeholders are");
    }

    /**
     * A listener judges a client a PROXY header named by its balancer's trust first, then by its
     * clients, at the header and at a reload alike (before: the reload asked the clients first,
     * so a client both denied and named by an untrusted balancer had another reason there).
     */
    @Test
    void aListenerJudgesTheBalancerBeforeTheClientItNamed() throws Exception {
        ProxyConfig config = ConfigLoader.parse("""
                listen:
                  - address: "127.0.0.1:8443"
                    proxy_protocol: { trusted: ["10.0.0.1/32"] }
                    clients: { deny: ["192.0.2.0/24"] }
                routes:
                  - match: "a.example"
                    upstream: "127.0.0.1:9"
                """, "test.yaml");
        Listener listener = config.listeners().get(0);
        InetAddress trusted = InetAddress.getByName("10.0.0.1");
        InetAddress untrusted = InetAddress.getByName("10.0.0.2");
        InetAddress denied = InetAddress.getByName("192.0.2.7");
        InetAddress admitted = InetAddress.getByName("198.51.100.7");
        assertThat(listener.refusalOf(untrusted, denied, true)).isEqualTo(Reason.PROXY_PROTOCOL_UNTRUSTED);
        assertThat(listener.refusalOf(untrusted, admitted, true)).isEqualTo(Reason.PROXY_PROTOCOL_UNTRUSTED);
        assertThat(listener.refusalOf(trusted, denied, true)).isEqualTo(Reason.CLIENT_NOT_ALLOWED);
        assertThat(listener.refusalOf(trusted, admitted, true)).isNull();
        assertThat(listener.refusalOf(null, denied, false)).as("a client that is its own peer").isEqualTo(Reason.CLIENT_NOT_ALLOWED);
        assertThat(listener.refusalOf(null, admitted, false)).isNull();
    }
}
