//! Request targets: the API path shapes (core `/api/v1/...`, grouped `/apis/{g}/{v}/...`,
//! namespaced or not, object, collection or `/status`, discovery) and the query string.

/// An object or collection path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub plural: String,
    pub name: Option<String>,
    pub status: bool,
}

/// What a path addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/api`
    Core,
    /// `/apis`
    Groups,
    /// `/apis/{group}`
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`
    GroupVersion(String, String),
    /// `/version`
    Version,
    Resource(Target),
    NotFound,
}

pub(crate) fn parse_path(path: &str) -> Route {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => return Route::Version,
        ["api"] => return Route::Core,
        ["apis"] => return Route::Groups,
        ["apis", g] => return Route::Group(g.to_string()),
        ["api", v] => return Route::GroupVersion(String::new(), v.to_string()),
        ["apis", g, v] => return Route::GroupVersion(g.to_string(), v.to_string()),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Route::NotFound,
    };
    let (namespace, plural, name, status) = match rest {
        // Checked before the namespaced collection shape: `namespaces/{n}/status` is the
        // Namespace's own status (no resource is called "status").
        [p, n, "status"] => (None, *p, Some(*n), true),
        ["namespaces", ns, p] => (Some(*ns), *p, None, false),
        ["namespaces", ns, p, n] => (Some(*ns), *p, Some(*n), false),
        ["namespaces", ns, p, n, "status"] => (Some(*ns), *p, Some(*n), true),
        [p] => (None, *p, None, false),
        [p, n] => (None, *p, Some(*n), false),
        _ => return Route::NotFound,
    };
    if [plural, name.unwrap_or("x"), namespace.unwrap_or("x")]
        .iter()
        .any(|s| s.is_empty())
    {
        return Route::NotFound;
    }
    Route::Resource(Target {
        group: group.to_string(),
        version: version.to_string(),
        namespace: namespace.map(String::from),
        plural: plural.to_string(),
        name: name.map(String::from),
        status,
    })
}

/// Decoded query parameters (the first value of a repeated key wins).
#[derive(Clone, Debug, Default)]
pub(crate) struct Query(Vec<(String, String)>);

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; a malformed
/// escape is kept as written.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Query {
    pub(crate) fn parse(q: &str) -> Self {
        Query(
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// A boolean parameter: `true` or `1` (any case) is set.
    pub(crate) fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(g: &str, ns: Option<&str>, p: &str, n: Option<&str>, status: bool) -> Route {
        Route::Resource(Target {
            group: g.into(),
            version: "v1".into(),
            namespace: ns.map(String::from),
            plural: p.into(),
            name: n.map(String::from),
            status,
        })
    }

    #[test]
    fn paths() {
        let gw = "gateway.networking.k8s.io";
        assert_eq!(parse_path("/api/v1/secrets"), t("", None, "secrets", None, false));
        assert_eq!(
            parse_path("/api/v1/namespaces/a/secrets"),
            t("", Some("a"), "secrets", None, false)
        );
        assert_eq!(
            parse_path("/api/v1/namespaces/a/secrets/s"),
            t("", Some("a"), "secrets", Some("s"), false)
        );
        assert_eq!(
            parse_path("/api/v1/namespaces/a"),
            t("", None, "namespaces", Some("a"), false)
        );
        assert_eq!(
            parse_path("/api/v1/namespaces/a/status"),
            t("", None, "namespaces", Some("a"), true)
        );
        assert_eq!(
            parse_path(&format!("/apis/{gw}/v1/namespaces/d/gateways/g/status")),
            t(gw, Some("d"), "gateways", Some("g"), true)
        );
        assert_eq!(
            parse_path(&format!("/apis/{gw}/v1/gatewayclasses/c")),
            t(gw, None, "gatewayclasses", Some("c"), false)
        );
        assert_eq!(parse_path("/apis"), Route::Groups);
        assert_eq!(parse_path("/apis/x"), Route::Group("x".into()));
        assert_eq!(
            parse_path("/apis/x/v1"),
            Route::GroupVersion("x".into(), "v1".into())
        );
        assert_eq!(parse_path("/api/v1"), Route::GroupVersion("".into(), "v1".into()));
        assert_eq!(parse_path("/api"), Route::Core);
        assert_eq!(parse_path("/version"), Route::Version);
        assert_eq!(parse_path("/healthz"), Route::NotFound);
        assert_eq!(parse_path("/api/v1/namespaces/a/pods/p/log"), Route::NotFound);
        assert_eq!(parse_path("/api/v1/namespaces//secrets"), Route::NotFound);
    }

    #[test]
    fn query() {
        let q = Query::parse("&watch=1&labelSelector=app%3Dweb%2Ctier+in+(a)&x=%zz&allowWatchBookmarks=True");
        assert!(q.flag("watch"));
        assert!(q.flag("allowWatchBookmarks"));
        assert!(!q.flag("x"));
        assert_eq!(q.get("labelSelector"), Some("app=web,tier in (a)"));
        assert_eq!(q.get("x"), Some("%zz"));
        assert_eq!(q.get("missing"), None);
        assert_eq!(Query::parse("a=%4").get("a"), Some("%4"));
    }
}
