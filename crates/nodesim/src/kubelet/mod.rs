//! The simulated kubelet's decisions about pods, free of IO: where a container is in its life
//! ([`timeline`]), the status that describes it ([`status`], per container in
//! `container_status`), and one look at a pod
//! ([`lifecycle`]) that says what to write and which [`events`] to record.

mod container_status;
pub mod events;
pub mod image;
pub mod lifecycle;
pub mod status;
pub mod timeline;

pub use lifecycle::{Action, PodMemory, Step, step};
pub use status::Placement;
