//! HTTPRoutes: the routes that name our Gateways, with their rules converted, ready for
//! [`crate::attach`] (which holds the attachment logic shared with GRPCRoute).

mod filters;
mod rules;

use crate::attach::{self, ParentRefSpec, RouteInput, Rules, HTTP_ROUTE};
use crate::backends::Resolver;
use crate::gateway::Gateways;
use crate::meta;
use crate::resources::ResourceSet;

/// Every HTTPRoute with a parentRef to one of our Gateways. Rules are converted (and backends
/// resolved) only for those, so routes of other controllers leave no trace in the status.
pub(crate) fn inputs<'a>(
    resources: &'a ResourceSet,
    resolver: &mut Resolver<'_>,
    gateways: &Gateways<'_>,
) -> Vec<RouteInput<'a>> {
    let mut out = Vec::new();
    for route in resources.http_routes() {
        let ns = meta::namespace(&route.metadata);
        let refs = route.spec.parent_refs.iter().flatten().map(|p| ParentRefSpec {
            group: p.group.as_deref(),
            kind: p.kind.as_deref(),
            namespace: p.namespace.as_deref(),
            name: &p.name,
            section_name: p.section_name.as_deref(),
            port: p.port,
        });
        let parents = attach::our_parents(refs, ns, gateways);
        if parents.is_empty() {
            continue;
        }
        let converted = rules::convert(route, resolver);
        out.push(RouteInput {
            kind: HTTP_ROUTE,
            meta: &route.metadata,
            hostnames: route.spec.hostnames.as_deref().unwrap_or_default(),
            parents,
            rules: Rules {
                routes: converted.routes,
                invalid: converted.invalid,
                unsupported: converted.unsupported,
                ref_problems: converted.ref_problems,
            },
        });
    }
    out
}
