package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.snigate.core.Reason;
import io.snigate.testing.Corpus;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProcessRunner;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.RecordingServer;
import io.snigate.testing.TestDnsServer;
import java.net.InetAddress;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Real HTTP scrapes of the admin endpoint after real forwarded and rejected traffic. */
@ExtendWith(NettyLeaks.class)
class MetricsScrapeTest {
    private static final byte[] HELLO = Corpus.resource("corpus/captured/curl-default.bin"); // curl.corpus.test
    private static final byte[] UNRESOLVABLE = Corpus.resource("corpus/captured/openssl-tls13-default.bin");
    private static RecordingServer upstream;
    private static TestDnsServer dns;
    private static ProxyHarness proxy;
    /** The scrape before the first connection. */
    private static String firstScrape;

    @TempDir
    static Path dir;

    @BeforeAll
    static void start() throws Exception {
        upstream = new RecordingServer();
        upstream.expectBytes(HELLO.length);
        // The upstream is a name, resolved through a real DNS server on loopback.
        dns = new TestDnsServer()
                .answer("upstream.dns.test", InetAddress.getLoopbackAddress(), 60)
                .behave("missing.dns.test", TestDnsServer.Behaviour.NXDOMAIN);
        proxy = ProxyHarness.start("""
                resolvers: ["%s"]
                routes:
                  - match: "*.corpus.test"
                    upstream: "upstream.dns.test:%d"
                  - match: "openssl-tls13.corpus.test"
                    upstream: "missing.dns.test:443"
                """.formatted(dns.hostPort(), upstream.port()));
        firstScrape = scrape();
        try (Socket client = proxy.connect()) {
            client.getOutputStream().write(UNRESOLVABLE);
            ProxyHarness.readUntilClosed(client);
        }
        assertThat(proxy.nextLog().get("reason").asText()).isEqualTo("dns_failure");
        for (int i = 0; i < 3; i++) {
            try (Socket client = proxy.connect()) {
                client.getOutputStream().write(HELLO);
                upstream.nextReceived(10_000);
                ProxyHarness.readUntilClosed(client);
            }
            proxy.nextLog();
        }
        for (int i = 0; i < 2; i++) {
            try (Socket client = proxy.connect()) {
                client.getOutputStream().write("GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                client.shutdownOutput();
                ProxyHarness.readUntilClosed(client);
            }
            proxy.nextLog();
        }
    }

    @AfterAll
    static void stop() throws Exception {
        proxy.close();
        upstream.close();
        dns.close();
    }

    private static String scrape() throws Exception {
        HttpResponse<String> response = proxy.admin("/metrics", null);
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("text/plain; version=0.0.4; charset=utf-8");
        return response.body();
    }

    @Test
    void countsForwardedAndRejectedConnectionsByReason() throws Exception {
        String metrics = scrape();
        assertThat(metrics)
                .contains("snigate_connections_total{listener=\"127.0.0.1:0\",outcome=\"forwarded\",reason=\"none\",route=\"*.corpus.test\"} 3.0")
                .contains("snigate_connections_total{listener=\"127.0.0.1:0\",outcome=\"rejected\",reason=\"plain_http\",route=\"none\"} 2.0")
                .contains("snigate_connections_total{listener=\"127.0.0.1:0\",outcome=\"failed\",reason=\"upstream_timeout\",route=\"*.corpus.test\"} 0.0")
                .contains("snigate_connections_total{listener=\"127.0.0.1:0\",outcome=\"failed\",reason=\"dns_failure\",route=\"openssl-tls13.corpus.test\"} 1.0")
                .contains("snigate_connections_active{listener=\"127.0.0.1:0\"} 0.0")
                .contains("snigate_bytes_total{direction=\"from_client\",route=\"*.corpus.test\"} " + (3.0 * HELLO.length))
                .contains("snigate_preread_duration_seconds_count 6")
                .contains("snigate_upstream_connect_duration_seconds_count{route=\"*.corpus.test\"} 3");
        assertThat(metrics).doesNotContain("curl.corpus.test").doesNotContain("127.0.0.1:" + upstream.port());
    }

    @Test
    void publishesConfigDnsAndBuildMetrics() throws Exception {
        assertThat(scrape())
                .contains("snigate_config_last_reload_successful 1.0")
                .contains("snigate_config_reloads_total{result=\"failure\"} 0.0")
                .containsPattern("snigate_config_last_reload_success_timestamp_seconds \\d")
                .contains("snigate_dns_cache_entries 1.0")
                // One lookup per connection routed to the name, cache hits included.
                .contains("snigate_dns_resolve_duration_seconds_count{result=\"success\"} 3")
                .contains("snigate_dns_resolve_duration_seconds_count{result=\"failure\"} 1")
                .containsPattern("snigate_build_info\\{transport=\"(epoll|io_uring|nio)\",version=\"[^\"]+\"} 1(\\.0)?\n")
                .contains("process_files_open_files")
                .contains("snigate_netty_allocator_used_bytes{memory=\"direct\"}");
    }

    @Test
    void everyReasonHasASeriesFromTheStart() throws Exception {
        for (Reason reason : Reason.values()) {
            assertThat(firstScrape).contains("reason=\"" + reason.label() + "\",route=\"none\"");
            // A route's series leave out what ends a connection before any route is chosen.
            assertThat(firstScrape.contains("reason=\"" + reason.label() + "\",route=\"*.corpus.test\""))
                    .as("%s under a route", reason).isEqualTo(!reason.beforeRouting());
        }
        // The route meters too, of every route and of "none" (no route took the connection).
        for (String route : new String[] {"*.corpus.test", "openssl-tls13.corpus.test", "none"}) {
            assertThat(firstScrape).as("the series of route %s before the first connection", route)
                    .contains("snigate_bytes_total{direction=\"from_client\",route=\"" + route + "\"} 0.0")
                    .contains("snigate_bytes_total{direction=\"to_client\",route=\"" + route + "\"} 0.0")
                    .contains("snigate_connection_duration_seconds_count{route=\"" + route + "\"} 0")
                    // A tunnel's lifetime has buckets up to a week, not the latencies' 30 s.
                    .contains("snigate_connection_duration_seconds_bucket{route=\"" + route + "\",le=\"3600.0\"} 0")
                    .contains("snigate_connection_duration_seconds_bucket{route=\"" + route + "\",le=\"604800.0\"} 0")
                    .contains("snigate_upstream_connect_duration_seconds_count{route=\"" + route + "\"} 0");
        }
    }

    /**
     * The alert rules and the dashboard shipped in deploy/ ask only for metrics, reasons and
     * outcomes a real scrape has: a renamed metric or reason cannot leave them silently empty.
     */
    @Test
    void everyMetricReasonAndOutcomeTheAlertsAndTheDashboardUseIsScraped() throws Exception {
        String metrics = scrape();
        String deployed = Files.readString(Path.of("deploy/prometheus/alerts.yaml"))
                + Files.readString(Path.of("deploy/grafana/snigate-dashboard.json")).replace("\\\"", "\"");
        Set<String> names = new TreeSet<>();
        Matcher name = Pattern.compile("\\b(snigate_[a-z_]+)").matcher(deployed);
        while (name.find()) {
            names.add(name.group(1));
        }
        assertThat(names).as("metrics the deploy files use").hasSizeGreaterThan(5);
        for (String used : names) {
            assertThat(metrics).as("a scrape has " + used).containsPattern("(?m)^(# TYPE )?" + used + "[{ ]");
        }
        Matcher label = Pattern.compile("\\b(reason|outcome)\\s*(?:=~|!~|!=|=)\\s*\"([^\"]+)\"").matcher(deployed);
        int values = 0;
        while (label.find()) {
            if (label.group(2).contains("{{")) {
                continue; // an alert's text template, not a selector
            }
            for (String value : label.group(2).split("\\|")) {
                assertThat(metrics).as("a scrape has " + label.group(1) + "=" + value)
                        .contains(label.group(1) + "=\"" + value + "\"");
                values++;
            }
        }
        assertThat(values).as("reason and outcome values the deploy files use").isGreaterThan(3);
    }

    @Test
    void servesOpenMetricsWhenTheScraperAsksForIt() throws Exception {
        HttpResponse<String> response = proxy.admin("/metrics", "application/openmetrics-text; version=1.0.0");
        assertThat(response.headers().firstValue("Content-Type").orElseThrow()).startsWith("application/openmetrics-text");
        assertThat(response.body()).endsWith("# EOF\n");
    }

    @Test
    void healthAndReadinessAnswer200() throws Exception {
        assertThat(proxy.admin("/healthz", null).statusCode()).isEqualTo(200);
        assertThat(proxy.admin("/readyz", null).statusCode()).isEqualTo(200);
        assertThat(proxy.admin("/nothing", null).statusCode()).isEqualTo(404);
    }

    @Test
    void promtoolFindsNoProblemInAScrape() throws Exception {
        boolean installed = Files.isExecutable(Path.of("/usr/bin/promtool"));
        org.junit.jupiter.api.Assumptions.assumeTrue(installed || System.getenv("CI") != null,
                "promtool is not installed here (.ci/run installs it)");
        ProcessRunner.Result check = ProcessRunner.runWithInput(30, scrape().getBytes(StandardCharsets.UTF_8),
                "promtool", "check", "metrics");
        assertThat(check.exitCode()).as(check.stdout() + check.stderr()).isZero();
    }
}
