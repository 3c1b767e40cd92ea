//! The controllers of an everynode cluster. Each is a thin runtime loop (kube-rs watchers, a work
//! queue, API writes) around decisions made by pure functions, and each runs against any
//! Kubernetes API server: the embedded one in `everynode up` (through an in-process client) or a
//! real cluster through a kubeconfig.

pub mod daemonset;
pub mod events;
pub mod informer;
pub mod nodelifecycle;
pub mod podgc;
pub mod scheduler;
