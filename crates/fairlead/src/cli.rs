//! Command-line interface.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "fairlead",
    version,
    about = "Kubernetes Ingress and Gateway API controller with its own L7 proxy"
)]
pub struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "FAIRLEAD_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Watch a source, compile the routing table and proxy traffic.
    Serve(Box<ServeArgs>),
    /// Run the quickstart: echo backends plus `serve` on examples/quickstart.
    Demo(DemoArgs),
    /// A JSON echo backend (for the quickstart and tests).
    Echo(EchoArgs),
    /// Dry run: translate a manifests directory, print every object's status, and exit with 1
    /// when any object is not accepted, has unresolved references, or fails to parse.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Directory of Kubernetes YAML/JSON manifests.
    #[arg(long, value_name = "DIR")]
    pub manifests: PathBuf,
    /// Report format.
    #[arg(long, value_enum, default_value_t = CheckOutput::Text)]
    pub output: CheckOutput,
    /// GatewayClasses with this spec.controllerName are ours.
    #[arg(long, default_value = "fairlead.dev/gateway-controller")]
    pub controller_name: String,
    /// Ingress class name served (with or without an IngressClass object).
    #[arg(long, default_value = "fairlead")]
    pub ingress_class: String,
    /// IngressClasses with this spec.controller are ours.
    #[arg(long, default_value = "fairlead.dev/ingress-controller")]
    pub ingress_controller: String,
    /// Port Ingress rules are served on.
    #[arg(long, default_value_t = 8080)]
    pub http_port: u16,
    /// Port Ingress TLS is served on.
    #[arg(long, default_value_t = 8443)]
    pub https_port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckOutput {
    /// A readable report per object.
    Text,
    /// One JSON document (`ok`, `objects`, `manifest_errors`, `compile_errors`, `problems`,
    /// `status`).
    Json,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["manifests", "kubernetes"])))]
pub struct ServeArgs {
    /// Directory of Kubernetes YAML/JSON manifests, watched for changes.
    #[arg(long, value_name = "DIR")]
    pub manifests: Option<PathBuf>,
    /// Watch the Kubernetes API (in-cluster service account, or --kubeconfig / $KUBECONFIG).
    #[arg(long)]
    pub kubernetes: bool,
    #[command(flatten)]
    pub kube: KubeArgs,
    #[command(flatten)]
    pub common: ServeOptions,
}

/// Options of `serve --kubernetes`.
#[derive(Debug, Args)]
pub struct KubeArgs {
    /// Kubeconfig file (default: the in-cluster service account, else $KUBECONFIG or
    /// ~/.kube/config).
    #[arg(long, value_name = "PATH", conflicts_with = "manifests")]
    pub kubeconfig: Option<PathBuf>,
    /// Watch namespaced objects in this namespace only.
    #[arg(long, value_name = "NS", conflicts_with = "manifests")]
    pub watch_namespace: Option<String>,
    /// Campaign for a Lease and write status only while holding it (for more than one replica).
    #[arg(long, conflicts_with = "manifests")]
    pub leader_elect: bool,
    /// Namespace of the election Lease.
    #[arg(
        long,
        value_name = "NS",
        env = "POD_NAMESPACE",
        default_value = "fairlead-system"
    )]
    pub lease_namespace: String,
    /// Name of the election Lease.
    #[arg(long, value_name = "NAME", default_value = "fairlead")]
    pub lease_name: String,
    /// How long a Lease holder's claim lasts without renewal.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,
    /// A leader that could not renew for this long stops writing (shorter than the lease).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub lease_renew_deadline: Duration,
    /// How often the lease is renewed, or tried for.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub lease_retry_period: Duration,
    /// Address (IP or hostname) published in Gateway and Ingress status. Repeatable.
    #[arg(
        long = "status-address",
        value_name = "ADDR",
        conflicts_with = "manifests",
        conflicts_with = "status_service"
    )]
    pub status_addresses: Vec<String>,
    /// Publish this LoadBalancer Service's address in Gateway and Ingress status.
    #[arg(long, value_name = "NS/NAME", conflicts_with = "manifests", value_parser = parse_namespaced_name)]
    pub status_service: Option<(String, String)>,
}

/// Parses `namespace/name`.
pub fn parse_namespaced_name(s: &str) -> Result<(String, String), String> {
    match s.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok((ns.to_string(), name.to_string()))
        }
        _ => Err(format!("expected NAMESPACE/NAME, got {s:?}")),
    }
}

#[derive(Debug, Args)]
pub struct ServeOptions {
    /// Address every listener binds to.
    #[arg(long, default_value = "0.0.0.0", env = "FAIRLEAD_BIND_ADDRESS")]
    pub bind_address: IpAddr,
    /// Port Ingress rules are served on.
    #[arg(long, default_value_t = 8080)]
    pub http_port: u16,
    /// Port Ingress TLS is served on (when an Ingress has spec.tls).
    #[arg(long, default_value_t = 8443)]
    pub https_port: u16,
    /// Lowest TLS version HTTPS listeners accept.
    #[arg(long, value_enum, default_value_t = TlsMinVersion::V1_2, env = "FAIRLEAD_TLS_MIN_VERSION")]
    pub tls_min_version: TlsMinVersion,
    /// Admin server address (/healthz /readyz /status /routes /metrics).
    #[arg(long, default_value = "127.0.0.1:9901", env = "FAIRLEAD_ADMIN_ADDR")]
    pub admin_addr: SocketAddr,
    /// GatewayClasses with this spec.controllerName are ours.
    #[arg(long, default_value = "fairlead.dev/gateway-controller")]
    pub controller_name: String,
    /// Ingress class name served (with or without an IngressClass object).
    #[arg(long, default_value = "fairlead")]
    pub ingress_class: String,
    /// IngressClasses with this spec.controller are ours.
    #[arg(long, default_value = "fairlead.dev/ingress-controller")]
    pub ingress_controller: String,
    /// How long in-flight requests may take to finish after SIGTERM / SIGINT.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
    /// Upstream connect timeout.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// Proxy worker threads (each with its own event loop); 0 = one per CPU.
    #[arg(long, default_value_t = 0, env = "FAIRLEAD_WORKERS")]
    pub workers: usize,
    /// Turn off the per-request access log.
    #[arg(long)]
    pub no_access_log: bool,
}

