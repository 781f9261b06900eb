package io.snigate.listen;

import io.snigate.config.NameList;
import io.snigate.config.Policy;
import io.snigate.config.PolicyMode;
import io.snigate.config.ProxyConfig;
import io.snigate.metrics.ProxyMetrics;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What an operator hears about a config as it comes into force, at the start and at each reload:
 * its audit mode and lists, in the log and the metrics, an open-file limit under what its
 * {@code max_connections} needs, and what a reload changed that waits for a restart.
 */
final class ConfigNotices {
    private static final Logger LOG = LoggerFactory.getLogger(ConfigNotices.class);

    private ConfigNotices() {}

    /**
     * Tells the metrics what runs in audit mode and what the match files hold, and the log the
     * latter, and an open-file limit too low for the config's {@code max_connections}.
     */
    static void publish(ProxyConfig config, ProxyMetrics metrics) {
        config.narrowerListenersWithOtherRules().forEach(overlap -> LOG.warn("{}: {}", config.source(), overlap));
        Policy policy = config.policy();
        int auditRoutes = config.routesInAudit();
        metrics.config().policyModes(policy.mode() == PolicyMode.AUDIT, auditRoutes);
        config.nameLists().forEach(names -> LOG.info("{}", names.summary()));
        metrics.config().matchFileNames(config.nameLists().stream()
                .collect(Collectors.toMap(NameList::label, NameList::size, (same, list) -> same)));
        if (policy.mode() == PolicyMode.AUDIT || auditRoutes > 0) {
            LOG.warn("audit mode: {} routes{} forward what the policy would refuse", auditRoutes,
                    policy.mode() == PolicyMode.AUDIT ? " and names no route matches" : "");
        }
        String descriptors = DescriptorLimit.warning(config.limits());
        if (descriptors != null) {
            LOG.warn(descriptors);
        }
    }

    /** Says which of a reload's changes from {@code previous} to {@code config} wait for a restart. */
    static void untilRestart(ProxyConfig previous, ProxyConfig config) {
        List<String> untilRestart = new ArrayList<>();
        if (!previous.admin().equals(config.admin())) {
            untilRestart.add("admin");
        }
        if (!previous.resolvers().equals(config.resolvers())) {
            untilRestart.add("resolvers");
        }
        if (!previous.timeouts().connect().equals(config.timeouts().connect())) {
            untilRestart.add("the DNS lookups' share of timeouts.connect");
        }
        if (!untilRestart.isEmpty()) {
            LOG.warn("{} keep{} the old value until a restart; everything else changed now",
                    String.join(", ", untilRestart), untilRestart.size() == 1 ? "s" : "");
        }
    }
}
