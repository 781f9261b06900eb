package io.snigate.core;

/**
 * Told of every step of every connection: the connection limits, the metrics and the access log
 * listen here. One method for every event, so that a composite such as
 * {@link ConnectionObservers} passes on each of them by construction, and an observer that cares
 * about a new event adds a case instead of a method someone might forget to forward.
 */
@FunctionalInterface
public interface ConnectionObserver {
    /**
     * Called on the connection's event loop, so implementations must not block.
     *
     * @param nanos how long the step took, for the events that say so; 0 for the others
     */
    void on(ConnectionEvent event, ConnectionRecord connection, long nanos);
}
