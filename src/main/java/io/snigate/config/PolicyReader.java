package io.snigate.config;

import io.snigate.core.TlsVersions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;

/**
 * Reads the policy settings: the top-level {@code policy:} block and {@code min_tls_version},
 * and the {@code clients:}, {@code mode:} and {@code min_tls_version:} that listeners and routes
 * carry. It reads {@code policy:} first, so that {@code allow_audit: false} refuses every
 * {@code audit} of the file wherever it stands.
 */
final class PolicyReader {
    static final List<String> POLICY_KEYS = List.of("mode", "audit_upstream", "allow_audit", "recheck_on_reload");
    static final List<String> CLIENT_KEYS = List.of("allow", "deny");

    private final YamlNodes nodes;
    /** The line of {@code allow_audit: false}, or 0 when audit is allowed. */
    private int auditForbiddenAt;

    PolicyReader(YamlNodes nodes) {
        this.nodes = nodes;
    }

    /** The top level's policy; {@code upstreams} reads the audit upstream like any upstream. */
    Policy readPolicy(Node policyNode, Node minTlsNode, UpstreamReader upstreams) throws ConfigException {
        int minTls = minTlsNode == null ? 0 : tlsVersion(minTlsNode, "min_tls_version");
        if (policyNode == null) {
            return new Policy(PolicyMode.ENFORCE, null, true, minTls, true);
        }
        Map<String, NodeTuple> keys = nodes.keys(
                nodes.mapping(policyNode, "policy", "mode: audit, audit_upstream: \"$sni:443\""), "in policy", POLICY_KEYS);
        Node allowNode = YamlNodes.value(keys, "allow_audit");
        boolean allowAudit = allowNode == null || nodes.bool(allowNode, "allow_audit");
        if (!allowAudit) {
            auditForbiddenAt = YamlNodes.line(allowNode);
        }
        Node modeNode = YamlNodes.value(keys, "mode");
        PolicyMode mode = modeNode == null ? PolicyMode.ENFORCE : mode(modeNode, "policy.mode");
        Node upstreamNode = YamlNodes.value(keys, "audit_upstream");
        Upstream auditUpstream = upstreamNode == null ? null : upstreams.readUpstream(upstreamNode, "audit_upstream");
        Node recheckNode = YamlNodes.value(keys, "recheck_on_reload");
        boolean recheck = recheckNode == null || nodes.bool(recheckNode, "recheck_on_reload");
        return new Policy(mode, auditUpstream, allowAudit, minTls, recheck);
    }

    /** {@code enforce} or {@code audit}; audit only where {@code allow_audit} permits it. */
    PolicyMode mode(Node node, String what) throws ConfigException {
        String text = nodes.text(node, what);
        if (text.equals(PolicyMode.ENFORCE.label())) {
            return PolicyMode.ENFORCE;
        }
        if (!text.equals(PolicyMode.AUDIT.label())) {
            throw nodes.error(node, what + " \"" + text + "\" must be enforce (refuse what the policy refuses) or"
                    + " audit (forward it, and log and count what would have been refused)");
        }
        if (auditForbiddenAt > 0) {
            throw nodes.error(node, what + " is audit, but policy.allow_audit is false (line " + auditForbiddenAt
                    + "): this site never runs its policy open; write enforce, or remove the setting");
        }
        return PolicyMode.AUDIT;
    }

    /** A TLS version floor such as {@code "1.2"}, as its wire code. */
    int tlsVersion(Node node, String what) throws ConfigException {
        return nodes.parsed(node, what, TlsVersions::parse);
    }

    /** {@code clients: { allow: [...], deny: [...] }}. */
    ClientRules clients(Node node) throws ConfigException {
        Map<String, NodeTuple> keys = nodes.keys(
                nodes.mapping(node, "clients", "allow: [\"10.0.0.0/8\", \"fd00::/8\"]"), "in clients", CLIENT_KEYS);
        Node allowNode = YamlNodes.value(keys, "allow");
        Node denyNode = YamlNodes.value(keys, "deny");
        if (allowNode == null && denyNode == null) {
            throw nodes.error(node, "clients has neither allow nor deny; leave clients out to admit every client");
        }
        List<Cidr> allow = allowNode == null ? List.of()
                : cidrs(allowNode, "clients.allow", "clients.allow is empty, which would admit nobody; leave allow out"
                        + " to admit every client not denied");
        List<Cidr> deny = denyNode == null ? List.of()
                : cidrs(denyNode, "clients.deny", "clients.deny is empty; leave deny out");
        return new ClientRules(allow, deny);
    }

    /** A non-empty list of address ranges such as {@code "10.0.0.0/8"}; {@code ifEmpty} says what to do instead. */
    List<Cidr> cidrs(Node node, String what, String ifEmpty) throws ConfigException {
        List<Cidr> ranges = new ArrayList<>();
        for (Node item : nodes.listOrSingle(node, what, "address ranges like \"10.0.0.0/8\"")) {
            ranges.add(nodes.parsed(item, what, Cidr::parse));
        }
        if (ranges.isEmpty()) {
            throw nodes.error(node, ifEmpty);
        }
        return ranges;
    }
}
