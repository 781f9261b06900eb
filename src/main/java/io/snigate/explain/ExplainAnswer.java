package io.snigate.explain;

import io.snigate.log.AccessLog;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * What {@code snigate explain} found out, as a list of facts in the order they are printed, and
 * its two printings: for a person, or with {@code --json} as one object. Both are made from the
 * same facts, so that the text and the JSON cannot come to say different things.
 */
final class ExplainAnswer {
    /** The facts in the order they are printed; values are strings, numbers, booleans, lists or null. */
    private final Map<String, Object> facts = new LinkedHashMap<>();
    /** The config file, which the listener's line number is in. */
    private final String source;

    ExplainAnswer(String source) {
        this.source = source;
    }

    void put(String fact, Object value) {
        facts.put(fact, value);
    }

    String text() {
        StringBuilder text = new StringBuilder();
        String outcome = (String) facts.get("outcome");
        text.append("snigate explain: ").append(facts.get("sni")).append(": ").append(outcome);
        if (facts.get("reason") != null) {
            text.append(", ").append(facts.get("reason"));
        }
        text.append('\n');
        String alpn = facts.get("alpn") instanceof List<?> offered
                ? offered.stream().map(String::valueOf).collect(Collectors.joining(",")) : "none";
        line(text, "asked", "alpn " + alpn
                + ", client " + (facts.get("client") == null ? "not given" : facts.get("client"))
                + ", port " + facts.get("port") + ", highest TLS version " + facts.get("tls_version")
                + (Boolean.TRUE.equals(facts.get("ech")) ? ", ECH" : ""));
        line(text, "listener", facts.get("listener") + " (" + source + ":" + facts.get("listener_line")
                + "), clients " + facts.get("listener_clients"));
        if (facts.containsKey("route")) {
            Object route = facts.get("route");
            line(text, "route", route == null ? "none matched" : route + (facts.get("route_line") == null ? ""
                    : " (" + facts.get("route_line") + ")"));
        }
        optional(text, "matched by", facts.get("matched_by"));
        optional(text, "route clients", facts.get("route_clients"));
        if (facts.get("max_connections") instanceof Integer max && max > 0) {
            line(text, "route limit", max + " connections at once (connection_limit beyond)");
        }
        optional(text, "policy mode", facts.get("policy_mode"));
        line(text, "verdict", verdict());
        if (facts.get("upstream") != null) {
            line(text, "upstream", facts.get("upstream") + ": dials " + facts.get("dials"));
        }
        if (facts.get("resolved") instanceof List<?> resolved) {
            for (Object address : resolved) {
                line(text, "resolved", String.valueOf(address));
            }
        }
        return text.toString();
    }

    private String verdict() {
        Object reason = facts.get("reason");
        Object wouldReject = facts.get("would_reject");
        if (reason == null) {
            return wouldReject == null ? "forwarded"
                    : "forwarded in audit mode; in enforce mode it would be refused: " + wouldReject;
        }
        Object alert = facts.get("tls_alert");
        String answer = alert != null ? "the client gets the TLS alert " + alert
                : facts.get("stage").equals("accept") ? "closed at accept, before a byte is read"
                : "the connection is closed";
        String audit = "audit".equals(facts.get("policy_mode")) && "no_route".equals(reason)
                ? "; audit mode has nowhere to send it: set policy.audit_upstream" : "";
        return "refused at " + facts.get("stage") + ": " + reason + "; " + answer + audit;
    }

    private static void line(StringBuilder text, String key, String value) {
        text.append("  ").append(key).append(" ".repeat(Math.max(1, 15 - key.length()))).append(value).append('\n');
    }

    private static void optional(StringBuilder text, String key, Object value) {
        if (value != null) {
            line(text, key, String.valueOf(value));
        }
    }

    String json() {
        StringBuilder json = new StringBuilder("{");
        facts.forEach((key, value) -> {
            if (json.length() > 1) {
                json.append(',');
            }
            AccessLog.string(json, key);
            json.append(':');
            value(json, value);
        });
        return json.append("}\n").toString();
    }

    private static void value(StringBuilder json, Object value) {
        if (value instanceof List<?> list) {
            json.append('[');
            for (int i = 0; i < list.size(); i++) {
                json.append(i > 0 ? "," : "");
                value(json, list.get(i));
            }
            json.append(']');
        } else if (value instanceof Number || value instanceof Boolean) {
            json.append(value);
        } else {
            AccessLog.string(json, value == null ? null : value.toString());
        }
    }
}
