package io.snigate.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
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
    }

    private static String json(String value) {
        StringBuilder json = new StringBuilder();
        AccessLog.string(json, value);
        return json.toString();
    }
}
