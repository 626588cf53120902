//! `fairlead serve`: source → translate → publish to the proxy and the admin server, until a
//! shutdown signal.

use crate::cli::ServeOptions;
use crate::manifests::ManifestSource;
use crate::source::Source;
use crate::watch;
use anyhow::Context;
use fairlead_admin::{Admin, Health, Snapshot, State};
use fairlead_proxy::{ApplyReport, Proxy, ProxyOptions};
use fairlead_route::{Condition, Config, StatusReport};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RebuildLabels {
    result: &'static str,
}

/// How often the sources are re-read when nothing changed, to catch certificates expiring.
const EXPIRY_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// What every `serve` mode sets up before its source starts: the proxy workers, the metrics
/// registry and the health registry. The admin server starts once every metric is registered.
pub struct Base {
    pub proxy: Arc<Proxy>,
    pub registry: Registry,
    pub health: Arc<Health>,
    rebuilds: Family<RebuildLabels, Counter>,
}

impl Base {
    pub fn new(opts: &ServeOptions) -> anyhow::Result<Base> {
        let health = Arc::new(Health::new());
        health.set("listeners", State::Pending, "no routing table yet");
        let mut registry = Registry::default();
        let proxy = Proxy::new(
            ProxyOptions {
                bind_address: opts.bind_address,
                connect_timeout: opts.connect_timeout,
                upstream_idle_timeout: std::time::Duration::from_secs(90),
                access_log: !opts.no_access_log,
                workers: opts.workers,
                tls_min_version: opts.tls_min_version.into(),
            },
            &mut registry,
        )
        .context("cannot start the proxy workers")?;
        let rebuilds = Family::<RebuildLabels, Counter>::default();
        registry.register(
            "fairlead_rebuilds",
            "Routing table rebuilds by result",
            rebuilds.clone(),
        );
        Ok(Base {
            proxy,
            registry,
            health,
            rebuilds,
        })
    }

    /// Starts the admin server and returns the publisher that feeds it and the proxy.
    pub async fn start(self, opts: &ServeOptions, source: Box<dyn Source>) -> anyhow::Result<Running> {
        let admin_listener = tokio::net::TcpListener::bind(opts.admin_addr)
            .await
            .with_context(|| format!("cannot bind the admin server to {}", opts.admin_addr))?;
        let admin = Admin::new(self.health.clone(), self.registry);
        let admin_shutdown = CancellationToken::new();
        let admin_task = tokio::spawn(fairlead_admin::serve(
            admin_listener,
            admin.clone(),
            admin_shutdown.clone(),
        ));
        tracing::info!(addr = %opts.admin_addr, "admin server listening");
        Ok(Running {
            publisher: Publisher {
                proxy: self.proxy.clone(),
                admin,
                health: self.health,
                rebuilds: self.rebuilds,
                version: 0,
                last: None,
                source: Some(source),
                reports: None,
            },
            proxy: self.proxy,
            admin_shutdown,
            admin_task,
        })
    }
}

/// A serving process: the publisher, plus what shutting down needs.
pub struct Running {
    pub publisher: Publisher,
    proxy: Arc<Proxy>,
    admin_shutdown: CancellationToken,
    admin_task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Drains in-flight requests, then stops the admin server.
    pub async fn shutdown(self, grace: std::time::Duration) {
        tracing::info!(?grace, "shutting down: draining in-flight requests");
        self.proxy.shutdown(grace).await;
        self.admin_shutdown.cancel();
        let _ = self.admin_task.await;
    }
}

/// The translation options every source uses.
pub fn translate_options(opts: &ServeOptions) -> fairlead_translate::Options {
    fairlead_translate::Options {
        controller_name: opts.controller_name.clone(),
        ingress_class: opts.ingress_class.clone(),
        ingress_controller: opts.ingress_controller.clone(),
        http_port: opts.http_port,
        https_port: opts.https_port,
        // Set by every load: certificate validity is judged as of that load.
        now_unix: None,
    }
}

