package io.snigate.route;

import static org.assertj.core.api.Assertions.assertThat;

import io.snigate.config.AccessLogSettings;
import io.snigate.config.ConfigLoader;
import io.snigate.config.Delivery;
import io.snigate.config.HostPort;
import io.snigate.config.Listener;
import io.snigate.config.Policy;
import io.snigate.config.ProxyConfig;
import io.snigate.config.Route;
import io.snigate.config.RoutePolicy;
import io.snigate.config.Limits;
import io.snigate.config.Timeouts;
import io.snigate.config.Upstream;
import io.snigate.core.Reason;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RouteTableTest {
    private static final Upstream EXACT = upstream("192.0.2.1");
    private static final Upstream WILDCARD = upstream("192.0.2.2");
    private static final Upstream DEEPER_WILDCARD = upstream("192.0.2.3");
    private static final Upstream H2 = upstream("192.0.2.4");
    private static final Upstream HTTP1 = upstream("192.0.2.5");
    private static final Upstream ANY_CLIENT = upstream("192.0.2.6");
    private static final Upstream FALLBACK = upstream("192.0.2.99");

    private static final List<String> NO_ALPN_EXTENSION = null;

    private final RouteTable table = RouteTable.from(config(null,
            route("*.example.org", WILDCARD),
            route("*.a.example.org", DEEPER_WILDCARD),
            route("api.example.org", EXACT),
            route("*.com", upstream("192.0.2.7"))));

    @Test
    void anExactNameBeatsEveryWildcard() {
        assertThat(table.route("api.example.org", NO_ALPN_EXTENSION, 443))
                .satisfies(routedTo("api.example.org", EXACT));
    }

    @Test
    void aWildcardMatchesAnyDepthBelowItsSuffix() {
        assertThat(table.route("x.example.org", NO_ALPN_EXTENSION, 443))
                .satisfies(routedTo("*.example.org", WILDCARD));
        assertThat(table.route("b.c.example.org", NO_ALPN_EXTENSION, 443))
                .satisfies(routedTo("*.example.org", WILDCARD));
        assertThat(table.route("x.api.example.org", NO_ALPN_EXTENSION, 443).upstream()).isEqualTo(WILDCARD);
    }

    @Test
    void theLongestWildcardSuffixWins() {
        assertThat(table.route("x.a.example.org", NO_ALPN_EXTENSION, 443))
                .satisfies(routedTo("*.a.example.org", DEEPER_WILDCARD));
        assertThat(table.route("y.x.a.example.org", NO_ALPN_EXTENSION, 443).upstream()).isEqualTo(DEEPER_WILDCARD);
        // The deeper wildcard does not cover its own apex, so the shorter one does.
        assertThat(table.route("a.example.org", NO_ALPN_EXTENSION, 443).upstream()).isEqualTo(WILDCARD);
    }

    @Test
    void aWildcardNeverMatchesItsApex() {
        assertThat(table.route("example.org", NO_ALPN_EXTENSION, 443))
                .isEqualTo(RouteDecision.rejected(Reason.NO_ROUTE, null));
    }

    @Test
    void aWildcardMatchesOnlyAtALabelBoundary() {
        assertThat(table.route("evilexample.org", NO_ALPN_EXTENSION, 443).rejectReason()).isEqualTo(Reason.NO_ROUTE);
        assertThat(table.route("x.evilexample.org", NO_ALPN_EXTENSION, 443).rejectReason()).isEqualTo(Reason.NO_ROUTE);
        assertThat(table.route("example.org.evil.net", NO_ALPN_EXTENSION, 443).rejectReason())
                .isEqualTo(Reason.NO_ROUTE);
    }

    @Test
    void aSingleLabelWildcardCoversTheWholeTopLevelDomain() {
        assertThat(table.route("example.com", NO_ALPN_EXTENSION, 443).routeLabel()).isEqualTo("*.com");
        assertThat(table.route("com", NO_ALPN_EXTENSION, 443).routeLabel()).isNull();
    }

    @Test
    void fileOrderDoesNotMatter() {
        List<Route> routes = new ArrayList<>(List.of(
                route("*.example.org", WILDCARD),
                route("*.a.example.org", DEEPER_WILDCARD),
                route("x.a.example.org", EXACT)));
        for (int i = 0; i < routes.size(); i++) {
            Collections.rotate(routes, 1);
            RouteTable rotated = RouteTable.from(config(null, routes.toArray(new Route[0])));

            assertThat(rotated.route("x.a.example.org", NO_ALPN_EXTENSION, 443).upstream()).isEqualTo(EXACT);
            assertThat(rotated.route("y.a.example.org", NO_ALPN_EXTENSION, 443).upstream()).isEqualTo(DEEPER_WILDCARD);
            assertThat(rotated.route("y.example.org", NO_ALPN_EXTENSION, 443).upstream()).isEqualTo(WILDCARD);
        }
    }

    @Test
    void alpnPicksAmongTheRoutesOfOnePattern() {
        RouteTable alpnTable = RouteTable.from(config(null,
                route("app.example.com", ANY_CLIENT),
                route("app.example.com", List.of("h2"), H2),
                route("app.example.com", List.of("http/1.1"), HTTP1)));

        assertThat(alpnTable.route("app.example.com", List.of("h2", "http/1.1"), 443))
                .satisfies(routedTo("app.example.com", H2));
        assertThat(alpnTable.route("app.example.com", List.of("http/1.1"), 443).upstream()).isEqualTo(HTTP1);
        // The route without alpn is the catch-all, even though it comes first in the file.
        assertThat(alpnTable.route("app.example.com", List.of("imap"), 443).upstream()).isEqualTo(ANY_CLIENT);
        assertThat(alpnTable.route("app.example.com", NO_ALPN_EXTENSION, 443).upstream()).isEqualTo(ANY_CLIENT);
    }

    @Test
    void aNameWhoseRoutesAllWantOtherAlpnIsRejectedWithoutFallingBack() {
        RouteTable alpnTable = RouteTable.from(config(FALLBACK,
                route("*.example.net", WILDCARD),
                route("h2.example.net", List.of("h2"), H2)));

        assertThat(alpnTable.route("h2.example.net", List.of("http/1.1"), 443))
                .isEqualTo(RouteDecision.rejected(Reason.ALPN_NOT_ALLOWED, "h2.example.net"));
        assertThat(alpnTable.route("h2.example.net", List.of("h2"), 443).upstream()).isEqualTo(H2);
    }

    @Test
    void aClientWithoutAlpnDoesNotMatchARouteThatRequiresIt() {
        RouteTable alpnTable = RouteTable.from(config(null, route("h2.example.net", List.of("h2"), H2)));

        assertThat(alpnTable.route("h2.example.net", NO_ALPN_EXTENSION, 443))
                .isEqualTo(RouteDecision.rejected(Reason.ALPN_NOT_ALLOWED, "h2.example.net"));
        assertThat(alpnTable.route("h2.example.net", List.of(), 443).rejectReason()).isEqualTo(Reason.ALPN_NOT_ALLOWED);
    }

    @Test
    void anUnmatchedNameGoesToTheDefaultUpstream() {
        RouteTable withDefault = RouteTable.from(config(FALLBACK, route("api.example.com", EXACT)));

        RouteDecision decision = withDefault.route("other.example.com", NO_ALPN_EXTENSION, 443);

        assertThat(decision).satisfies(routedTo("default", FALLBACK));
        assertThat(decision.routed()).isTrue();
    }

    @Test
    void anUnmatchedNameIsRejectedWithoutADefault() {
        RouteDecision decision = table.route("other.example.net", List.of("h2"), 443);

        assertThat(decision).isEqualTo(RouteDecision.rejected(Reason.NO_ROUTE, null));
        assertThat(decision.routed()).isFalse();
        assertThat(decision.upstream()).isNull();
    }

    @Test
    void decisionsAreMadeOnceAndReused() {
        assertThat(table.route("x.example.org", NO_ALPN_EXTENSION, 443))
                .isSameAs(table.route("y.example.org", NO_ALPN_EXTENSION, 443));
        assertThat(table.route("nothing.example", NO_ALPN_EXTENSION, 443))
                .isSameAs(table.route("nothing.else.example", NO_ALPN_EXTENSION, 443));
    }

    @Test
    void routingAllocatesNothing() {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        List<String> clientAlpn = List.of("http/1.1", "h2");
        String[] names = {"api.example.org", "x.a.example.org", "b.c.example.org", "example.org", "evil.net"};
        long checksum = 0;
        for (int i = 0; i < 20_000; i++) {
            checksum += table.route(names[i % names.length], clientAlpn, 443).hashCode();
        }
        long before = threads.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < 100_000; i++) {
            checksum += table.route(names[i % names.length], clientAlpn, 443).hashCode();
        }
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;

        // A few hundred bytes of slack for the measurement itself; one object per call would be megabytes.
        assertThat(allocated).as("bytes allocated by 100000 lookups (checksum %d)", checksum).isLessThan(4096);
    }

    @Test
    void manyWildcardsStayDistinct() {
        List<Route> routes = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            routes.add(route("*.tenant" + i + ".example.com", upstream("192.0.2." + (i % 250 + 1))));
        }
        RouteTable big = RouteTable.from(config(null, routes.toArray(new Route[0])));

        for (int i = 0; i < 500; i++) {
            assertThat(big.route("www.tenant" + i + ".example.com", NO_ALPN_EXTENSION, 443).routeLabel())
                    .isEqualTo("*.tenant" + i + ".example.com");
        }
        assertThat(big.route("www.tenant500.example.com", NO_ALPN_EXTENSION, 443).routed()).isFalse();
    }

    @Test
    void theShippedRoutesYamlRoutesAsDocumented() throws Exception {
        RouteTable shipped = RouteTable.from(ConfigLoader.load(Path.of("routes.yaml")));

        assertThat(shipped.route("api.example.com", NO_ALPN_EXTENSION, 443).upstream().label())
                .isEqualTo("192.0.2.10:443");
        assertThat(shipped.route("example.org", NO_ALPN_EXTENSION, 443).upstream()).isEqualTo(Upstream.sni(443));
        assertThat(shipped.route("www.example.org", NO_ALPN_EXTENSION, 443).routeLabel()).isEqualTo("*.example.org");
        assertThat(shipped.route("h2.example.net", List.of("http/1.1"), 443).rejectReason())
                .isEqualTo(Reason.ALPN_NOT_ALLOWED);
        assertThat(shipped.route("unknown.example", NO_ALPN_EXTENSION, 443).rejectReason()).isEqualTo(Reason.NO_ROUTE);
    }

    @Test
    void aPatternWhoseRoutesListOtherPortsDoesNotMatchAndALessSpecificOneMay() {
        Route exactOn8443 = new Route(List.of("a.example.com"), List.of(), List.of(8443), upstream("192.0.2.1"), List.of(), true, Delivery.DIRECT, 1, RoutePolicy.INHERITED, null);
        Route deepOn8443 = new Route(List.of("*.b.example.com"), List.of(), List.of(8443), upstream("192.0.2.2"), List.of(), true, Delivery.DIRECT, 2, RoutePolicy.INHERITED, null);
        Route anyPort = route("*.example.com", upstream("192.0.2.3"));
        RouteTable table = RouteTable.from(config(null, exactOn8443, deepOn8443, anyPort));

        assertThat(table.route("a.example.com", NO_ALPN_EXTENSION, 8443).routeLabel()).isEqualTo("a.example.com");
        assertThat(table.route("a.example.com", NO_ALPN_EXTENSION, 443).routeLabel()).isEqualTo("*.example.com");
        assertThat(table.route("x.b.example.com", NO_ALPN_EXTENSION, 8443).routeLabel()).isEqualTo("*.b.example.com");
        assertThat(table.route("x.b.example.com", NO_ALPN_EXTENSION, 443).routeLabel()).isEqualTo("*.example.com");
        assertThat(table.route("example.com", NO_ALPN_EXTENSION, 8443).rejectReason()).isEqualTo(Reason.NO_ROUTE);
    }

    @Test
    void portsAndAlpnTogetherPickAmongTheRoutesOfOnePattern() {
        Route h2On443 = new Route(List.of("app.example.com"), List.of("h2"), List.of(443), upstream("192.0.2.1"), List.of(), true, Delivery.DIRECT, 1, RoutePolicy.INHERITED, null);
        Route anyOn8443 = new Route(List.of("app.example.com"), List.of(), List.of(8443), upstream("192.0.2.2"), List.of(), true, Delivery.DIRECT, 2, RoutePolicy.INHERITED, null);
        RouteTable table = RouteTable.from(config(null, h2On443, anyOn8443));

        assertThat(table.route("app.example.com", List.of("h2"), 443).upstream()).isEqualTo(upstream("192.0.2.1"));
        assertThat(table.route("app.example.com", List.of("h2"), 8443).upstream()).isEqualTo(upstream("192.0.2.2"));
        assertThat(table.route("app.example.com", List.of("http/1.1"), 443).rejectReason()).isEqualTo(Reason.ALPN_NOT_ALLOWED);
        assertThat(table.route("app.example.com", List.of("h2"), 9443).rejectReason()).isEqualTo(Reason.NO_ROUTE);
    }

    private static Upstream upstream(String ip) {
        return Upstream.fixed(new HostPort(ip, 443));
    }

    /** A decision that routes by {@code label} to {@code upstream}, whichever route object made it. */
    private static java.util.function.Consumer<RouteDecision> routedTo(String label, Upstream upstream) {
        return decision -> {
            assertThat(decision.rejectReason()).isNull();
            assertThat(decision.routeLabel()).isEqualTo(label);
            assertThat(decision.upstream()).isEqualTo(upstream);
        };
    }

    private static Route route(String pattern, Upstream upstream) {
        return route(pattern, List.of(), upstream);
    }

    private static Route route(String pattern, List<String> alpn, Upstream upstream) {
        return new Route(List.of(pattern), alpn, List.of(), upstream, List.of(), true, Delivery.DIRECT, 0, RoutePolicy.INHERITED, null);
    }

    private static ProxyConfig config(Upstream defaultUpstream, Route... routes) {
        return new ProxyConfig("test", List.of(Listener.plain(new HostPort("127.0.0.1", 8443), 1)),
                ProxyConfig.DEFAULT_ADMIN, 0, List.of(routes), defaultUpstream, Timeouts.DEFAULTS, Limits.DEFAULTS, List.of(), List.of(), 0,
                0, Set.of(), Policy.DEFAULTS, AccessLogSettings.DEFAULTS);
    }
}
