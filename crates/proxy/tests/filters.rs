//! backendRef-level filters and the header modifier `add` semantics, through real sockets.

mod support;

use bytes::Bytes;
use fairlead_route::{Cors, Filter, HeaderModifier, PathModifier, Redirect, UrlRewrite};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use support::*;

fn set(name: &str, value: &str) -> HeaderModifier {
    HeaderModifier {
        set: vec![(name.into(), value.into())],
        ..Default::default()
    }
}

fn add(name: &str, value: &str) -> HeaderModifier {
    HeaderModifier {
        add: vec![(name.into(), value.into())],
        ..Default::default()
    }
}

#[tokio::test]
async fn backend_filters_apply_to_their_backend_only_after_the_rules() {
    let a = echo("a").await;
    let b = echo("b").await;
    let proxy = start_proxy(|port| {
        let mut backend_a = service("a", 1, &[a.addr]);
        backend_a.filters = vec![
            Filter::RequestHeaderModifier(HeaderModifier {
                set: vec![("x-backend".into(), "a".into())],
                add: vec![("x-layers".into(), "backend-a".into())],
                ..Default::default()
            }),
            Filter::ResponseHeaderModifier(set("x-picked", "a")),
        ];
        let mut backend_b = service("b", 1, &[b.addr]);
        backend_b.filters = vec![Filter::RequestHeaderModifier(set("x-backend", "b"))];
        let mut r = route("r", vec![backend_a, backend_b]);
        r.filters = vec![
            Filter::RequestHeaderModifier(HeaderModifier {
                set: vec![("x-backend".into(), "rule".into())],
                add: vec![("x-layers".into(), "rule".into())],
                ..Default::default()
            }),
            Filter::ResponseHeaderModifier(set("x-rule", "yes")),
        ];
        config(port, vec![r])
    })
    .await;
    let mut client = H1Client::connect(proxy.port).await;
    let mut names = Vec::new();
    for _ in 0..40 {
        let resp = client.get("f.example", "/").await;
        let name = resp.name();
        let seen = &resp.json()["headers"];
        assert_eq!(
            seen["x-backend"],
            name.as_str(),
            "the backend's set wins over the rule's"
        );
        assert_eq!(resp.headers["x-rule"], "yes");
        if name == "a" {
            assert_eq!(seen["x-layers"], "rule,backend-a");
            assert_eq!(resp.headers["x-picked"], "a");
        } else {
            assert_eq!(seen["x-layers"], "rule");
            assert!(
                resp.headers.get("x-picked").is_none(),
                "b's response is not modified by a"
            );
        }
        names.push(name);
    }
    assert_eq!(tally(names).len(), 2, "both backends picked");
}

#[tokio::test]
async fn a_backend_url_rewrite_overrides_the_rules_field_by_field() {
    let backend = echo("rw").await;
    let proxy = start_proxy(|port| {
        let mut svc = service("rw", 1, &[backend.addr]);
        svc.filters = vec![Filter::UrlRewrite(UrlRewrite {
            hostname: Some("backend.internal".into()),
            path: None,
        })];
        let mut r = route("r", vec![svc]);
        r.filters = vec![Filter::UrlRewrite(UrlRewrite {
            hostname: Some("rule.internal".into()),
            path: Some(PathModifier::ReplaceFullPath("/rule-path".into())),
        })];
        config(port, vec![r])
    })
    .await;
    let json = get(proxy.port, "public.example", "/original?q=1").await.json();
    assert_eq!(json["host"], "backend.internal");
    assert_eq!(json["path"], "/rule-path");
    assert_eq!(json["query"], "q=1");
}

#[tokio::test]
async fn filters_that_cannot_run_on_a_backend_fail_its_share_closed() {
    let ok = echo("ok").await;
    let never = echo("never").await;
    let proxy = start_proxy(|port| {
        let failing = [
            Filter::RequestRedirect(Redirect {
                status_code: 302,
                ..Default::default()
            }),
            Filter::Cors(Cors::default()),
            Filter::Unsupported {
                name: "ExtensionRef".into(),
            },
        ];
        let routes = failing
            .into_iter()
            .enumerate()
            .map(|(i, filter)| {
                let mut broken = service("never", 1, &[never.addr]);
                broken.filters = vec![filter];
                let mut r = route(&format!("r{i}"), vec![broken]);
                r.hostnames = vec![format!("r{i}.example")];
                r
            })
            .chain(std::iter::once(route("fine", vec![service("ok", 1, &[ok.addr])])))
            .collect();
        config(port, routes)
    })
    .await;
    let mut client = H1Client::connect(proxy.port).await;
    for i in 0..3 {
        let resp = client.get(&format!("r{i}.example"), "/").await;
        assert_eq!(resp.status, StatusCode::INTERNAL_SERVER_ERROR, "r{i}");
        assert_eq!(resp.text(), "route misconfigured\n");
    }
    assert_eq!(client.get("other.example", "/").await.name(), "ok");
}

#[tokio::test]
async fn add_joins_onto_existing_request_and_response_values() {
    // A backend that answers with repeated headers of its own.
    let backend = serve_fn(|req: Request<Incoming>| async move {
        let seen = req
            .headers()
            .get_all("x-list")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("|");
        Response::builder()
            .header("x-multi", "one")
            .header("x-multi", "two")
            .header("set-cookie", "a=1")
            .body(Full::new(Bytes::from(seen)))
            .unwrap()
    })
    .await;
    let proxy = start_proxy(|port| {
        let mut r = route("r", vec![service("b", 1, &[backend.addr])]);
        r.filters = vec![
            Filter::RequestHeaderModifier(add("X-List", "bar,baz")),
            Filter::ResponseHeaderModifier(HeaderModifier {
                add: vec![
                    ("x-multi".into(), "three".into()),
                    ("set-cookie".into(), "b=2".into()),
                ],
                ..Default::default()
            }),
        ];
        config(port, vec![r])
    })
    .await;
    let mut req = request("GET", "add.example", "/");
    req.headers_mut().append("x-list", "foo".parse().unwrap());
    req.headers_mut().append("x-list", "qux".parse().unwrap());
    let resp = H1Client::connect(proxy.port).await.send(req).await;
    assert_eq!(resp.text(), "foo,qux,bar,baz", "one line, the added value last");
    let multi: Vec<_> = resp.headers.get_all("x-multi").iter().collect();
    assert_eq!(multi, ["one,two,three"]);
    let cookies: Vec<_> = resp.headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"], "Set-Cookie lines are never joined");
}
