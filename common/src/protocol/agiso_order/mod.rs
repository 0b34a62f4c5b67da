//! Agiso orders as pushes and detail answers describe them (§4.1, §4.2, §7.4), read into lines
//! that map to our products, and the calls that answer them (§4.3). Pure: JSON text in, typed
//! values out; typed values in, form parameters out.
//!
//! - `push`: a push's freshness and topic;
//! - `payload`: paid orders, refunds and detail answers, read exactly;
//! - `calls`: delivery, poll and operator calls, and the verdict on their answers.

mod calls;
mod payload;
mod push;

pub use crate::domain::agiso::{OrderType, Service};
pub use calls::*;
pub use payload::*;
pub use push::*;
