//! RequestMirror: the mirrored share of requests, and the backendRef resolved like a backend.

use super::{Context, RuleError};
use crate::backends::{route_backend_ref, RefProblem};
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
    let reference = route_backend_ref!(m.backend_ref, ctx.namespace, 1);
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

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_api::experimental::httproutes::HttpRouteRulesFiltersRequestMirrorFraction as Fraction;

    fn mirror(
        percent: Option<i32>,
        fraction: Option<(i32, Option<i32>)>,
    ) -> HttpRouteRulesFiltersRequestMirror {
        HttpRouteRulesFiltersRequestMirror {
            percent,
            fraction: fraction.map(|(numerator, denominator)| Fraction {
                numerator,
                denominator,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn mirror_share_follows_percent_or_fraction() {
        assert_eq!(share("f", &mirror(None, None)), Ok((100, 100)));
        assert_eq!(share("f", &mirror(Some(25), None)), Ok((25, 100)));
        assert_eq!(share("f", &mirror(None, Some((1, Some(3))))), Ok((1, 3)));
        assert_eq!(share("f", &mirror(None, Some((7, None)))), Ok((7, 100)));
    }

    #[test]
    fn mirror_share_rejects_what_the_api_server_would() {
        for bad in [
            mirror(Some(101), None),
            mirror(Some(-1), None),
            mirror(None, Some((1, Some(0)))),
            mirror(None, Some((4, Some(3)))),
            mirror(None, Some((-1, Some(3)))),
            mirror(Some(10), Some((1, Some(2)))),
        ] {
            assert!(share("f", &bad).is_err(), "{bad:?}");
        }
    }
}
