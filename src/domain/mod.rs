//! Pure domain types and rules: no I/O here.

pub mod approval;
pub mod command;
pub mod cost;
pub mod fleet;
pub mod gateway;
pub mod measured;
pub mod patroni;
pub mod performer;
pub mod preflight;
pub mod prices;
pub mod retry;
pub mod steps;
