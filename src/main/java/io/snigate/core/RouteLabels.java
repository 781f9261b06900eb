package io.snigate.core;

import java.util.Set;

/**
 * The route labels that stand for no pattern of the config, in the access log's {@code route} and
 * the metrics' {@code route} label: a config may not write a pattern or {@code match_file} as
 * either, or its connections would share their series.
 */
public final class RouteLabels {
    /** A name no route matched, forwarded to the {@code default} upstream. */
    public static final String DEFAULT = "default";
    /** A connection no route took: it ended before routing, or no route matched and nothing forwarded it. */
    public static final String UNROUTED = "none";
    /** Both, as a config may not write them. */
    public static final Set<String> RESERVED = Set.of(DEFAULT, UNROUTED);

    private RouteLabels() {}
}
