//! Integration tests: the real gateway over real HTTP, against the real PostgreSQL (a fresh
//! database per test, cloned from a migrated template so the suite runs in parallel).

mod api;
mod auth;
mod callbacks;
mod carrier;
mod carrier_loop;
mod citizen;
mod console;
mod contract;
mod crash;
mod doctor;
mod hostile;
mod jobs;
mod limits;
mod outage;
mod reconcile;
mod schema;
mod support;
mod validation;
mod webhook;