/// A timer for rebuilds without any change: certificates expire without an event, so an expired
/// one is reported and stops being served within a minute. An unchanged result is not
/// republished, so an idle tick costs little.
pub fn expiry_timer() -> tokio::time::Interval {
    let mut timer = tokio::time::interval_at(
        tokio::time::Instant::now() + EXPIRY_CHECK_EVERY,
        EXPIRY_CHECK_EVERY,
    );
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    timer
}

/// `serve --manifests DIR`.
pub async fn run(dir: PathBuf, opts: ServeOptions) -> anyhow::Result<()> {
    let base = Base::new(&opts)?;
    base.health.set("source", State::Pending, "loading manifests");
    // Watch before the first load so that no change between the two is missed.
    let (_watcher, mut changes) = watch::watch_dir(&dir)
        .with_context(|| format!("cannot watch manifest directory {}", dir.display()))?;
    let source = ManifestSource::new(dir, translate_options(&opts));
    let mut running = base.start(&opts, Box::new(source)).await?;
    running.publisher.rebuild().await;

    let signal = shutdown_signal();
    tokio::pin!(signal);
    let mut expiry_check = expiry_timer();
    loop {
        tokio::select! {
            _ = &mut signal => break,
            more = watch::debounced(&mut changes) => {
                if !more {
                    break;
                }
                running.publisher.rebuild().await;
            }
            _ = expiry_check.tick() => running.publisher.rebuild().await,
        }
    }
    running.shutdown(opts.shutdown_grace).await;
    Ok(())
}

/// Turns source snapshots into published tables, skipping rebuilds that change nothing.
pub struct Publisher {
    proxy: Arc<Proxy>,
    admin: Arc<Admin>,
    health: Arc<Health>,
    rebuilds: Family<RebuildLabels, Counter>,
    version: u64,
    /// Hash of the last published (config without version, status), to skip no-op rebuilds
    /// without holding a second copy of a large config.
    last: Option<u64>,
    /// `None` only while a load runs on the blocking pool.
    source: Option<Box<dyn Source>>,
    /// Where every published status report goes (the Kubernetes status writer).
    reports: Option<tokio::sync::watch::Sender<Option<Arc<StatusReport>>>>,
}

impl Publisher {
    /// Sends every status report published from now on to `reports`.
    pub fn send_reports_to(&mut self, reports: tokio::sync::watch::Sender<Option<Arc<StatusReport>>>) {
        self.reports = Some(reports);
    }

    pub async fn rebuild(&mut self) {
        let started = Instant::now();
        let Some(mut source) = self.source.take() else {
            return;
        };
        // Reading files and translating are blocking, CPU-bound work: keep them off the runtime.
        let joined = tokio::task::spawn_blocking(move || {
            let loaded = source.load();
            (source, loaded)
        })
        .await;
        let (source, loaded) = match joined {
            Ok(pair) => pair,
            Err(err) => {
                tracing::error!(%err, "source load task failed");
                self.rebuilds
                    .get_or_create(&RebuildLabels { result: "error" })
                    .inc();
                return;
            }
        };
        self.source = Some(source);

        for err in &loaded.errors {
            tracing::warn!("{err}");
        }
        let source_state = if loaded.errors.is_empty() {
            State::Ready
        } else {
            State::Degraded
        };
        let source_message = if loaded.errors.is_empty() {
            format!("{} objects loaded", loaded.counts.values().sum::<usize>())
        } else {
            format!("{} problem(s): {}", loaded.errors.len(), loaded.errors.join("; "))
        };
        self.health.set("source", source_state, source_message);

        let mut config = loaded.translation.config;
        let mut status = loaded.translation.status;
        let material = loaded.translation.tls;
        let fingerprint = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            // A renewed certificate changes only the material, never the config.
            (&config, &status, &material).hash(&mut hasher);
            hasher.finish()
        };
        if self.last == Some(fingerprint) {
            self.rebuilds
                .get_or_create(&RebuildLabels { result: "unchanged" })
                .inc();
            // The table stays, but /status must still show what the source found now.
            let previous = self.admin.snapshot();
            if previous.source_errors != loaded.errors || previous.object_counts != loaded.counts {
                self.admin.publish(Snapshot {
                    version: previous.version,
                    object_counts: loaded.counts,
                    source_errors: loaded.errors,
                    compile_errors: previous.compile_errors.clone(),
                    tls_problems: previous.tls_problems.clone(),
                    status: previous.status.clone(),
                    config: previous.config.clone(),
                });
            }
            return;
        }
        self.last = Some(fingerprint);
        self.version += 1;
        config.version = self.version;

