//! Kubernetes label selectors (matchLabels + matchExpressions), as used by
//! `allowedRoutes.namespaces.selector`.

use std::collections::BTreeMap;

/// One matchExpressions entry, borrowed from whichever generated type holds it.
pub(crate) struct Expression<'a> {
    pub key: &'a str,
    pub operator: &'a str,
    pub values: &'a [String],
}

/// True when `labels` satisfy every matchLabels pair and every expression. An unknown operator
/// matches nothing: a selector we cannot read must not widen access.
pub(crate) fn matches(
    labels: &BTreeMap<String, String>,
    match_labels: Option<&BTreeMap<String, String>>,
    expressions: &[Expression<'_>],
) -> bool {
    let labels_ok = match_labels
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    labels_ok
        && expressions.iter().all(|e| {
            let value = labels.get(e.key);
            match e.operator {
                "In" => value.is_some_and(|v| e.values.contains(v)),
                "NotIn" => value.is_none_or(|v| !e.values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn match_labels_and_expressions_must_all_hold() {
        let ns = labels(&[("env", "prod"), ("team", "web")]);
        let want = labels(&[("env", "prod")]);
        let values = vec!["web".to_string(), "api".to_string()];
        let in_team = [Expression {
            key: "team",
            operator: "In",
            values: &values,
        }];
        assert!(matches(&ns, Some(&want), &in_team));
        assert!(!matches(
            &labels(&[("env", "prod"), ("team", "db")]),
            Some(&want),
            &in_team
        ));
        assert!(!matches(&labels(&[("team", "web")]), Some(&want), &in_team));
    }

    #[test]
    fn operators() {
        let ns = labels(&[("env", "prod")]);
        let prod = vec!["prod".to_string()];
        let expr = |operator| {
            [Expression {
                key: "env",
                operator,
                values: &prod,
            }]
        };
        assert!(!matches(&ns, None, &expr("NotIn")));
        assert!(matches(&labels(&[]), None, &expr("NotIn")));
        assert!(matches(&ns, None, &expr("Exists")));
        assert!(!matches(&ns, None, &expr("DoesNotExist")));
        assert!(!matches(&ns, None, &expr("Bogus")));
    }

    #[test]
    fn empty_selector_matches_everything() {
        assert!(matches(&labels(&[]), None, &[]));
    }
}
