//! The usual setup: echo backends, a Gateway listener on a free port with a Service and
//! EndpointSlice per backend, routes in their own file, and a client.

use super::client::{Http, Reply};
use super::echo::Echo;
use super::manifests::{backend, gateway_setup, yaml};
use super::process::{free_port, Fairlead};
use serde_json::Value;

/// Name of the file [`Scenario::start`] writes the routes to.
pub const ROUTES_FILE: &str = "20-routes.yaml";

pub struct Scenario {
    pub fairlead: Fairlead,
    /// Port of the Gateway listener.
    pub port: u16,
    pub http: Http,
    pub echoes: Vec<Echo>,
}

impl Scenario {
    /// Starts echo backends named `echoes` (each with a Service of the same name), and fairlead
    /// serving `routes` (written to [`ROUTES_FILE`]).
    pub async fn start(echoes: &[&str], routes: Vec<Value>) -> Scenario {
        Scenario::start_with_files(echoes, vec![(ROUTES_FILE, yaml(&routes))]).await
    }

    /// Like [`Scenario::start`], with any set of extra files instead of the routes file.
    pub async fn start_with_files(echoes: &[&str], files: Vec<(&str, String)>) -> Scenario {
        let mut started = Vec::new();
        for name in echoes {
            started.push(Echo::start(name).await);
        }
        let port = free_port();
        let backends: Vec<Value> = started.iter().flat_map(backend).collect();
        let mut all = vec![
            ("00-gateway.yaml", yaml(&gateway_setup(port))),
            ("10-backends.yaml", yaml(&backends)),
        ];
        all.extend(files);
        let fairlead = Fairlead::start(&all).await;
        Scenario {
            fairlead,
            port,
            http: Http::new(),
            echoes: started,
        }
    }

    /// `GET path` with `Host: host` on the Gateway listener.
    pub async fn get(&self, host: &str, path: &str) -> Reply {
        self.http.get(self.port, host, path).await
    }

    /// The echo backend that answered `GET path` on `host` (the test fails on any non-200).
    pub async fn served_by(&self, host: &str, path: &str) -> String {
        let reply = self.get(host, path).await;
        assert_eq!(reply.status, 200, "GET {host}{path}: {}", reply.text());
        reply.echo_name()
    }

    /// The status code of `GET path` on `host`.
    pub async fn status_of(&self, host: &str, path: &str) -> u16 {
        self.get(host, path).await.status.as_u16()
    }
}
