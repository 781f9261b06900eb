package io.snigate.listen;

import io.snigate.config.ProxyConfig;
import io.snigate.connect.AddressLookups;
import io.snigate.connect.ConnectStage;
import io.snigate.connect.DestinationPolicy;
import io.snigate.connect.OwnUpstreams;
import io.snigate.connect.UpstreamConnector;
import io.snigate.core.ConnectionObserver;
import io.snigate.core.ConnectionObservers;
import io.snigate.log.AccessLog;
import io.snigate.metrics.ProxyMetrics;
import io.snigate.preread.RetriedHello;
import io.snigate.route.RouteConnections;
import io.snigate.route.RouteHandler;
import io.snigate.route.RouteTable;
import io.snigate.transport.Transport;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The parts of a connection's life that every listener shares, made once per proxy: the
 * connection limits, the observers that hear each connection's events (the limits, the route
 * counts, the metrics, the access log), and the route stage with the connect stage behind it.
 * Each reads the config in force when it acts ({@link ActiveConfig}).
 */
final class ConnectionStages {
    final ConnectionLimits limits;
    final ConnectionObserver observer;
    final RouteHandler routeHandler;

    /**
     * @param accessLog where the access log's lines go; it must not block an event loop
     * @param alsoTold null, or told of every connection's events after the proxy's own observers
     */
    ConnectionStages(Supplier<ActiveConfig> active, ProxyMetrics metrics, Consumer<String> accessLog,
            ConnectionObserver alsoTold, Transport transport, AddressLookups lookups,
            Supplier<DestinationPolicy> destinations) {
        limits = new ConnectionLimits(() -> active.get().config().limits());
        RouteConnections routeConnections = new RouteConnections();
        List<ConnectionObserver> observers = new ArrayList<>(List.of(limits, routeConnections, metrics,
                new AccessLog(accessLog, () -> active.get().config().accessLog().onConnect())));
        if (alsoTold != null) {
            observers.add(alsoTold);
        }
        observer = new ConnectionObservers(observers);
        Supplier<RouteTable> routes = () -> active.get().routes();
        routeHandler = new RouteHandler(routes, routeConnections, new ConnectStage(
                new UpstreamConnector(transport, lookups, observer, destinations, routes,
                        () -> active.get().config().upstreamMark()),
                new OwnUpstreams(), () -> active.get().transparent(), () -> active.get().config().timeouts(),
                (record, alloc) -> {
                    ProxyConfig now = active.get().config(); // one config for both settings
                    return RetriedHello.of(record, now.limits().maxClientHelloBytes(),
                            now.timeouts().preread().toMillis(), alloc);
                },
                observer));
    }
}
