package io.snigate.metrics;

/**
 * The metric vocabulary: every meter name, label name and label value the proxy publishes, in one
 * place (as Reactor Netty's {@code Metrics} keeps its own). Names are Micrometer's dotted form;
 * the Prometheus scrape turns {@code snigate.connections} into {@code snigate_connections_total},
 * durations into {@code _seconds} and byte counts into {@code _bytes}. Reasons come from
 * {@link io.snigate.core.Reason}, outcomes from {@link io.snigate.core.Outcome}.
 */
public final class MetricNames {
    // --- meters
    public static final String CONNECTIONS = "snigate.connections";
    public static final String CONNECTIONS_ACTIVE = "snigate.connections.active";
    public static final String CONNECTIONS_UNANSWERED = "snigate.connections.unanswered";
    public static final String BYTES = "snigate.bytes";
    public static final String PREREAD_DURATION = "snigate.preread.duration";
    public static final String UPSTREAM_CONNECT_DURATION = "snigate.upstream.connect.duration";
    public static final String DNS_RESOLVE_DURATION = "snigate.dns.resolve.duration";
    public static final String CONNECTION_DURATION = "snigate.connection.duration";
    public static final String ORIGINAL_DST = "snigate.original.dst";
    public static final String LISTENER_SHARED_SOCKETS = "snigate.listener.shared.sockets";
    public static final String POLICY_WOULD_REJECT = "snigate.policy.would.reject";
    public static final String POLICY_AUDIT_MODE = "snigate.policy.audit.mode";
    public static final String POLICY_AUDIT_ROUTES = "snigate.policy.audit.routes";
    public static final String DNS_CACHE_ENTRIES = "snigate.dns.cache.entries";
    public static final String MATCH_FILE_NAMES = "snigate.match.file.names";
    public static final String ACCESS_LOG_DROPPED = "snigate.access.log.dropped";
    public static final String ERROR_LOG_DROPPED = "snigate.error.log.dropped";
    public static final String CONFIG_RELOADS = "snigate.config.reloads";
    public static final String CONFIG_LAST_RELOAD_SUCCESSFUL = "snigate.config.last.reload.successful";
    public static final String CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP = "snigate.config.last.reload.success.timestamp.seconds";
    public static final String BUILD_INFO = "snigate.build.info";
    public static final String NETTY_ALLOCATOR_USED = "snigate.netty.allocator.used";

    // --- labels
    public static final String LISTENER = "listener";
    public static final String ROUTE = "route";
    public static final String OUTCOME = "outcome";
    public static final String REASON = "reason";
    public static final String DIRECTION = "direction";
    /** Whether a step succeeded: {@link #SUCCESS} or {@link #FAILURE}, for every meter that has it. */
    public static final String RESULT = "result";
    public static final String MEMORY = "memory";
    public static final String VERSION = "version";
    public static final String TRANSPORT = "transport";

    // --- label values
    /** The reason of a forwarded connection that ended normally. Routes: {@link io.snigate.core.RouteLabels}. */
    public static final String NONE = "none";
    public static final String SUCCESS = "success";
    public static final String FAILURE = "failure";
    public static final String FROM_CLIENT = "from_client";
    public static final String TO_CLIENT = "to_client";
    public static final String DIRECT = "direct";
    public static final String HEAP = "heap";

    private MetricNames() {}
}
