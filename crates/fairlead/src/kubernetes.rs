//! `serve --kubernetes`: watch the API, serve from the table built from it, and write status
//! (only while holding the Lease when `--leader-elect` is on).

use crate::cli::{KubeArgs, ServeOptions};
use crate::serve::{expiry_timer, shutdown_signal, translate_options, Base};
use crate::source::{unix_now, Loaded, Source};
use fairlead_admin::State;
use fairlead_kube::lease::{default_identity, Election, LeaseSettings};
use fairlead_kube::source::{debounced, KubeSource, SourceSettings, DEBOUNCE_CEILING, DEBOUNCE_QUIET};
use fairlead_kube::status::{Addresses, StatusSettings, StatusWriter};
use fairlead_translate::{translate, Options};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Translates whatever the watches hold now.
struct KubeLoader {
    source: Arc<KubeSource>,
    options: Options,
}

impl Source for KubeLoader {
    fn load(&mut self) -> Loaded {
        let started = Instant::now();
        self.options.now_unix = Some(unix_now());
        let snapshot = self.source.snapshot();
        let read_time = started.elapsed();
        let translation = translate(&snapshot.resources, &self.options);
        Loaded {
            translation,
            errors: snapshot.errors,
            counts: snapshot.counts,
            read_time,
            translate_time: started.elapsed().saturating_sub(read_time),
        }
    }
}

pub async fn run(args: KubeArgs, opts: ServeOptions) -> anyhow::Result<()> {
    if args.lease_renew_deadline >= args.lease_duration
        || args.lease_retry_period >= args.lease_renew_deadline
    {
        anyhow::bail!(
            "lease timings must satisfy retry period < renew deadline < lease duration \
             (got {:?} < {:?} < {:?})",
            args.lease_retry_period,
            args.lease_renew_deadline,
            args.lease_duration
        );
    }
    let client = fairlead_kube::client::connect(args.kubeconfig.as_deref()).await?;
    let mut base = Base::new(&opts)?;
    base.health.set(
        "source",
        State::Pending,
        "waiting for the first list of every watched resource",
    );
    let shutdown = CancellationToken::new();

    let source = Arc::new(KubeSource::start(
        client.clone(),
        SourceSettings {
            namespace: args.watch_namespace.clone(),
        },
        base.health.clone(),
        &mut base.registry,
    ));
    let mut changes = source.changes();

    // Without election this process always writes; the sender lives until the end so the
    // writer's receiver never sees it closed.
    let (_always, always_leader) = watch::channel(true);
    let (election, leader) = if args.leader_elect {
        let identity = default_identity();
        tracing::info!(%identity, lease = %format!("{}/{}", args.lease_namespace, args.lease_name), "campaigning for the lease");
        let mut lease = LeaseSettings::new(&args.lease_namespace, &args.lease_name, &identity);
        lease.lease_duration = args.lease_duration;
        lease.renew_deadline = args.lease_renew_deadline;
        lease.retry_period = args.lease_retry_period;
        let election = Election::start(
            client.clone(),
            lease,
            base.health.clone(),
            &mut base.registry,
            shutdown.clone(),
        );
        let leader = election.subscribe();
        (Some(election), leader)
    } else {
        (None, always_leader)
    };

    let mut status = StatusSettings::new(&opts.controller_name);
    status.addresses = match (&args.status_service, args.status_addresses.is_empty()) {
        (Some((namespace, name)), _) => Addresses::Service {
            namespace: namespace.clone(),
            name: name.clone(),
        },
        (None, false) => Addresses::Static(args.status_addresses.clone()),
        (None, true) => Addresses::None,
    };
    let (reports_tx, reports_rx) = watch::channel(None);
    let writer = StatusWriter::start(
        client,
        status,
        reports_rx,
        leader,
        base.health.clone(),
        &mut base.registry,
        shutdown.clone(),
    );

    let loader = KubeLoader {
        source: source.clone(),
        options: translate_options(&opts),
    };
    let mut running = base.start(&opts, Box::new(loader)).await?;
    running.publisher.send_reports_to(reports_tx);

    let signal = shutdown_signal();
    tokio::pin!(signal);
    // No table before every watch has listed once: a table from half the objects would send
    // requests to routes without their Services.
    let mut stopped = false;
    while !source.settled() {
        tokio::select! {
            _ = &mut signal => { stopped = true; break; }
            changed = changes.changed() => if changed.is_err() { stopped = true; break; },
        }
    }
    if !stopped {
        running.publisher.rebuild().await;
        let mut expiry_check = expiry_timer();
        loop {
            tokio::select! {
                _ = &mut signal => break,
                more = debounced(&mut changes, DEBOUNCE_QUIET, DEBOUNCE_CEILING) => {
                    if !more {
                        break;
                    }
                    running.publisher.rebuild().await;
                }
                _ = expiry_check.tick() => running.publisher.rebuild().await,
            }
        }
    }
    // Status writes and the lease stop first (the lease is released, so another replica takes
    // over at once); traffic drains after.
    shutdown.cancel();
    writer.stopped().await;
    if let Some(election) = election {
        election.stopped().await;
    }
    drop(source);
    running.shutdown(opts.shutdown_grace).await;
    Ok(())
}
