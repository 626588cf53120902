//! fairlead-route: the routing config IR ([`Config`]), its compilation into the hot-path
//! [`Table`], and Gateway API request matching with spec precedence.
//!
//! This crate knows nothing of Kubernetes and has no async runtime: sources translate objects
//! into a [`Config`]; the proxy compiles it with [`Table::compile`] and calls
//! [`Table::lookup`] once per request.

pub mod config;
pub mod status;
pub mod tls;

mod backends;
mod compile;
mod host;
mod matcher;
mod path;
mod precedence;
mod table;

pub use backends::*;
pub use config::*;
pub use host::normalize_host;
pub use status::*;
pub use table::*;
pub use tls::*;

#[cfg(test)]
mod backends_tests;
#[cfg(test)]
mod compile_tests;
#[cfg(test)]
mod host_tests;
#[cfg(test)]
mod lookup_tests;
#[cfg(test)]
mod path_tests;
#[cfg(test)]
mod precedence_tests;
#[cfg(test)]
mod testkit;
