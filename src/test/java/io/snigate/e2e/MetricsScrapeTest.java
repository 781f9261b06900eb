package io.snigate.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.snigate.core.Reason;
import io.snigate.testing.Corpus;
import io.snigate.testing.NettyLeaks;
import io.snigate.testing.ProcessRunner;
import io.snigate.testing.ProxyHarness;
import io.snigate.testing.RecordingServer;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Real HTTP scrapes of the admin endpoint after real forwarded and rejected traffic. */
@ExtendWith(NettyLeaks.class)
class MetricsScrapeTest {
    private static final byte[] HELLO = Corpus.resource("corpus/captured/curl-default.bin");
    private static RecordingServer upstream;
    private static ProxyHarness proxy;

    @TempDir
    static Path dir;

    @BeforeAll
    static void start() throws Exception {
        upstream = new RecordingServer();
        upstream.expectBytes(HELLO.length);
        proxy = ProxyHarness.corpusTo(upstream.port());
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
                .contains("snigate_connections_active{listener=\"127.0.0.1:0\"} 0.0")
                .contains("snigate_bytes_total{direction=\"from_client\",route=\"*.corpus.test\"} " + (3.0 * HELLO.length))
                .contains("snigate_preread_duration_seconds_count 5")
                .contains("snigate_upstream_connect_duration_seconds_count{route=\"*.corpus.test\"} 3");
        assertThat(metrics).doesNotContain("curl.corpus.test").doesNotContain("127.0.0.1:" + upstream.port());
    }

    @Test
    void publishesConfigDnsAndBuildMetrics() throws Exception {
        assertThat(scrape())
                .contains("snigate_config_last_reload_successful 1.0")
                .contains("snigate_config_reloads_total{result=\"error\"} 0.0")
                .containsPattern("snigate_config_last_reload_success_timestamp_seconds \\d")
                .contains("snigate_dns_cache_entries 0.0")
                .contains("snigate_dns_resolve_duration_seconds_count{result=\"found\"} 0")
                .containsPattern("snigate_build_info\\{transport=\"(epoll|io_uring|nio)\",version=\"[^\"]+\"} 1(\\.0)?\n")
                .contains("process_files_open_files")
                .contains("snigate_netty_allocator_used_bytes{memory=\"direct\"}");
    }

    @Test
    void everyReasonHasASeriesFromTheStart() throws Exception {
        String metrics = scrape();
        for (Reason reason : Reason.values()) {
            assertThat(metrics).contains("reason=\"" + reason.label() + "\"");
        }
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
