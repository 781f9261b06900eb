package io.snigate.route;

import io.snigate.config.Route;
import io.snigate.core.ConnectionEvent;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.ConnectionRecord;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The per-route connection budget ({@code max_connections} on a route): connections open through
 * each route that has one. Counts are kept by the route's name, so that a reload that keeps the
 * route keeps its count; a connection gives its place back when it closes.
 */
public final class RouteConnections implements ConnectionObserver {
    private final Map<String, AtomicInteger> openByRoute = new ConcurrentHashMap<>();

    /** Counts {@code record} in on its route, or returns false (counting nothing) when the route is full. */
    boolean admit(ConnectionRecord record, RouteDecision decision) {
        Route route = decision.route();
        if (route == null || route.policy().maxConnections() == 0) {
            return true;
        }
        AtomicInteger open = openByRoute.computeIfAbsent(route.name(), name -> new AtomicInteger());
        if (open.incrementAndGet() > route.policy().maxConnections()) {
            open.decrementAndGet();
            return false;
        }
        record.countedOnRoute(open);
        return true;
    }

    @Override
    public void on(ConnectionEvent event, ConnectionRecord connection, long nanos) {
        if (event == ConnectionEvent.CLOSED) {
            AtomicInteger open = connection.routeConnections();
            if (open != null) {
                open.decrementAndGet();
            }
        }
    }
}
