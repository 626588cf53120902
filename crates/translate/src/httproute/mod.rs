//! HTTPRoutes: the routes that name our Gateways, with their rules converted, ready for
//! [`crate::attach`] (which holds the attachment logic shared with GRPCRoute).
//!
//! GRPCRoute reuses the filter conversion ([`filters`]), regex validation and backendRef
//! conversion ([`rules`]), so both kinds validate and resolve through one code path.

pub(crate) mod filters;
pub(crate) mod rules;

use crate::attach::{self, RouteInput, HTTP_ROUTE};
use crate::backends::Resolver;
use crate::gateway::Gateways;
use crate::resources::ResourceSet;

/// Every HTTPRoute with a parentRef to one of our Gateways.
pub(crate) fn inputs<'a>(
    resources: &'a ResourceSet,
    resolver: &mut Resolver<'_>,
    gateways: &Gateways<'_>,
) -> Vec<RouteInput<'a>> {
    attach::inputs(HTTP_ROUTE, resources.http_routes(), gateways, |route| {
        let mut rules = rules::convert(route, resolver);
        rules.backend_tls = resolver.backend_tls.take_hits();
        rules
    })
}
