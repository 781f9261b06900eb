package io.snigate.metrics;

import static io.snigate.metrics.MetricNames.*;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The metrics of the config in force: its loads and reloads, what runs in audit mode, and what
 * the match files hold. Every series exists from the start.
 */
public final class ConfigMetrics {
    private final MeterRegistry registry;
    private final Counter reloadsSucceeded;
    private final Counter reloadsFailed;
    private final AtomicLong lastReloadSuccessful = new AtomicLong(1);
    private final AtomicLong lastReloadSuccessEpochSeconds = new AtomicLong(System.currentTimeMillis() / 1000);
    private final AtomicLong auditMode = new AtomicLong();
    private final AtomicLong auditRoutes = new AtomicLong();
    /** The names each route's match_file holds, by the route's label. */
    private final Map<String, AtomicLong> matchFileNames = new ConcurrentHashMap<>();

    ConfigMetrics(MeterRegistry registry) {
        this.registry = registry;
        reloadsSucceeded = reloads(SUCCESS);
        reloadsFailed = reloads(FAILURE);
        gauge(CONFIG_LAST_RELOAD_SUCCESSFUL, lastReloadSuccessful,
                "1 if the last config load or reload succeeded, 0 if the old config is still serving");
        gauge(CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP, lastReloadSuccessEpochSeconds,
                "When the config in use was loaded, in seconds since the epoch");
        gauge(POLICY_AUDIT_MODE, auditMode,
                "1 while policy.mode is audit: names no route matches are forwarded, not refused");
        gauge(POLICY_AUDIT_ROUTES, auditRoutes,
                "Routes whose policy verdicts are forwarded and reported, not enforced (audit mode)");
    }

    private void gauge(String name, AtomicLong value, String description) {
        Gauge.builder(name, value, AtomicLong::get).description(description).register(registry);
    }

    private Counter reloads(String result) {
        return Counter.builder(CONFIG_RELOADS)
                .description("Config reloads, by result; a failed one leaves the old config serving")
                .tag(RESULT, result)
                .register(registry);
    }

    /** Counts a reload; a failed one leaves the old config serving. */
    public void reloaded(boolean success) {
        if (success) {
            reloadsSucceeded.increment();
            lastReloadSuccessful.set(1);
            lastReloadSuccessEpochSeconds.set(System.currentTimeMillis() / 1000);
        } else {
            reloadsFailed.increment();
            lastReloadSuccessful.set(0);
        }
    }

    /**
     * Publishes what runs in audit mode: whether the top-level {@code policy.mode} is audit, and
     * how many routes are (by their own {@code mode} or the top level's).
     */
    public void policyModes(boolean topLevelAudit, int routesInAudit) {
        auditMode.set(topLevelAudit ? 1 : 0);
        auditRoutes.set(routesInAudit);
    }

    /**
     * Publishes how many names each {@code match_file} route holds, by its label, for the config in
     * force (at start and each reload): a list that lost names shows as a drop. Routes gone from
     * the config lose their series.
     */
    public void matchFileNames(Map<String, Integer> namesByRoute) {
        namesByRoute.forEach((route, names) -> matchFileNames.computeIfAbsent(route, label -> {
            AtomicLong value = new AtomicLong();
            Gauge.builder(MATCH_FILE_NAMES, value, AtomicLong::get)
                    .description("Names a match_file route's lists hold, as last loaded")
                    .tag(ROUTE, label)
                    .register(registry);
            return value;
        }).set(names));
        matchFileNames.keySet().removeIf(route -> {
            if (namesByRoute.containsKey(route)) {
                return false;
            }
            registry.remove(registry.find(MATCH_FILE_NAMES).tag(ROUTE, route).gauge());
            return true;
        });
    }
}