/// `--tls-min-version` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsMinVersion {
    #[value(name = "1.2")]
    V1_2,
    #[value(name = "1.3")]
    V1_3,
}

impl From<TlsMinVersion> for fairlead_proxy::TlsVersion {
    fn from(v: TlsMinVersion) -> Self {
        match v {
            TlsMinVersion::V1_2 => fairlead_proxy::TlsVersion::Tls12,
            TlsMinVersion::V1_3 => fairlead_proxy::TlsVersion::Tls13,
        }
    }
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The quickstart manifests.
    #[arg(long, default_value = "examples/quickstart")]
    pub manifests: PathBuf,
    /// Echo backends to start, as ADDR=NAME (they must match the quickstart's EndpointSlices).
    #[arg(long = "echo", default_values_t = [
        "127.0.0.1:9101=echo-a".to_string(),
        "127.0.0.1:9102=echo-b".to_string(),
        "127.0.0.1:9103=echo-c".to_string(),
    ])]
    pub echoes: Vec<String>,
    #[command(flatten)]
    pub common: ServeOptions,
}

#[derive(Debug, Args)]
pub struct EchoArgs {
    /// Address to listen on, optionally with a name: `127.0.0.1:9101=alpha`. Repeatable.
    #[arg(long = "listen", required = true)]
    pub listen: Vec<String>,
}

/// Parses `ADDR[=NAME]`; the name defaults to the address.
pub fn parse_listen(spec: &str) -> Result<(SocketAddr, String), String> {
    let (addr, name) = match spec.split_once('=') {
        Some((a, n)) => (a, n.to_owned()),
        None => (spec, spec.to_owned()),
    };
    let addr = addr
        .parse()
        .map_err(|e| format!("invalid listen address {addr:?}: {e}"))?;
    Ok((addr, name))
}

/// Parses durations like `500ms`, `10s`, `2m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 500ms, 10s, 2m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("invalid duration unit in {s:?}: use ms, s or m")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_reject_garbage() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5h").is_err());
    }

    #[test]
    fn tls_min_version_takes_1_2_or_1_3_and_defaults_to_1_2() {
        let parse = |extra: &[&str]| {
            let mut args = vec!["fairlead", "serve", "--manifests", "m"];
            args.extend_from_slice(extra);
            Cli::try_parse_from(args).map(|cli| match cli.command {
                Command::Serve(serve) => serve.common.tls_min_version,
                other => panic!("parsed as {other:?}"),
            })
        };
        assert_eq!(parse(&[]).unwrap(), TlsMinVersion::V1_2);
        assert_eq!(parse(&["--tls-min-version", "1.3"]).unwrap(), TlsMinVersion::V1_3);
        assert_eq!(parse(&["--tls-min-version", "1.2"]).unwrap(), TlsMinVersion::V1_2);
        assert!(parse(&["--tls-min-version", "1.1"]).is_err());
        assert_eq!(
            fairlead_proxy::TlsVersion::from(TlsMinVersion::V1_3),
            fairlead_proxy::TlsVersion::Tls13
        );
    }

    #[test]
    fn serve_takes_exactly_one_source() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["fairlead", "serve"], args].concat());
        assert!(parse(&[]).is_err(), "a source is required");
        assert!(parse(&["--manifests", "m", "--kubernetes"]).is_err());
        assert!(
            parse(&["--manifests", "m", "--leader-elect"]).is_err(),
            "election needs --kubernetes"
        );
        let cli = parse(&[
            "--kubernetes",
            "--leader-elect",
            "--status-service",
            "fairlead-system/fairlead",
        ])
        .unwrap();
        let Command::Serve(serve) = cli.command else {
            panic!("not serve")
        };
        assert!(serve.kubernetes && serve.kube.leader_elect);
        assert_eq!(
            serve.kube.status_service,
            Some(("fairlead-system".to_string(), "fairlead".to_string()))
        );
        assert!(parse(&["--kubernetes", "--status-service", "nope"]).is_err());
        assert!(parse(&[
            "--kubernetes",
            "--status-address",
            "1.2.3.4",
            "--status-service",
            "a/b"
        ])
        .is_err());
    }

    #[test]
    fn listen_specs_parse() {
        let (addr, name) = parse_listen("127.0.0.1:9101=alpha").unwrap();
        assert_eq!(addr.port(), 9101);
        assert_eq!(name, "alpha");
        assert_eq!(parse_listen("127.0.0.1:9102").unwrap().1, "127.0.0.1:9102");
        assert!(parse_listen("nope=alpha").is_err());
    }
}
