//! A Patroni cluster: the control plane of a replicated PostgreSQL behind a service. Its
//! members (role, state, timeline, replication lag) are the service's replicas and standbys;
//! promoting one is Patroni's switchover, or its failover when no leader is healthy, planned
//! against the cluster as read (lag beyond `maximum_lag_on_failover` warns), and followed until
//! the new leader runs. Patroni has no idempotency key: a promotion whose answer was lost is
//! settled by reading the cluster back (the candidate leads, or it does not).

pub mod client;
pub mod cluster;
pub mod error;

pub use client::PatroniClient;
pub use cluster::{Cluster, Lag, Member, Promotion, PromotionPlan, Role};
pub use error::PatroniError;
