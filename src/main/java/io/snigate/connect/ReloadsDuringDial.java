package io.snigate.connect;

import io.snigate.config.Cidr;
import io.snigate.core.ConnectionRecord;
import io.snigate.route.RouteDecision;
import io.snigate.route.RouteTable;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.function.Supplier;

/**
 * What a reload that judges routed connections again ({@code recheck_on_reload}) changes for a
 * connection still in its connect stage. The reload's own recheck ({@code OpenConnections})
 * judges the address being dialed at that moment; this judges what it cannot see: the answers of
 * a lookup under way, and the addresses of an answer not dialed yet, each as a new connection's
 * would be judged. Used on the connection's event loop only.
 */
final class ReloadsDuringDial {
    private final Supplier<RouteTable> routes;
    private final ConnectionRecord record;
    private final RouteDecision decision;
    /** The routes in force when the lookup began: a reload since then judges its answers. */
    private RouteTable beforeLookup;
    /** The routes the answer's addresses were judged by, and whether the client chose them. */
    private RouteTable judgedBy;
    private boolean judgedAsClientChosen;
    private boolean revokedAnAddress;

    ReloadsDuringDial(Supplier<RouteTable> routes, ConnectionRecord record, RouteDecision decision) {
        this.routes = routes;
        this.record = record;
        this.decision = decision;
    }

    void lookupStarts() {
        beforeLookup = routes.get();
    }

    /**
     * Whether a reload that judges routed connections again put new routes in force during the
     * lookup. The table in force decides: of two reloads during one lookup, the second one's
     * {@code recheck_on_reload} stands for both.
     */
    boolean duringLookup() {
        return rechecksSince(beforeLookup);
    }

    /**
     * The route's {@code allow_destinations} in the rules in force now: a reload during the
     * lookup judges its answers as the reload's recheck judges an address already dialed
     * ({@code OpenConnections.refusal}), which passes over a connection that has none yet. The
     * new route's list counts while the route still lets the client choose the address, directly;
     * a route the reload sent elsewhere keeps the connection's way, and a route it removed allows
     * only public addresses.
     */
    List<Cidr> allowDestinations() {
        if (!duringLookup() && !rechecksSince(judgedBy)) {
            return decision.allowDestinations();
        }
        RouteDecision now = routes.get().decide(record);
        if (!now.routed()) {
            return List.of();
        }
        boolean stillTheClients = (now.upstream().dialSni() || now.upstream().dialsOriginalDst()) && now.delivery().via() == null;
        return stillTheClients ? now.allowDestinations() : decision.allowDestinations();
    }

    /** The answer's addresses were judged now; {@code clientChosen}: by the client's rules. */
    void judged(boolean clientChosen) {
        judgedBy = routes.get();
        judgedAsClientChosen = clientChosen;
    }

    /**
     * Whether a rechecking reload came since the answer was judged and its destination policy
     * refuses {@code next}, an address of the answer not dialed yet.
     */
    boolean refusesNext(InetSocketAddress next, DestinationPolicy policy) {
        if (!rechecksSince(judgedBy)) {
            return false;
        }
        List<Cidr> allowed = judgedAsClientChosen ? allowDestinations() : List.of();
        boolean refused = policy.refusal(next, judgedAsClientChosen, allowed) != null;
        revokedAnAddress |= refused;
        return refused;
    }

    /** Whether a reload took an address of the answer away before it was dialed. */
    boolean revokedAnAddress() {
        return revokedAnAddress;
    }

    private boolean rechecksSince(RouteTable then) {
        RouteTable now = routes.get();
        return then != null && then != now && now.rechecksOnReload();
    }
}
