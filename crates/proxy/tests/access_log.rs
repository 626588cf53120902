//! The access log: one `access` event per request with the fields operators search by.

mod support;

use http::StatusCode;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use support::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

type Fields = BTreeMap<String, String>;

/// Records the fields of every `access` event.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Fields>>>);

struct FieldVisitor<'a>(&'a mut Fields);

impl Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for Capture {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.enabled(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "access"
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::new();
        event.record(&mut FieldVisitor(&mut fields));
        self.0.lock().unwrap().push(fields);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

// Requests are served on the proxy's worker threads, so the capture must be the global
// subscriber (each test binary runs in its own process under nextest; this file has one test).
#[tokio::test]
async fn one_access_event_per_request_with_its_fields() {
    let capture = Capture::default();
    tracing::subscriber::set_global_default(capture.clone()).expect("first global subscriber");
    let backend = echo("logged").await;
    let proxy = start_proxy(|port| {
        let mut r = route("r-logged", vec![service("logged", 1, &[backend.addr])]);
        r.matches[0].path = fairlead_route::PathMatch::Prefix("/hello".into());
        config(port, vec![r])
    })
    .await;

    let mut client = H1Client::connect(proxy.port).await;
    let ok = client.get("log.example", "/hello/world?x=1").await;
    assert_eq!(ok.status, StatusCode::OK);
    let missing = client.get("log.example", "/nothing").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let events = capture.0.lock().unwrap().clone();
    assert_eq!(events.len(), 2, "{events:?}");
    let first = &events[0];
    assert_eq!(first["method"], "GET");
    assert_eq!(first["host"], "log.example");
    assert_eq!(first["path"], "/hello/world");
    assert_eq!(first["status"], "200");
    assert_eq!(first["route"], "r-logged");
    assert_eq!(first["upstream"], backend.addr.to_string());
    assert_eq!(first["bytes"], ok.body.len().to_string());
    assert!(first["duration_ms"].parse::<f64>().is_ok(), "{first:?}");

    let second = &events[1];
    assert_eq!(second["status"], "404");
    assert_eq!(second["route"], "");
    assert_eq!(second["upstream"], "-");
    assert_eq!(second["bytes"], "no route\n".len().to_string());
}
