//! Gateway API header modifiers (`RequestHeaderModifier`, `ResponseHeaderModifier`), with names
//! and values parsed when the state is built.
//!
//! `add` appends to what is there (HTTPHeaderFilter: `my-header: foo` plus `add my-header: bar`
//! gives `my-header: foo,bar`), so existing lines are joined into one comma-separated line.
//! `Set-Cookie` is the exception: its values cannot be comma-joined (RFC 9110 §5.3), so an added
//! one is a separate line; a `Cookie` request header is joined with `; ` as RFC 6265 writes it.

use fairlead_route::HeaderModifier;
use http::header::{self, Entry, HeaderMap, HeaderName, HeaderValue};

/// A header modifier with parsed names and values.
#[derive(Debug, Default)]
pub(crate) struct CompiledHeaderModifier {
    set: Vec<(HeaderName, HeaderValue)>,
    add: Vec<(HeaderName, HeaderValue)>,
    remove: Vec<HeaderName>,
}

impl CompiledHeaderModifier {
    pub(crate) fn compile(m: &HeaderModifier, kind: &str) -> Result<CompiledHeaderModifier, String> {
        let name = |name: &String| {
            HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("{kind}: invalid header name {name:?}"))
        };
        let pair = |(n, value): &(String, String)| {
            let v = HeaderValue::from_str(value)
                .map_err(|_| format!("{kind}: invalid value for header {n:?}"))?;
            Ok::<_, String>((name(n)?, v))
        };
        Ok(CompiledHeaderModifier {
            set: m.set.iter().map(pair).collect::<Result<_, _>>()?,
            add: m.add.iter().map(pair).collect::<Result<_, _>>()?,
            remove: m.remove.iter().map(name).collect::<Result<_, _>>()?,
        })
    }

    /// Gateway API order: set, then add, then remove.
    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.set {
            headers.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.add {
            add(headers, name, value);
        }
        for name in &self.remove {
            headers.remove(name);
        }
    }
}

/// Appends `value` to the values of `name`, as one line.
fn add(headers: &mut HeaderMap, name: &HeaderName, value: &HeaderValue) {
    if name == header::SET_COOKIE {
        headers.append(name.clone(), value.clone());
        return;
    }
    let separator: &[u8] = if name == header::COOKIE { b"; " } else { b"," };
    match headers.entry(name.clone()) {
        Entry::Vacant(entry) => {
            entry.insert(value.clone());
        }
        Entry::Occupied(mut entry) => {
            let mut joined = Vec::new();
            for existing in entry.iter() {
                // An empty line adds nothing but a stray separator.
                if existing.is_empty() {
                    continue;
                }
                joined.extend_from_slice(existing.as_bytes());
                joined.extend_from_slice(separator);
            }
            joined.extend_from_slice(value.as_bytes());
            // Joining valid values with a visible separator always gives a valid value; the
            // fallback keeps both lines rather than dropping one.
            match HeaderValue::from_bytes(&joined) {
                Ok(v) => {
                    entry.insert(v);
                }
                Err(_) => entry.append(value.clone()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modifier(set: &[(&str, &str)], add: &[(&str, &str)], remove: &[&str]) -> CompiledHeaderModifier {
        let pairs = |p: &[(&str, &str)]| {
            p.iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect()
        };
        CompiledHeaderModifier::compile(
            &HeaderModifier {
                set: pairs(set),
                add: pairs(add),
                remove: remove.iter().map(|n| (*n).to_owned()).collect(),
            },
            "test",
        )
        .unwrap()
    }

    fn values(h: &HeaderMap, name: &str) -> Vec<String> {
        h.get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn add_joins_onto_the_existing_value() {
        // The HTTPHeaderFilter example.
        let mut h = HeaderMap::new();
        h.insert("my-header", HeaderValue::from_static("foo"));
        modifier(&[], &[("my-header", "bar,baz")], &[]).apply(&mut h);
        assert_eq!(values(&h, "my-header"), ["foo,bar,baz"]);
    }

    #[test]
    fn add_joins_every_existing_line_and_names_are_case_insensitive() {
        let mut h = HeaderMap::new();
        h.append("x-a", HeaderValue::from_static("1"));
        h.append("x-a", HeaderValue::from_static("2"));
        modifier(&[], &[("X-A", "3")], &[]).apply(&mut h);
        assert_eq!(values(&h, "x-a"), ["1,2,3"]);
    }

    #[test]
    fn add_without_an_existing_header_creates_it() {
        let mut h = HeaderMap::new();
        modifier(&[], &[("x-new", "v")], &[]).apply(&mut h);
        assert_eq!(values(&h, "x-new"), ["v"]);
    }

    #[test]
    fn set_cookie_lines_stay_separate_and_cookies_join_with_semicolons() {
        let mut h = HeaderMap::new();
        h.append("set-cookie", HeaderValue::from_static("a=1; Path=/"));
        h.append("cookie", HeaderValue::from_static("a=1"));
        modifier(&[], &[("set-cookie", "b=2"), ("cookie", "b=2")], &[]).apply(&mut h);
        assert_eq!(values(&h, "set-cookie"), ["a=1; Path=/", "b=2"]);
        assert_eq!(values(&h, "cookie"), ["a=1; b=2"]);
    }

    #[test]
    fn set_then_add_then_remove() {
        let mut h = HeaderMap::new();
        h.insert("x-set", HeaderValue::from_static("client"));
        h.insert("x-gone", HeaderValue::from_static("client"));
        modifier(&[("x-set", "s")], &[("x-set", "a"), ("x-gone", "a")], &["x-gone"]).apply(&mut h);
        assert_eq!(values(&h, "x-set"), ["s,a"]);
        assert!(h.get("x-gone").is_none());
    }

    #[test]
    fn invalid_names_and_values_are_rejected() {
        let bad_name = HeaderModifier {
            set: vec![("bad name".into(), "v".into())],
            ..Default::default()
        };
        assert!(CompiledHeaderModifier::compile(&bad_name, "t").is_err());
        let bad_value = HeaderModifier {
            add: vec![("x".into(), "a\nb".into())],
            ..Default::default()
        };
        assert!(CompiledHeaderModifier::compile(&bad_value, "t").is_err());
        let bad_remove = HeaderModifier {
            remove: vec!["a:b".into()],
            ..Default::default()
        };
        assert!(CompiledHeaderModifier::compile(&bad_remove, "t").is_err());
    }
}
