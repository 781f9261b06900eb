package io.snigate.log;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.channel.embedded.EmbeddedChannel;
import io.snigate.config.HostPort;
import io.snigate.core.ConnectionRecord;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The access log's own formatting of times and strings, against what it replaces. */
class AccessLogTest {

    @Test
    void writesTimesAsInstantToStringDoes() {
        long start = Instant.parse("2026-12-02T01:13:59.990Z").toEpochMilli();
        // Across second and minute boundaries, 0 ms (no fraction) included, and out of order, so
        // that the shared prefix of one second must not leak into another.
        long[] offsets = {0, 9, 10, 11, 1010, 25, -5000, 1000, 60_010, 3_600_000, 86_400_000L * 400, 9};
        for (long offset : offsets) {
            for (int ms = 0; ms < 1000; ms += 7) {
                long millis = start + offset + ms;
                StringBuilder json = new StringBuilder();
                AccessLog.time(json, millis);
                assertThat(json.toString()).as("%d", millis).isEqualTo(Instant.ofEpochMilli(millis).toString());
            }
        }
        StringBuilder zero = new StringBuilder();
        AccessLog.time(zero, Instant.parse("2026-12-02T01:14:00Z").toEpochMilli());
        assertThat(zero.toString()).isEqualTo("2026-12-02T01:14:00Z");
    }

    @Test
    void escapesOnlyWhatJsonAndTheLogNeed() {
        assertThat(json("app.example.com")).isEqualTo("\"app.example.com\"");
        assertThat(json("")).isEqualTo("\"\"");
        assertThat(json(null)).isEqualTo("null");
        assertThat(json("a\"b")).isEqualTo("\"a\\\"b\"");
        assertThat(json("a\\b")).isEqualTo("\"a\\\\b\"");
        assertThat(json("a\nb\u0000")).isEqualTo("\"a\\u000ab\\u0000\"");
        assertThat(json("\u007f é")).isEqualTo("\"\\u007f \\u00e9\"");
        assertThat(json("h2\u2028")).isEqualTo("\"h2\\u2028\"");
        assertThat(json("\uffff\ud800\u0abc")).isEqualTo("\"\\uffff\\ud800\\u0abc\"");
    }

    @Test
    void writesAddressesAsHostPortFormatsThem() throws Exception {
        InetSocketAddress client = new InetSocketAddress(InetAddress.getByName("192.0.2.7"), 40000);
        InetSocketAddress mapped = new InetSocketAddress(InetAddress.getByName("::ffff:10.0.0.255"), 443);
        InetSocketAddress v6 = new InetSocketAddress(InetAddress.getByName("2001:db8:0:0::1"), 8443);
        JsonNode line = line(client, mapped, v6, "app.example.com");
        assertThat(line.get("client").asText()).isEqualTo(HostPort.format(client)).isEqualTo("192.0.2.7:40000");
        assertThat(line.get("original_dst").asText()).isEqualTo(HostPort.format(mapped)).isEqualTo("10.0.0.255:443");
        assertThat(line.get("upstream").asText()).isEqualTo(HostPort.format(v6)).isEqualTo("[2001:db8::1]:8443");
        assertThat(line.get("peer").isNull()).as("an embedded channel has no socket address").isTrue();
    }

    @Test
    void aLineAfterALongOneHoldsNothingOfIt() throws Exception {
        // The builder is kept for the next line of the thread, or dropped once a line grew it
        // past what is kept: either way the next line is that connection's alone.
        InetSocketAddress client = new InetSocketAddress(InetAddress.getByName("192.0.2.7"), 40000);
        String escaped = "\u0001".repeat(900); // 5,400 characters once escaped
        for (String longName : List.of("a".repeat(3000), escaped)) {
            JsonNode longLine = line(client, null, null, longName);
            assertThat(longLine.get("sni").asText()).isEqualTo(longName);
            JsonNode next = line(client, null, null, "b.example");
            assertThat(next.get("sni").asText()).isEqualTo("b.example");
            assertThat(next.toString()).doesNotContain("aaa").doesNotContain("\\u0001");
        }
    }

    private static JsonNode line(InetSocketAddress client, InetSocketAddress originalDst, InetSocketAddress upstream,
            String sni) throws Exception {
        ConnectionRecord record = ConnectionRecord.attach(new EmbeddedChannel(), "test", (event, c, nanos) -> {});
        record.proxiedFor(client);
        record.destination(originalDst, 443);
        record.clientHello(sni, List.of("h2"), 0x0304, false, 0x0301, null);
        if (upstream != null) {
            record.upstream(upstream);
        }
        String text = AccessLog.format(record, AccessLog.CLOSED);
        assertThat(text).doesNotContain("\n");
        return new ObjectMapper().readTree(text);
    }

    private static String json(String value) {
        StringBuilder json = new StringBuilder();
        AccessLog.string(json, value);
        return json.toString();
    }
}
