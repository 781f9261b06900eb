package io.snigate.core;

import java.util.List;

/** Tells several observers, in order. Plain loops: this runs several times per connection. */
public final class ConnectionObservers implements ConnectionObserver {
    private final ConnectionObserver[] observers;

    public ConnectionObservers(List<ConnectionObserver> observers) {
        this.observers = observers.toArray(ConnectionObserver[]::new);
    }

    @Override
    public void opened(ConnectionRecord connection) {
        for (ConnectionObserver o : observers) {
            o.opened(connection);
        }
    }

    @Override
    public void closed(ConnectionRecord connection) {
        for (ConnectionObserver o : observers) {
            o.closed(connection);
        }
    }

    @Override
    public void prereadDone(ConnectionRecord connection, long nanos) {
        for (ConnectionObserver o : observers) {
            o.prereadDone(connection, nanos);
        }
    }

    @Override
    public void upstreamConnected(ConnectionRecord connection, long nanos) {
        for (ConnectionObserver o : observers) {
            o.upstreamConnected(connection, nanos);
        }
    }
}
