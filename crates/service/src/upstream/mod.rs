//! Talking to upstream identity providers: their discovery documents and signing keys
//! (cached, refetched when a provider rotates its keys), the code exchange, the ID-token
//! checks and the profile fetch, ending in Auth0's normalized profile. The browser flow
//! (`browser::upstream`) sends users there and back; `identity` turns the profile into a
//! Gatehouse user.

pub(crate) mod identity;
mod provider;

pub(crate) use identity::ExternalIdentity;
pub(crate) use provider::{ProviderCache, UpstreamError, UpstreamLogin};
