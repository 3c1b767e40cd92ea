//! Registry push webhooks: authenticated HTTP routes that turn push notifications into [`ImagePush`]es.
//!
//! `payload` parses each supported format (pure), `signature` signs and verifies bodies (pure), and
//! `server` is the thin axum layer that checks size, authenticity and format before queueing pushes.

pub mod payload;
pub mod server;
pub mod signature;

pub use payload::{ImagePush, PayloadError, WebhookSource};
pub use server::{AuthError, WebhookError, WebhookState, router};
pub use signature::{SignatureError, SigningSecret};
