//! Starts the real `ironbox` binary on an ephemeral port with a temporary state directory,
//! finds it through `endpoints.json`, and kills it on drop. A failed test's directory is
//! kept (its path is printed) so its database and log can be inspected. Also the test
//! toolkit: [`wait_until`] for every "poll until", [`Ironbox::wait_state`], the base config
//! merge ([`merge_toml`]) and [`Netns`] for tests that need a network of their own.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Ironbox {
    pub dir: tempfile::TempDir,
    pub url: String,
    child: Option<Child>,
    config: PathBuf,
    /// Runs inside this network namespace; requests then go through `ip netns exec curl`.
    netns: Option<String>,
}

pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The decoded `faultstring` (or framework `description`) of an error body.
    pub fn fault(&self) -> String {
        let inner = self.body["error_message"]
            .as_str()
            .unwrap_or_else(|| panic!("not an Ironic error body: {}", self.body));
        let v: Value = serde_json::from_str(inner).expect("error_message is JSON");
        v.get("faultstring")
            .or_else(|| v.get("description"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ironbox")
}

/// Call `probe` until it returns `Some` or `timeout` has passed (then `None`): the one way
/// tests wait for something. Polls quickly at first, then every 200 ms.
pub fn wait_until<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    let mut every = Duration::from_millis(20);
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(every);
        every = (every * 2).min(Duration::from_millis(200));
    }
}

/// `extra` (a test's TOML) merged into `base` section by section: its keys are added to,
/// or replace, those of the same section in `base`; other sections are added whole.
/// With `IRONBOX_TEST_DATABASE=postgresql://…` (tests/run.sh's PostgreSQL stage), each
/// ironbox a test starts gets a fresh schema of that database instead of a SQLite file.
pub fn pg_database() -> Option<String> {
    let url = std::env::var("IRONBOX_TEST_DATABASE")
        .ok()
        .filter(|u| !u.is_empty())?;
    let schema = format!("it_{}", uuid::Uuid::new_v4().simple());
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("test PostgreSQL");
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .expect("create schema");
    let sep = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{sep}options=-c%20search_path%3D{schema}"))
}

pub fn merge_toml(mut base: toml::Table, extra: &str) -> String {
    let extra: toml::Table = extra.parse().expect("the test's extra config is TOML");
    for (name, value) in extra {
        match (base.get_mut(&name), value) {
            (Some(toml::Value::Table(section)), toml::Value::Table(keys)) => section.extend(keys),
            (_, value) => {
                base.insert(name, value);
            }
        }
    }
    toml::to_string(&base).expect("config serializes")
}

impl Ironbox {
    pub fn start() -> Ironbox {
        Self::start_with("")
    }

    /// Start with extra TOML merged into the base test config (see [`merge_toml`]; the base
    /// sets `[DEFAULT] state_path`, `host` and `[api] port = 0`).
    pub fn start_with(extra: &str) -> Ironbox {
        Self::start_in(None, extra)
    }

    /// Start inside network namespace `ns` (which the test created).
    pub fn start_in_netns(ns: &str, extra: &str) -> Ironbox {
        Self::start_in(Some(ns), extra)
    }

