package io.snigate.explain;

import io.snigate.explain.ExplainFacts.Asked;
import io.snigate.explain.ExplainFacts.Routing;
import io.snigate.explain.ExplainFacts.Verdict;
import io.snigate.log.AccessLog;
import java.util.List;

/**
 * The two printings of what {@code snigate explain} found out: for a person, or with
 * {@code --json} as one object. Both are made from the same {@link ExplainFacts}, so that the text
 * and the JSON cannot come to say different things.
 */
final class ExplainAnswer {
    private final ExplainFacts facts;
    /** The config file, which the listener's line number is in. */
    private final String source;

    ExplainAnswer(ExplainFacts facts, String source) {
        this.facts = facts;
        this.source = source;
    }

    String text() {
        Asked asked = facts.asked();
        Routing routing = facts.routing();
        Verdict verdict = facts.verdict();
        StringBuilder text = new StringBuilder();
        text.append("snigate explain: ").append(asked.sni()).append(": ").append(verdict.outcome());
        if (verdict.reason() != null) {
            text.append(", ").append(verdict.reason());
        }
        text.append('\n');
        String alpn = asked.alpn() == null ? "none" : String.join(",", asked.alpn());
        line(text, "asked", "alpn " + alpn
                + ", client " + (asked.client() == null ? "not given" : asked.client())
                + ", port " + asked.port() + ", highest TLS version " + asked.tlsVersion()
                + (asked.ech() ? ", ECH" : ""));
        line(text, "listener", asked.listener() + " (" + source + ":" + asked.listenerLine()
                + "), clients " + asked.listenerClients());
        if (routing != null) {
            line(text, "route", routing.route() == null ? "none matched" : routing.route()
                    + (routing.routeLine() == null ? "" : " (" + routing.routeLine() + ")"));
            optional(text, "matched by", routing.matchedBy());
            optional(text, "route clients", routing.routeClients());
            if (routing.maxConnections() > 0) {
                line(text, "route limit", routing.maxConnections() + " connections at once (connection_limit beyond)");
            }
            optional(text, "policy mode", routing.policyMode());
        }
        line(text, "verdict", verdict());
        if (facts.dialing() != null) {
            line(text, "upstream", facts.dialing().upstream() + ": dials " + facts.dialing().dials());
        }
        if (facts.resolved() != null) {
            for (String address : facts.resolved()) {
                line(text, "resolved", address);
            }
        }
        return text.toString();
    }

    private String verdict() {
        Verdict verdict = facts.verdict();
        Routing routing = facts.routing();
        if (verdict.reason() == null) {
            String wouldReject = routing == null ? null : routing.wouldReject();
            return wouldReject == null ? "forwarded"
                    : "forwarded in audit mode; in enforce mode it would be refused: " + wouldReject;
        }
        String answer = verdict.tlsAlert() != null ? "the client gets the TLS alert " + verdict.tlsAlert()
                : verdict.stage().equals("accept") ? "closed at accept, before a byte is read"
                : "the connection is closed";
        String audit = routing != null && "audit".equals(routing.policyMode()) && "no_route".equals(verdict.reason())
                ? "; audit mode has nowhere to send it: set policy.audit_upstream" : "";
        return "refused at " + verdict.stage() + ": " + verdict.reason() + "; " + answer + audit;
    }

    private static void line(StringBuilder text, String key, String value) {
        text.append("  ").append(key).append(" ".repeat(Math.max(1, 15 - key.length()))).append(value).append('\n');
    }

    private static void optional(StringBuilder text, String key, String value) {
        if (value != null) {
            line(text, key, value);
        }
    }

    /** The facts as one object, in the order egress-policy.md lists its keys; a stage not reached has none. */
    String json() {
        StringBuilder json = new StringBuilder("{");
        Asked asked = facts.asked();
        field(json, "sni", asked.sni());
        field(json, "alpn", asked.alpn());
        field(json, "client", asked.client());
        field(json, "port", asked.port());
        field(json, "tls_version", asked.tlsVersion());
        field(json, "ech", asked.ech());
        field(json, "listener", asked.listener());
        field(json, "listener_line", asked.listenerLine());
        field(json, "listener_clients", asked.listenerClients());
        Routing routing = facts.routing();
        if (routing != null) {
            field(json, "route", routing.route());
            field(json, "route_line", routing.routeLine());
            field(json, "matched_by", routing.matchedBy());
            field(json, "route_clients", routing.routeClients());
            field(json, "max_connections", routing.maxConnections());
            field(json, "policy_mode", routing.policyMode());
            field(json, "would_reject", routing.wouldReject());
        }
        if (facts.dialing() != null) {
            field(json, "upstream", facts.dialing().upstream());
            field(json, "dials", facts.dialing().dials());
        }
        if (facts.resolved() != null) {
            field(json, "resolved", facts.resolved());
        }
        Verdict verdict = facts.verdict();
        field(json, "outcome", verdict.outcome());
        if (verdict.reason() != null) {
            field(json, "reason", verdict.reason());
            field(json, "stage", verdict.stage());
            field(json, "tls_alert", verdict.tlsAlert());
        }
        return json.append("}\n").toString();
    }

    /** Appends {@code "key":value}, after a comma unless it is the first. */
    private static void field(StringBuilder json, String key, Object value) {
        if (json.length() > 1) {
            json.append(',');
        }
        AccessLog.string(json, key);
        json.append(':');
        value(json, value);
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