        let applying = Instant::now();
        let report = self.proxy.apply(&config, &material);
        let apply_time = applying.elapsed();
        let compile_errors: Vec<String> = report.compile_errors.iter().map(ToString::to_string).collect();
        for err in &compile_errors {
            tracing::warn!("route left out of the table: {err}");
        }
        let mut tls_problems = Vec::new();
        for problem in &report.tls_problems {
            let message = if problem.kept_previous {
                format!(
                    "TLS material {}: {}; serving its previous version",
                    problem.id, problem.error
                )
            } else {
                format!("TLS material {}: {}; not served", problem.id, problem.error)
            };
            tracing::warn!("{message}");
            tls_problems.push(message);
        }
        mark_unbound_listeners(&mut status, &config, &report);
        if report.bind_errors.is_empty() {
            self.health.set(
                "listeners",
                State::Ready,
                format!("listening on ports {:?}", report.bound),
            );
        } else {
            let msg = report
                .bind_errors
                .iter()
                .map(|(port, reason)| format!("port {port}: {reason}"))
                .collect::<Vec<_>>()
                .join("; ");
            tracing::error!("cannot listen: {msg}");
            self.health.set("listeners", State::Degraded, msg);
        }
        self.rebuilds
            .get_or_create(&RebuildLabels { result: "published" })
            .inc();
        tracing::info!(
            version = self.version,
            listeners = config.listeners.len(),
            routes = config.listeners.iter().map(|l| l.routes.len()).sum::<usize>(),
            build_ms = started.elapsed().as_secs_f64() * 1000.0,
            read_ms = loaded.read_time.as_secs_f64() * 1000.0,
            translate_ms = loaded.translate_time.as_secs_f64() * 1000.0,
            apply_ms = apply_time.as_secs_f64() * 1000.0,
            "routing table published"
        );
        if let Some(reports) = &self.reports {
            reports.send_replace(Some(Arc::new(status.clone())));
        }
        self.admin.publish(Snapshot {
            version: self.version,
            object_counts: loaded.counts,
            source_errors: loaded.errors,
            compile_errors,
            tls_problems,
            status,
            config,
        });
    }
}

/// A listener whose port could not be bound is not programmed: say so on the Gateway listener.
fn mark_unbound_listeners(status: &mut StatusReport, config: &Config, report: &ApplyReport) {
    for (port, reason) in &report.bind_errors {
        for listener in config.listeners.iter().filter(|l| l.port == *port) {
            // Gateway listener ids are `gateway/<ns>/<name>/<listener>`.
            let mut parts = listener.id.splitn(4, '/');
            let (Some("gateway"), Some(ns), Some(name), Some(section)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Some(obj) = status.objects.iter_mut().find(|o| {
                o.object.kind == "Gateway"
                    && o.object.namespace.as_deref() == Some(ns)
                    && o.object.name == name
            }) else {
                continue;
            };
            if let Some(ls) = obj.listeners.iter_mut().find(|l| l.name == section) {
                ls.conditions.retain(|c| c.type_ != "Programmed");
                ls.conditions.push(Condition::new(
                    "Programmed",
                    false,
                    "PortUnavailable",
                    format!("cannot listen on port {port}: {reason}"),
                ));
            }
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
