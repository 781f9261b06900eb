package io.snigate.core;

import java.util.List;

/** Tells several observers, in order. A plain loop: this runs several times per connection. */
public final class ConnectionObservers implements ConnectionObserver {
    private final ConnectionObserver[] observers;

    public ConnectionObservers(List<ConnectionObserver> observers) {
        this.observers = observers.toArray(ConnectionObserver[]::new);
    }

    @Override
    public void on(ConnectionEvent event, ConnectionRecord connection, long nanos) {
        for (ConnectionObserver observer : observers) {
            observer.on(event, connection, nanos);
        }
    }
}
