package io.snigate.core;

import java.util.List;

/** Tells several observers, in order. */
public final class ConnectionObservers implements ConnectionObserver {
    private final List<ConnectionObserver> observers;

    public ConnectionObservers(List<ConnectionObserver> observers) {
        this.observers = List.copyOf(observers);
    }

    @Override
    public void opened(ConnectionRecord connection) {
        observers.forEach(o -> o.opened(connection));
    }

    @Override
    public void closed(ConnectionRecord connection) {
        observers.forEach(o -> o.closed(connection));
    }

    @Override
    public void prereadDone(ConnectionRecord connection, long nanos) {
        observers.forEach(o -> o.prereadDone(connection, nanos));
    }

    @Override
    public void upstreamConnected(ConnectionRecord connection, long nanos) {
        observers.forEach(o -> o.upstreamConnected(connection, nanos));
    }
}
