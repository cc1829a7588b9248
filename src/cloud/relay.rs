//! The relay task: connects to the broker, drains the outbox in sequence order with a bounded
//! window of QoS 1 publishes in flight, deletes each event once its PUBACK arrives, and after a
//! reconnect resumes from the oldest unacknowledged event (at-least-once, ordered per hub).
