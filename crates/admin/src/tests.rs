use super::*;

fn admin() -> Arc<Admin> {
    Admin::new(Arc::new(Health::new()), Registry::default())
}

#[test]
fn readyz_follows_subsystems() {
    let a = admin();
    assert_eq!(
        a.respond(&Method::GET, "/readyz").status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    a.health.set("source", State::Ready, "");
    assert_eq!(a.respond(&Method::GET, "/readyz").status(), StatusCode::OK);
    assert_eq!(a.respond(&Method::GET, "/healthz").status(), StatusCode::OK);
}

#[test]
fn unknown_paths_and_methods_are_refused() {
    let a = admin();
    assert_eq!(a.respond(&Method::GET, "/nope").status(), StatusCode::NOT_FOUND);
    assert_eq!(
        a.respond(&Method::POST, "/status").status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[test]
fn routes_dump_is_the_published_config() {
    let a = admin();
    let config = Config {
        version: 7,
        listeners: Vec::new(),
    };
    a.publish(Snapshot {
        version: 7,
        config: config.clone(),
        ..Snapshot::default()
    });
    let resp = a.respond(&Method::GET, "/routes");
    assert_eq!(resp.status(), StatusCode::OK);
    let body = futures_body(resp);
    let parsed: Config = serde_json::from_slice(&body).unwrap();
    assert_eq!(parsed, config);
}

fn futures_body(resp: Response<Full<Bytes>>) -> Bytes {
    use http_body_util::BodyExt;
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async { resp.into_body().collect().await.unwrap().to_bytes() })
}
