//! What Google runs next to a Cloud Run service, run here on loopback or a Unix socket:
//! a PostgreSQL server where Cloud SQL's socket would be, a Cloud Storage emulator, and a
//! trap that proves no request tried to leave the machine. Each stops when dropped, also on
//! panic.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use super::{combined, free_port, kill, random_secret, run, run_ok, show_command, SETUP_HINT};

/// Where Cloud Run mounts the sockets of the Cloud SQL instances a service or job attaches.
pub const CLOUDSQL_MOUNT: &str = "/cloudsql";

/// Debian keeps initdb and pg_ctl out of PATH, in /usr/lib/postgresql/<major>/bin: the newest.
/// setup.sh's pg_bin_dir() looks in the same place.
pub fn pg_bin() -> Result<PathBuf, String> {
    let mut dirs: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| {
            format!("PostgreSQL is not installed (/usr/lib/postgresql: {e}); {SETUP_HINT}")
        })?
        .filter_map(|e| {
            let e = e.ok()?;
            let major = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((major, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| format!("no initdb and pg_ctl in /usr/lib/postgresql/*/bin; {SETUP_HINT}"))
}

/// A throwaway PostgreSQL server standing in for a Cloud SQL instance: no TCP, its socket in
/// `<root>/cloudsql/<PROJECT:REGION:INSTANCE>`, as Cloud Run mounts it at
/// `/cloudsql/<PROJECT:REGION:INSTANCE>`. Password authentication, one database owned by one
/// user, as `gcloud sql databases create` and `gcloud sql users create` leave it.
pub struct Postgres {
    dir: TempDir,
    bin: PathBuf,
    pub instance: String,
    pub database: String,
    pub user: String,
    pub password: String,
    superuser_password: String,
    running: bool,
}

impl Postgres {
    pub fn start(instance: &str, database: &str, user: &str) -> Result<Postgres, String> {
        let bin = pg_bin()?;
        let dir = tempfile::Builder::new()
            .prefix("djrun-e2e-pg-")
            .tempdir()
            .map_err(|e| format!("create a folder for PostgreSQL: {e}"))?;
        let mut pg = Postgres {
            dir,
            bin,
            instance: instance.to_string(),
            database: database.to_string(),
            user: user.to_string(),
            password: random_secret(),
            superuser_password: random_secret(),
            running: false,
        };
        let root = pg.dir.path();
        let socket_dir = pg.socket_dir();
        // The server runs as `postgres` and the container as the image's user (uid 10001):
        // every folder on the way to the socket must be traversable by both.
        fs::create_dir_all(&socket_dir)
            .map_err(|e| format!("create {}: {e}", socket_dir.display()))?;
        for dir in [root.to_path_buf(), pg.cloudsql_dir(), socket_dir.clone()] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("chmod {}: {e}", dir.display()))?;
        }
        let pwfile = root.join("pwfile");
        fs::write(&pwfile, format!("{}\n", pg.superuser_password))
            .map_err(|e| format!("write {}: {e}", pwfile.display()))?;
        let data = pg.data_dir();
        fs::create_dir(&data).map_err(|e| format!("create {}: {e}", data.display()))?;
        run_ok(
            Command::new("chown")
                .arg("postgres")
                .arg(&data)
                .arg(&socket_dir)
                .arg(&pwfile),
        )?;
        let started = Instant::now();
        run_ok(
            pg.as_postgres(&pg.bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args([
                    "--username=postgres",
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    "--no-sync",
                    "--encoding=UTF8",
                    "--locale=C",
                ])
                .arg(format!("--pwfile={}", pwfile.display())),
        )?;
        let _ = fs::remove_file(&pwfile);
        // No TCP at all, as Cloud SQL's socket is the only way in; fsync off: a test database.
        let options = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -c unix_socket_permissions=0777 -c fsync=off -c full_page_writes=off",
            socket_dir.display()
        );
        run_ok(
            pg.as_postgres(&pg.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(data.join("server.log"))
                .args(["-w", "-t", "60", "-o", &options, "start"]),
        )
        .map_err(|e| format!("{e}\nserver log:\n{}", pg.log()))?;
        pg.running = true;
        // CREATE DATABASE cannot run inside a transaction block with other statements.
        pg.psql_as_superuser(
            "postgres",
            &format!(
                "CREATE ROLE \"{}\" LOGIN PASSWORD '{}'",
                pg.user, pg.password
            ),
        )?;
        pg.psql_as_superuser(
            "postgres",
            &format!("CREATE DATABASE \"{}\" OWNER \"{}\"", pg.database, pg.user),
        )?;
        say!(
            "postgres: {} serves the database {:?} for {:?} on {} (started in {:.1?})",
            pg.bin.display(),
            pg.database,
            pg.user,
            socket_dir.display(),
            started.elapsed()
        );
        Ok(pg)
    }

    fn as_postgres(&self, program: &Path) -> Command {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"])
            .arg(program)
            .current_dir("/");
        cmd
    }

    /// The folder mounted at `/cloudsql` in the containers.
    pub fn cloudsql_dir(&self) -> PathBuf {
        self.dir.path().join("cloudsql")
    }

    fn socket_dir(&self) -> PathBuf {
        self.cloudsql_dir().join(&self.instance)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.data_dir().join("server.log")).unwrap_or_default()
    }

    /// The secret the deploy's DATABASE_URL holds, as djrun's next steps store it.
    pub fn container_url(&self) -> String {
        format!(
            "postgres://{}:{}@/{}?host={CLOUDSQL_MOUNT}/{}",
            self.user, self.password, self.database, self.instance
        )
    }

    fn psql_as_superuser(&self, database: &str, sql: &str) -> Result<String, String> {
        let mut cmd = Command::new("psql");
        cmd.arg("-h")
            .arg(self.socket_dir())
            .args([
                "-U",
                "postgres",
                "-d",
                database,
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
            ])
            .args(["-c", sql])
            .env("PGPASSWORD", &self.superuser_password);
        let out = run_ok(&mut cmd)?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// One query in the app's database, as the superuser: rows, columns separated by `|`.
    pub fn query(&self, sql: &str) -> Result<Vec<String>, String> {
        Ok(self
            .psql_as_superuser(&self.database, sql)?
            .lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect())
    }

    pub fn tables(&self) -> Result<Vec<String>, String> {
        self.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    }

    fn stop(&mut self) {
        if !self.running {
            return;
        }
        self.running = false;
        let mut stop = self.as_postgres(&self.bin.join("pg_ctl"));
        stop.arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "-w", "-t", "30", "stop"]);
        match run(&mut stop) {
            Ok(out) if out.status.success() => {}
            Ok(out) => say!(
                "postgres: `{}` failed:\n{}",
                show_command(&stop),
                combined(&out)
            ),
            Err(e) => say!("postgres: {e}"),
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// gcp-storage-emulator (setup.sh installs it into the tools venv) on a free loopback port,
/// in memory, with one bucket.
pub struct StorageEmulator {
    child: Option<Child>,
    pub port: u16,
    pub bucket: String,
    log: PathBuf,
}

impl StorageEmulator {
    pub fn start(tools_bin: &Path, bucket: &str, log: &Path) -> Result<StorageEmulator, String> {
        let program = tools_bin.join("gcp-storage-emulator");
        if !program.is_file() {
            return Err(format!("{} is missing; {SETUP_HINT}", program.display()));
        }
        let port = free_port()?;
        let log_file =
            fs::File::create(log).map_err(|e| format!("create {}: {e}", log.display()))?;
        let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&program);
        cmd.args(["start", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--default-bucket", bucket, "--in-memory"])
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .process_group(0);
        let child = cmd
            .spawn()
            .map_err(|e| format!("start {}: {e}", show_command(&cmd)))?;
        let mut emulator = StorageEmulator {
            child: Some(child),
            port,
            bucket: bucket.to_string(),
            log: log.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(objects) = emulator.objects() {
                say!(
                    "storage emulator: 127.0.0.1:{port} serves the bucket {bucket} ({} object(s))",
                    objects.len()
                );
                return Ok(emulator);
            }
            if let Some(Ok(Some(status))) = emulator.child.as_mut().map(Child::try_wait) {
                return Err(format!(
                    "the storage emulator exited ({status}):\n{}",
                    emulator.log()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the storage emulator did not list the bucket {bucket} within 30s:\n{}",
                    emulator.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// What the container's google-cloud-storage client is told to use instead of Google.
    pub fn host(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The bucket's objects (name, size) through the JSON API, as the client reads them.
    pub fn objects(&self) -> Result<Vec<(String, u64)>, String> {
        let path = format!("/storage/v1/b/{}/o", self.bucket);
        let body = get_json(self.port, &path)?;
        Ok(body["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|o| {
                        let size = o["size"]
                            .as_str()
                            .and_then(|s| s.parse().ok())
                            .or_else(|| o["size"].as_u64())
                            .unwrap_or(0);
                        Some((o["name"].as_str()?.to_string(), size))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// An object's bytes (`alt=media`), straight from the emulator.
    pub fn object_bytes(&self, name: &str) -> Result<Vec<u8>, String> {
        let encoded: String = name
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let path = format!("/storage/v1/b/{}/o/{encoded}?alt=media", self.bucket);
        let r = super::http_request(self.port, "GET", &path, "127.0.0.1", &[], &[])?;
        if r.status != 200 {
            return Err(format!(
                "GET {path} answered {}:\n{}",
                r.status,
                r.describe()
            ));
        }
        Ok(r.body)
    }
}

impl Drop for StorageEmulator {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill("-TERM", &format!("-{}", child.id()));
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(100));
            }
            kill("-KILL", &format!("-{}", child.id()));
            let _ = child.wait();
        }
    }
}

fn get_json(port: u16, path: &str) -> Result<Value, String> {
    let r = super::http_request(port, "GET", path, "127.0.0.1", &[], &[])?;
    if r.status != 200 {
        return Err(format!("GET {path} answered {}", r.status));
    }
    serde_json::from_slice(&r.body).map_err(|e| format!("GET {path}: not JSON: {e}"))
}

/// A loopback listener that the container's proxy variables and Google's metadata-server
/// variables point at. Anything that tries to reach a host other than loopback (a Google API,
/// the metadata server for credentials) connects here instead and is recorded, never
/// forwarded.
pub struct Trap {
    pub port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Trap {
    pub fn start() -> Result<Trap, String> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind the trap: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen_t, stop_t) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stop_t.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let first = first_request_line(&mut stream);
                        seen_t.lock().map(|mut s| s.push(first)).ok();
                        let _ = stream
                            .write_all(b"HTTP/1.0 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        Ok(Trap {
            port,
            seen,
            stop,
            thread: Some(thread),
        })
    }

    /// Container variables that send every request for a host other than loopback here.
    pub fn env(&self) -> Vec<(String, String)> {
        let proxy = format!("http://127.0.0.1:{}", self.port);
        let metadata = format!("127.0.0.1:{}", self.port);
        [
            ("HTTP_PROXY", proxy.as_str()),
            ("HTTPS_PROXY", &proxy),
            ("http_proxy", &proxy),
            ("https_proxy", &proxy),
            ("NO_PROXY", "127.0.0.1,localhost"),
            ("no_proxy", "127.0.0.1,localhost"),
            // google-auth asks the metadata server for credentials and the project.
            ("GCE_METADATA_HOST", &metadata),
            ("GCE_METADATA_IP", &metadata),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The first line of every request that came here.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Trap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn first_request_line(stream: &mut TcpStream) -> String {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    let line = text.lines().next().unwrap_or("(nothing read)").to_string();
    if line.is_empty() {
        "(an empty request)".to_string()
    } else {
        line
    }
}