    fn start_in(netns: Option<&str>, extra: &str) -> Ironbox {
        let dir = tempfile::Builder::new()
            .prefix("ironbox-test-")
            .tempdir()
            .expect("tempdir");
        let config = dir.path().join("ironic.toml");
        let mut default = toml::Table::new();
        let data = dir.path().join("data").display().to_string();
        default.insert("state_path".into(), data.into());
        default.insert("host".into(), "test-conductor".into());
        let mut api = toml::Table::new();
        api.insert("port".into(), 0.into());
        let mut base = toml::Table::from_iter([
            ("DEFAULT".to_string(), default.into()),
            ("api".to_string(), api.into()),
        ]);
        if let Some(url) = pg_database() {
            let db = toml::Table::from_iter([("connection".to_string(), url.into())]);
            base.insert("database".into(), db.into());
        }
        std::fs::write(&config, merge_toml(base, extra)).expect("write config");
        let mut ib = Ironbox {
            dir,
            url: String::new(),
            child: None,
            config,
            netns: netns.map(str::to_string),
        };
        ib.spawn();
        ib
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// Poll until the node is in provision state `want` and settled (no reservation, no
    /// power change pending), for at most `secs` seconds; the node's JSON.
    pub fn wait_state(&self, node: &str, want: &str, secs: u64) -> Value {
        self.wait_node(node, want, secs, |n| {
            n["provision_state"] == want
                && n["reservation"].is_null()
                && n["target_power_state"].is_null()
        })
    }

    /// Poll until the node's provision state is `want`, even while the conductor still
    /// holds it (states an agent moves through), for at most `secs` seconds.
    pub fn wait_entered(&self, node: &str, want: &str, secs: u64) -> Value {
        self.wait_node(node, want, secs, |n| n["provision_state"] == want)
    }

    fn wait_node(&self, node: &str, want: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        let reached = wait_until(Duration::from_secs(secs), || {
            let n = self.get(&format!("/v1/nodes/{node}")).body;
            if done(&n) {
                return Some(n);
            }
            last = n;
            None
        });
        reached.unwrap_or_else(|| panic!("node never reached {want}: {last}\n{}", self.log()))
    }

    /// Start (or restart) the process and wait for it to announce its address.
    pub fn spawn(&mut self) {
        let endpoints = self.data().join("endpoints.json");
        let _ = std::fs::remove_file(&endpoints);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("ironbox.log"))
            .expect("log");
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        let child = cmd
            .args(["serve", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn ironbox");
        self.child = Some(child);
        let started = wait_until(Duration::from_secs(20), || {
            if let Ok(text) = std::fs::read_to_string(&endpoints) {
                if let Ok(v) = serde_json::from_str::<Value>(&text) {
                    return Some(Ok(v["api"].as_str().expect("api url").to_string()));
                }
            }
            let child = self.child.as_mut()?;
            child.try_wait().ok().flatten().map(Err)
        });
        match started {
            Some(Ok(url)) => self.url = url,
            Some(Err(status)) => panic!("ironbox exited early ({status}): {}", self.log()),
            None => panic!("ironbox did not start: {}", self.log()),
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ironbox.log")).unwrap_or_default()
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait; returns the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        let status = wait_until(Duration::from_secs(15), || c.try_wait().ok().flatten());
        if status.is_none() {
            let _ = c.kill();
        }
        status?.code()
    }

    pub fn req(&self, method: &str, path: &str, version: Option<&str>, body: Option<&str>) -> Resp {
        self.req_h(method, path, version, body, &[])
    }

    pub fn req_h(
        &self,
        method: &str,
        path: &str,
        version: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Resp {
        if let Some(ns) = &self.netns {
            return curl_in(
                ns,
                method,
                &format!("{}{}", self.url, path),
                version,
                body,
                headers,
            );
        }
        let mut r = ureq::request(method, &format!("{}{}", self.url, path))
            .timeout(Duration::from_secs(30));
        if let Some(v) = version {
            r = r.set("X-OpenStack-Ironic-API-Version", v);
        }
        for (k, v) in headers {
            r = r.set(k, v);
        }
        let result = match body {
            Some(b) => {
                if !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                {
                    r = r.set("Content-Type", "application/json");
                }
                r.send_string(b)
            }
            None => r.call(),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: transport error {e}"),
        };
        let status = resp.status();
        let headers = resp
            .headers_names()
            .iter()
            .filter_map(|n| resp.header(n).map(|v| (n.clone(), v.to_string())))
            .collect();
        let text = resp.into_string().unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp {
            status,
            body,
            headers,
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        self.req("GET", path, Some("latest"), None)
    }

    pub fn post(&self, path: &str, body: Value) -> Resp {
        self.req("POST", path, Some("latest"), Some(&body.to_string()))
    }

    pub fn patch(&self, path: &str, body: Value) -> Resp {
        self.req("PATCH", path, Some("latest"), Some(&body.to_string()))
    }

    pub fn put(&self, path: &str, body: Value) -> Resp {
        self.req("PUT", path, Some("latest"), Some(&body.to_string()))
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.req("DELETE", path, Some("latest"), None)
    }

    /// Create a fake-hardware node and return its JSON.
    pub fn node(&self, body: Value) -> Value {
        let mut b = body;
        if b.get("driver").is_none() {
            b["driver"] = "fake-hardware".into();
        }
        let r = self.post("/v1/nodes", b);
        assert_eq!(r.status, 201, "{}", r.body);
        r.body
    }
}

/// An HTTP request made from inside a network namespace with curl.
pub fn curl_in(
    ns: &str,
    method: &str,
    url: &str,
    version: Option<&str>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Resp {
    let mut c = Command::new("ip");
    c.args([
        "netns",
        "exec",
        ns,
        "curl",
        "-s",
        "-i",
        "--max-time",
        "30",
        "-X",
        method,
        url,
    ]);
    if let Some(v) = version {
        c.args(["-H", &format!("X-OpenStack-Ironic-API-Version: {v}")]);
    }
    for (k, v) in headers {
        c.args(["-H", &format!("{k}: {v}")]);
    }
    if let Some(b) = body {
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            c.args(["-H", "Content-Type: application/json"]);
        }
        c.args(["--data-binary", b]);
    }
    let out = c.output().expect("curl in netns");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or(Value::String(body.to_string()))
    };
    Resp {
        status,
        body,
        headers,
    }
}

impl Drop for Ironbox {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let keep = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
            eprintln!(
                "test failed; ironbox state kept in {}",
                keep.keep().display()
            );
        }
    }
}

/// A minimal HTTP server on 127.0.0.1 serving one directory (GET and HEAD), standing in
/// for the user's image server.
pub struct FileServer {
    pub url: String,
}

impl FileServer {
    pub fn start(dir: &Path) -> FileServer {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let dir = dir.to_path_buf();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    let mut r = BufReader::new(conn.try_clone().expect("clone"));
                    let mut line = String::new();
                    if r.read_line(&mut line).is_err() {
                        return;
                    }
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).map(|n| n == 0).unwrap_or(true) || h == "\r\n" {
                            break;
                        }
                    }
                    let mut parts = line.split_whitespace();
                    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                    let name = path.trim_start_matches('/');
                    let mut w = conn;
                    match std::fs::read(dir.join(name)) {
                        Ok(body) if !name.contains("..") => {
                            let _ = write!(w, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                            if method == "GET" {
                                let _ = w.write_all(&body);
                            }
                        }
                        _ => {
                            let _ = write!(w, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        }
                    }
                });
            }
        });
        FileServer { url }
    }
}

