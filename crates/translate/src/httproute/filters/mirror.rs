//! RequestMirror: the mirrored share of requests, and the backendRef resolved like a backend.

use super::{Context, RuleError};
use crate::backends::{BackendRef, PortRef, RefProblem};
use fairlead_route::Mirror;
use gateway_api::experimental::httproutes::HttpRouteRulesFiltersRequestMirror;

/// The `fraction.denominator` default, so `numerator` alone reads as a percentage.
const DEFAULT_DENOMINATOR: i32 = 100;

/// The mirror, or (inner `Err`) why its backendRef did not resolve; the outer `Err` is an
/// invalid filter (a bad share), which invalidates the rule.
pub(super) fn convert(
    field: &str,
    m: &HttpRouteRulesFiltersRequestMirror,
    ctx: &mut Context<'_, '_>,
) -> Result<Result<Mirror, RefProblem>, RuleError> {
    let (numerator, denominator) = share(field, m)?;
    let b = &m.backend_ref;
    let reference = BackendRef {
        group: b.group.as_deref().unwrap_or_default(),
        kind: b.kind.as_deref().unwrap_or("Service"),
        namespace: b.namespace.as_deref().unwrap_or(ctx.namespace),
        name: &b.name,
        port: b.port.map_or(PortRef::Missing, PortRef::Number),
        weight: 1,
    };
    Ok(ctx
        .resolver
        .mirror(ctx.from_kind, ctx.namespace, &reference)
        .map(|backend| Mirror {
            backend,
            numerator,
            denominator,
        }))
}

/// `percent: P` is P/100, `fraction` is numerator/denominator (denominator 100 by default),
/// neither is everything; the spec's bounds (one of the two, 0-100, 0 <= numerator <=
/// denominator, denominator >= 1) are checked here.
fn share(field: &str, m: &HttpRouteRulesFiltersRequestMirror) -> Result<(u32, u32), RuleError> {
    let invalid = |reason: String| RuleError::InvalidFilter {
        field: field.to_string(),
        reason,
    };
    let (numerator, denominator) = match (m.percent, &m.fraction) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "only one of percent or fraction may be specified".to_string(),
            ))
        }
        (None, None) => (100, 100),
        (Some(percent), None) => {
            if !(0..=100).contains(&percent) {
                return Err(invalid(format!("percent {percent} is not between 0 and 100")));
            }
            (percent, 100)
        }
        (None, Some(f)) => {
            let denominator = f.denominator.unwrap_or(DEFAULT_DENOMINATOR);
            if denominator < 1 {
                return Err(invalid(format!(
                    "fraction.denominator {denominator} must be at least 1"
                )));
            }
            if f.numerator < 0 || f.numerator > denominator {
                return Err(invalid(format!(
                    "fraction.numerator {} must be between 0 and the denominator {denominator}",
                    f.numerator
                )));
            }
            (f.numerator, denominator)
        }
    };
    // Both are within 0..=i32::MAX after the checks above.
    let to_u32 = |v: i32| u32::try_from(v).unwrap_or_default();
    Ok((to_u32(numerator), to_u32(denominator)))
}
