package io.snigate.listen;

import io.snigate.config.ProxyConfig;
import io.snigate.route.RouteTable;

/**
 * The config in force and what is built from it once, swapped together by a reload: every stage
 * reads one of these, never a config and a table of different reloads.
 *
 * @param transparent whether a listener intercepts: only then can the proxy's own traffic come
 *     back with its original destination, which is how such a loop is recognised
 */
record ActiveConfig(ProxyConfig config, RouteTable routes, boolean transparent) {
    ActiveConfig(ProxyConfig config) {
        this(config, RouteTable.from(config), config.hasTransparentListener());
    }
}
