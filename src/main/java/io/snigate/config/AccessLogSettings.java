package io.snigate.config;

/**
 * The top-level {@code access_log:} block.
 *
 * @param onConnect whether a connection also gets a line when its upstream connects, besides the
 *     one when it ends: the decision is then on record while the tunnel is open, even if the
 *     process never gets to write the closing line
 */
public record AccessLogSettings(boolean onConnect) {
    public static final AccessLogSettings DEFAULTS = new AccessLogSettings(false);
}
