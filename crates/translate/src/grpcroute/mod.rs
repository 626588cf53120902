//! GRPCRoutes: the routes that name our Gateways, with their rules converted, ready for
//! [`crate::attach`], which attaches them exactly like HTTPRoutes (same parentRef, allowedRoutes
//! and hostname rules) and applies the spec's HTTPRoute/GRPCRoute hostname conflict rule.

mod rules;

use crate::attach::{self, RouteInput, GRPC_ROUTE};
use crate::backends::Resolver;
use crate::gateway::Gateways;
use crate::resources::ResourceSet;

/// Every GRPCRoute with a parentRef to one of our Gateways.
pub(crate) fn inputs<'a>(
    resources: &'a ResourceSet,
    resolver: &mut Resolver<'_>,
    gateways: &Gateways<'_>,
) -> Vec<RouteInput<'a>> {
    attach::inputs(GRPC_ROUTE, resources.grpc_routes(), gateways, |route| {
        let mut rules = rules::convert(route, resolver);
        rules.backend_tls = resolver.backend_tls.take_hits();
        rules
    })
}
