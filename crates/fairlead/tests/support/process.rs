//! The `fairlead serve` child process: a temporary manifest directory, free ports, the admin
//! endpoints, and clean-up (kill, print the captured log when the test failed, remove the files).

use super::client::{Http, Reply};
use super::{POLL_EVERY, WAIT_AT_MOST};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Lines of the fairlead log printed when a test fails.
const LOG_LINES_SHOWN: usize = 300;

/// A port on 127.0.0.1 reserved for this test process.
///
/// fairlead binds its listeners with SO_REUSEPORT, so two processes of the same user given the
/// same port would both bind it and silently share its connections — a port merely "free a
/// moment ago" is not enough when many tests start servers at once. The port is therefore held
/// until the test process exits by a bound, non-listening SO_REUSEPORT socket: other tests'
/// probes (plain binds) cannot get it, fairlead (SO_REUSEPORT, same user) still can, and a
/// socket that does not listen is never handed a connection.
pub fn free_port() -> u16 {
    use socket2::{Domain, Socket, Type};
    static HELD: std::sync::Mutex<Vec<Socket>> = std::sync::Mutex::new(Vec::new());
    for _ in 0..50 {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = probe.local_addr().expect("local address");
        drop(probe);
        let hold = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        hold.set_reuse_port(true).expect("SO_REUSEPORT");
        // Lost the port to another process between the probe and now: try another.
        if hold.bind(&addr.into()).is_ok() {
            HELD.lock().unwrap_or_else(|e| e.into_inner()).push(hold);
            return addr.port();
        }
    }
    panic!("could not reserve a port on 127.0.0.1 in 50 attempts");
}

/// A port for the admin server, which binds without SO_REUSEPORT and so cannot share a port
/// held by [`free_port`]: a plain "free a moment ago" port. If another process takes it first,
/// fairlead exits with a bind error that the captured log shows.
fn admin_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    probe.local_addr().expect("local address").port()
}

/// A directory under the system temp dir, unique per test, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new() -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "fairlead-e2e-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A running `fairlead serve`.
pub struct Fairlead {
    child: Child,
    /// Admin server address.
    pub admin: SocketAddr,
    /// The Ingress port (`--http-port`).
    pub http_port: u16,
    manifests: PathBuf,
    log: PathBuf,
    admin_client: Http,
    // Last: the directory goes only after the child is gone.
    dir: TempDir,
}

impl Fairlead {
    /// Writes `files` (name, contents) into a fresh manifest directory, starts `fairlead serve`
    /// on it and waits for `/readyz`.
    pub async fn start(files: &[(&str, String)]) -> Fairlead {
        Fairlead::start_with(files, &[]).await
    }

    /// [`Fairlead::start`] with extra command-line arguments.
    pub async fn start_with(files: &[(&str, String)], extra_args: &[&str]) -> Fairlead {
        let dir = TempDir::new();
        let manifests = dir.path().join("manifests");
        std::fs::create_dir(&manifests).expect("create manifest dir");
        for (name, text) in files {
            std::fs::write(manifests.join(name), text).expect("write manifest");
        }
        let source = ["--manifests".to_string(), manifests.display().to_string()];
        let mut fairlead = Fairlead::spawn(dir, &source, extra_args, None);
        fairlead.wait_ready().await;
        fairlead
    }

    /// Starts `fairlead serve --kubernetes` against the API server at `api_url` (a kubeconfig is
    /// written for it). Does not wait for readiness: see [`Fairlead::wait_ready`].
    pub fn start_kubernetes(api_url: &str, extra_args: &[&str]) -> Fairlead {
        Fairlead::start_kubernetes_as(api_url, extra_args, None)
    }