/// The real `baremetal` CLI from the test venv (tests/run.sh creates it).
pub fn baremetal_cli() -> PathBuf {
    let venv = std::env::var("IRONBOX_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test"));
    for p in [
        venv.join("bin/baremetal"),
        PathBuf::from("/opt/ironbox-test-venv/bin/baremetal"),
    ] {
        if p.exists() {
            return p;
        }
    }
    panic!("the baremetal CLI is missing: run tests/run.sh (it creates .venv-test) or set IRONBOX_TEST_VENV");
}

impl Ironbox {
    /// `baremetal <args>` against this ironbox (inside its namespace, if it runs in one):
    /// (success, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(baremetal_cli());
                c
            }
            None => Command::new(baremetal_cli()),
        };
        let out = cmd
            .args(["--os-auth-type", "none", "--os-endpoint", &self.url])
            .args(["--os-baremetal-api-version", "latest"])
            .args(args)
            // The client caches negotiated versions per host:port; keep it per server.
            .env("XDG_CACHE_HOME", self.dir.path().join("cli-cache"))
            .env("PYTHONWARNINGS", "ignore")
            .env_remove("OS_CLOUD")
            .output()
            .expect("run baremetal");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }

    /// `baremetal <args>` that must succeed; its stdout.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.cli(args);
        assert!(ok, "baremetal {args:?} failed:\n{out}\n{err}");
        out
    }

    /// `baremetal <args> -f json`, parsed.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-f", "json"]);
        serde_json::from_str(&self.cli_ok(&a)).expect("CLI JSON")
    }

    /// A power change through the CLI (`power on`, `power off`, `soft power off`,
    /// `rebooting`, `soft rebooting`), then wait until the conductor has carried it out.
    pub fn cli_power(&self, uuid: &str, target: &str) {
        let args: &[&str] = match target {
            "power on" => &["node", "power", "on"],
            "power off" => &["node", "power", "off"],
            "soft power off" => &["node", "power", "off", "--soft"],
            "rebooting" => &["node", "reboot"],
            "soft rebooting" => &["node", "reboot", "--soft"],
            other => panic!("no CLI verb for power target {other}"),
        };
        let mut a = args.to_vec();
        a.push(uuid);
        self.cli_ok(&a);
        let done = wait_until(Duration::from_secs(60), || {
            let n = self.get(&format!("/v1/nodes/{uuid}")).body;
            n["target_power_state"].is_null().then_some(())
        });
        assert!(done.is_some(), "{target} never finished");
    }
}

/// A script of the QEMU lab, `tests/lab/<script>`.
pub fn lab(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/lab")
        .join(script)
}

/// Run a command: (success, stdout and stderr).
pub fn sh(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("run command");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A network namespace with br0 (10.99.0.1/24), `taps` tap devices and a client veth
/// (tests/lab/netns.sh); removed on drop. Needs root and tests/lab/setup.sh.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn up(taps: usize) -> Netns {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "ibx{}n{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let (ok, out) =
            sh(Command::new("bash")
                .arg(lab("netns.sh"))
                .args(["up", &name, &taps.to_string()]));
        assert!(
            ok,
            "netns.sh up failed (the netboot tests need root and tests/lab/setup.sh): {out}"
        );
        Netns { name }
    }

    /// Run a command inside the namespace.
    pub fn exec(&self, args: &[&str]) -> (bool, String) {
        sh(Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args))
    }

    /// The MAC address of device `dev` in the namespace.
    pub fn mac(&self, dev: &str) -> String {
        self.exec(&["cat", &format!("/sys/class/net/{dev}/address")])
            .1
            .trim()
            .to_string()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = sh(Command::new("bash")
            .arg(lab("netns.sh"))
            .args(["down", &self.name]));
    }
}
