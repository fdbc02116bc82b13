//! The service: `jobcd serve`'s composition root ([`service`]), the loop
//! that reconciles each source on its trigger, the webhook receiver,
//! metrics, readiness, the dashboard, CronJob health and leader election. Business logic that commands also
//! need lives in the library parts (`reconcile`, `report`), not here.

pub mod background;
pub mod board;
pub mod dashboard;
pub mod deliveries;
pub mod followers;
pub mod health;
pub mod http;
pub mod leader;
pub mod listener;
pub mod memory;
pub mod metrics;
pub mod serve;
pub mod service;
pub mod setup;
pub mod shards;
pub mod trigger;
pub mod webhook;