    /// [`Fairlead::start_kubernetes`] with `POD_NAME` set (the election identity).
    pub fn start_kubernetes_as(api_url: &str, extra_args: &[&str], pod_name: Option<&str>) -> Fairlead {
        let dir = TempDir::new();
        let kubeconfig = dir.path().join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {api_url}\n\
             contexts:\n- name: test\n  context:\n    cluster: test\n    user: test\n\
             current-context: test\nusers:\n- name: test\n  user: {{}}\n"
        );
        std::fs::write(&kubeconfig, text).expect("write kubeconfig");
        let source = [
            "--kubernetes".to_string(),
            "--kubeconfig".to_string(),
            kubeconfig.display().to_string(),
        ];
        Fairlead::spawn(dir, &source, extra_args, pod_name)
    }

    fn spawn(dir: TempDir, source: &[String], extra_args: &[&str], pod_name: Option<&str>) -> Fairlead {
        let manifests = dir.path().join("manifests");
        let log = dir.path().join("fairlead.log");
        let log_file = std::fs::File::create(&log).expect("create log file");
        let admin = SocketAddr::from(([127, 0, 0, 1], admin_port()));
        let http_port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_fairlead"));
        command.env_remove("POD_NAME").env_remove("POD_NAMESPACE");
        if let Some(pod) = pod_name {
            command.env("POD_NAME", pod);
        }
        let child = command
            .arg("serve")
            .args(source)
            .args(["--bind-address", "127.0.0.1"])
            .args(["--admin-addr", &admin.to_string()])
            .args(["--http-port", &http_port.to_string()])
            .args(extra_args)
            // Plain text in the captured log.
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone log file"))
            .stderr(log_file)
            .spawn()
            .expect("spawn the fairlead binary");
        Fairlead {
            child,
            admin,
            http_port,
            manifests,
            log,
            admin_client: Http::new(),
            dir,
        }
    }

    /// `/readyz` answers 200 now.
    pub async fn is_ready(&self) -> bool {
        self.admin_client
            .try_get(self.admin.port(), "localhost", "/readyz")
            .await
            .is_some_and(|reply| reply.status == 200)
    }

    /// Polls `/readyz` until it answers 200; fails at once if the process exits.
    pub async fn wait_ready(&mut self) {
        let deadline = Instant::now() + WAIT_AT_MOST;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("fairlead exited before becoming ready: {status}");
            }
            if let Some(reply) = self
                .admin_client
                .try_get(self.admin.port(), "localhost", "/readyz")
                .await
            {
                if reply.status == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "fairlead not ready after {WAIT_AT_MOST:?}"
            );
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    pub fn manifests_dir(&self) -> &Path {
        &self.manifests
    }

    /// Replaces a manifest the way `kubectl`-style tools do: write a dot-named temporary (which
    /// fairlead ignores), then rename it over the target.
    pub fn write(&self, name: &str, text: &str) {
        let tmp = self.manifests.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).expect("write temporary manifest");
        std::fs::rename(&tmp, self.manifests.join(name)).expect("rename manifest into place");
    }

    /// Rewrites a manifest in place, without truncating it first: a truncate-then-write leaves a
    /// moment where the file is empty, which a watcher may rightly read as "objects deleted".
    /// The file keeps its inode; extra old bytes past the new end are cut afterwards.
    pub fn write_in_place(&self, name: &str, text: &str) {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.manifests.join(name))
            .expect("open manifest for writing");
        file.write_all(text.as_bytes()).expect("write manifest in place");
        file.set_len(text.len() as u64).expect("cut manifest to length");
    }

    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.manifests.join(name)).expect("remove manifest");
    }

    /// GET on the admin server.
    pub async fn admin_get(&self, path: &str) -> Reply {
        self.admin_client.get(self.admin.port(), "localhost", path).await
    }

    /// GET on the admin server; `None` while it does not answer.
    pub async fn try_admin_get(&self, path: &str) -> Option<Reply> {
        self.admin_client
            .try_get(self.admin.port(), "localhost", path)
            .await
    }

    /// The `/status` document.
    pub async fn status(&self) -> serde_json::Value {
        let reply = self.admin_get("/status").await;
        assert_eq!(
            reply.status,
            200,
            "/status answered {}: {}",
            reply.status,
            reply.text()
        );
        reply.json()
    }

    /// The routing table version in use, from `/status`.
    pub async fn version(&self) -> u64 {
        let status = self.status().await;
        status["version"]
            .as_u64()
            .unwrap_or_else(|| panic!("/status has no numeric version: {status}"))
    }

    /// Polls `/status` every `every` until the version is above `previous`; returns the new
    /// version and how long it took.
    pub async fn wait_version_above_every(&self, previous: u64, every: Duration) -> (u64, Duration) {
        let started = Instant::now();
        loop {
            let version = self.version().await;
            if version > previous {
                return (version, started.elapsed());
            }
            assert!(
                started.elapsed() < WAIT_AT_MOST,
                "/status version still {version} (not above {previous}) after {WAIT_AT_MOST:?}"
            );
            tokio::time::sleep(every).await;
        }
    }

    /// Waits until the routing table version in use is above `previous`.
    pub async fn wait_version_above(&self, previous: u64) -> u64 {
        self.wait_version_above_every(previous, POLL_EVERY).await.0
    }

    /// Replaces a manifest and waits until a rebuild that changed the table is in use.
    pub async fn write_and_wait(&self, name: &str, text: &str) -> u64 {
        let before = self.version().await;
        self.write(name, text);
        self.wait_version_above(before).await
    }

    /// Polls `/status` until `check` accepts it; returns the accepted document. On timeout the
    /// failure shows the last document seen.
    pub async fn wait_status(
        &self,
        what: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + WAIT_AT_MOST;
        loop {
            let status = self.status().await;
            if check(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {WAIT_AT_MOST:?} waiting for {what}; /status: {status:#}"
            );
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// The `/routes` document.
    pub async fn routes(&self) -> serde_json::Value {
        let reply = self.admin_get("/routes").await;
        assert_eq!(
            reply.status,
            200,
            "/routes answered {}: {}",
            reply.status,
            reply.text()
        );
        reply.json()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    /// Kills the process (SIGKILL: no clean-up, as a crashed pod) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits (bounded) for the process to exit.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT_AT_MOST;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for fairlead") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "fairlead still running {WAIT_AT_MOST:?} after SIGTERM"
            );
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// What the process wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Fairlead {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            // The access log of a load test is long; its end is what explains a failure.
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let shown = &lines[lines.len().saturating_sub(LOG_LINES_SHOWN)..];
            eprintln!(
                "----- fairlead log, last {} of {} lines -----",
                shown.len(),
                lines.len()
            );
            eprintln!("{}", shown.join("\n"));
        }
    }
}
