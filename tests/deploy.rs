//! `djrun deploy` against a recording stand-in `gcloud` first on `PATH`: the order of the
//! calls, resuming, failures with their hints, secrets only on stdin, read-only dry runs.
//! And every command a plan holds, against the real gcloud's parser.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const PROJECT: &str = "demo-project-123";

/// The stand-in: logs each call (argv, and whether stdin had anything) to `calls.log`,
/// what stdin held to `stdin.log`, keeps what was made in `state.json`, and fails the call
/// whose command line contains `fail.json`'s `contains` with its `message`.
const FAKE_GCLOUD: &str = r#"#!/usr/bin/env python3
import json, os, sys
d = os.environ["FAKE_GCLOUD_DIR"]
argv = sys.argv[1:]
data = sys.stdin.read() if not sys.stdin.isatty() else ""
with open(os.path.join(d, "calls.log"), "a") as f:
    f.write(json.dumps({"argv": argv, "stdin": bool(data)}) + "\n")
if data:
    with open(os.path.join(d, "stdin.log"), "a") as f:
        f.write(json.dumps({"argv": argv, "data": data}) + "\n")
sp = os.path.join(d, "state.json")
state = json.load(open(sp)) if os.path.exists(sp) else {}
state.setdefault("made", []); state.setdefault("apis", []); state.setdefault("policies", {})
def save():
    json.dump(state, open(sp, "w"))
fp = os.path.join(d, "fail.json")
if os.path.exists(fp):
    fail = json.load(open(fp))
    if fail["contains"] in " ".join(argv):
        sys.stderr.write(fail["message"] + "\n"); sys.exit(1)
words = [a for a in argv if not a.startswith("--")]
flags = dict(a[2:].split("=", 1) for a in argv if a.startswith("--") and "=" in a)
def verb_at(v):
    return words.index(v) if v in words else None
if words[:2] == ["auth", "list"]:
    print("dev@example.com"); sys.exit(0)
if words[:2] == ["billing", "projects"]:
    print("True"); sys.exit(0)
if words[:2] == ["projects", "describe"]:
    print("123456789012"); sys.exit(0)
if words[:2] == ["services", "list"]:
    print("\n".join(state["apis"])); sys.exit(0)
if words[:2] == ["services", "enable"]:
    state["apis"] += words[2:]; save(); sys.exit(0)
if words[:3] == ["run", "revisions", "list"]:
    if state.get("deployed"): print(flags["service"] + "-00001-abc")
    sys.exit(0)
if words[:3] == ["run", "services", "describe"]:
    print(open(os.path.join(d, "url")).read().strip()); sys.exit(0)
if words[:2] == ["builds", "submit"]:
    print("Creating temporary archive of 12 file(s)"); sys.stderr.write("BUILD SUCCESS\n")
    state["deployed"] = True; save(); sys.exit(0)
if words[:3] == ["secrets", "versions", "list"]:
    if words[3] in state["made"]: print("1")
    sys.exit(0)
for verb in ["get-iam-policy", "add-iam-policy-binding", "describe", "create", "set-password"]:
    i = verb_at(verb)
    if i is None: continue
    key = " ".join(words[:i]) + " " + words[i + 1]
    if verb == "get-iam-policy":
        print("\n".join(state["policies"].get(key, []))); sys.exit(0)
    if verb == "add-iam-policy-binding":
        state["policies"].setdefault(key, []).append(flags["role"] + "," + flags["member"]); save(); sys.exit(0)
    if verb == "describe":
        if key in state["made"] or words[i + 1].split("@")[0] in state["made"]: print("name: " + words[i + 1]); sys.exit(0)
        sys.stderr.write("ERROR: (gcloud) NOT_FOUND: " + key + " not found\n"); sys.exit(1)
    if verb == "create":
        if key in state["made"]:
            sys.stderr.write("ERROR: (gcloud) ALREADY_EXISTS: " + key + " already exists\n"); sys.exit(1)
        state["made"] += [key, words[i + 1]]; save(); sys.exit(0)
    if verb == "set-password":
        sys.exit(0)
sys.stderr.write("fake gcloud: unknown command " + " ".join(argv) + "\n"); sys.exit(3)
"#;

struct Cloud {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    fake: PathBuf,
    bin: PathBuf,
    _server: std::thread::JoinHandle<()>,
}

#[derive(Debug, Clone)]
struct Call {
    argv: Vec<String>,
    stdin: bool,
}

impl Call {
    /// The first three words that are not flags: `secrets create NAME`.
    fn head(&self) -> String {
        self.argv
            .iter()
            .filter(|a| !a.starts_with("--"))
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A copy of `fixture` after `djrun init --yes` with `flags`, a stand-in gcloud and a
/// loopback HTTP server that answers 200.
fn cloud(fixture: &str, flags: &[&str]) -> Cloud {
    let (tmp, dir) = common::copy_fixture(fixture);
    common::djrun(&tmp.path().join("gcloud-config"))
        .args([
            "init",
            "--yes",
            "--project",
            PROJECT,
            "--region",
            "europe-west1",
        ])
        .args(flags)
        .arg(&dir)
        .assert()
        .success();
    let fake = tmp.path().join("fake");
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&fake).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("gcloud");
    std::fs::write(&script, FAKE_GCLOUD).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::fs::write(fake.join("url"), format!("http://127.0.0.1:{port}")).unwrap();
    let server = std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { break };
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    Cloud {
        tmp,
        dir,
        fake,
        bin,
        _server: server,
    }
}

impl Cloud {
    fn deploy(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        common::djrun(&self.tmp.path().join("gcloud-config"))
            .arg("deploy")
            .args(args)
            .arg(&self.dir)
            .env("PATH", path)
            .env("FAKE_GCLOUD_DIR", &self.fake)
            .env_remove("DATABASE_URL")
            .assert()
    }

    /// The calls so far, and forget them.
    fn take_calls(&self) -> Vec<Call> {
        let log = self.fake.join("calls.log");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                Call {
                    argv: v["argv"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect(),
                    stdin: v["stdin"].as_bool().unwrap(),
                }
            })
            .collect()
    }

    /// What each call read on stdin: (command line, data).
    fn stdin_data(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(self.fake.join("stdin.log")).unwrap_or_default();
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let argv: Vec<&str> = v["argv"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap())
                    .collect();
                (argv.join(" "), v["data"].as_str().unwrap().to_string())
            })
            .collect()
    }

    fn fail(&self, contains: &str, message: &str) {
        std::fs::write(
            self.fake.join("fail.json"),
            serde_json::json!({"contains": contains, "message": message}).to_string(),
        )
        .unwrap();
    }

    fn heal(&self) {
        let _ = std::fs::remove_file(self.fake.join("fail.json"));
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn heads(calls: &[Call]) -> Vec<String> {
    calls.iter().map(Call::head).collect()
}

const READ_ONLY: &[&str] = &["describe", "list", "get-iam-policy"];

fn is_read_only(call: &Call) -> bool {
    call.argv
        .iter()
        .filter(|a| !a.starts_with("--"))
        .take(4)
        .any(|w| READ_ONLY.contains(&w.as_str()))
}

#[test]
fn a_fresh_project_is_checked_then_set_up_in_order_then_built() {
    let c = cloud("mysite", &[]);
    let out = c.deploy(&["--yes"]).success();
    let stdout = text(&out.get_output().stdout);
    let stderr = text(&out.get_output().stderr);
    let calls = c.take_calls();
    let sa_run = format!("mysite-run@{PROJECT}.iam.gserviceaccount.com");
    let sa_deploy = format!("mysite-deploy@{PROJECT}.iam.gserviceaccount.com");
    let expected: Vec<String> = [
        // Preflight.
        "auth list",
        &format!("projects describe {PROJECT}"),
        "billing projects describe",
        // The read-only checks, in step order.
        "services list",
        "artifacts repositories describe",
        "iam service-accounts describe",
        "iam service-accounts describe",
        &format!("projects get-iam-policy {PROJECT}"),
        "iam service-accounts get-iam-policy",
        "secrets describe mysite-django-secret-key",
        "secrets get-iam-policy mysite-django-secret-key",
        "run revisions list",
        // The changes.
        "services enable run.googleapis.com",
        "artifacts repositories create",
        "iam service-accounts create",
        "iam service-accounts create",
        &format!("projects add-iam-policy-binding {PROJECT}"),
        &format!("projects add-iam-policy-binding {PROJECT}"),
        &format!("projects add-iam-policy-binding {PROJECT}"),
        "iam service-accounts add-iam-policy-binding",
        "secrets create mysite-django-secret-key",
        "secrets add-iam-policy-binding mysite-django-secret-key",
        // Pin, build, read back.
        "secrets versions list",
        "builds submit",
        "run services describe",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(heads(&calls), expected, "{stderr}");
    // The two describes are the two accounts; the binding is the build's on the runtime one.
    assert!(calls[5].argv.contains(&sa_run), "{:?}", calls[5]);
    assert!(calls[6].argv.contains(&sa_deploy), "{:?}", calls[6]);
    // Only the secret key reads stdin.
    let with_stdin: Vec<String> = calls.iter().filter(|c| c.stdin).map(Call::head).collect();
    assert_eq!(with_stdin, ["secrets create mysite-django-secret-key"]);
    // The build is pinned and runs from the folder with cloudbuild.yaml.
    let build = calls.iter().find(|c| c.head() == "builds submit").unwrap();
    assert!(
        build
            .argv
            .contains(&"--substitutions=_DJANGO_SECRET_KEY_VERSION=1".to_string()),
        "{build:?}"
    );
    assert!(build.argv.contains(&"--config=cloudbuild.yaml".to_string()));
    // The plan, the progress, the build's own output and the result.
    assert!(
        stdout.contains("create  Create the image repository"),
        "{stdout}"
    );
    assert!(stdout.contains("deploy  Build and deploy"), "{stdout}");
    assert!(
        stdout.contains("cost: Cloud Run bills requests"),
        "{stdout}"
    );
    assert!(stderr.contains("==> Enable the APIs"), "{stderr}");
    assert!(stderr.contains("    done in "), "{stderr}");
    assert!(stderr.contains("    BUILD SUCCESS"), "{stderr}");
    let url = std::fs::read_to_string(c.fake.join("url")).unwrap();
    assert!(
        stdout.contains(&format!("Deployed `mysite`: {url} answered HTTP 200")),
        "{stdout}"
    );
    assert!(stdout.contains(&format!(
        "gcloud run services logs read mysite --region europe-west1 --project {PROJECT}"
    )));
    assert!(stdout.contains("first revision"), "{stdout}");

    // A second run finds everything and only checks and builds.
    let out = c.deploy(&["--yes"]).success();
    let stdout = text(&out.get_output().stdout);
    let calls = c.take_calls();
    let changes: Vec<String> = calls
        .iter()
        .filter(|c| !is_read_only(c))
        .map(Call::head)
        .collect();
    assert_eq!(changes, ["builds submit"], "{calls:#?}");
    assert!(stdout.contains("0 step(s) to set up"), "{stdout}");
    assert!(stdout.contains("ok      Enable the APIs"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "gcloud run services update-traffic mysite --to-revisions=mysite-00001-abc=100 --region europe-west1 --project {PROJECT}"
        )),
        "{stdout}"
    );
}

#[test]
fn a_failure_stops_with_gcloud_message_and_a_hint_and_a_rerun_resumes() {
    let c = cloud("mysite", &[]);
    let message = "ERROR: (gcloud.iam.service-accounts.create) PERMISSION_DENIED: Permission 'iam.serviceAccounts.create' denied on resource (or it may not exist).";
    c.fail("service-accounts create mysite-deploy", message);
    let out = c.deploy(&["--yes"]).code(2);
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains(message), "{stderr}");
    assert!(stderr.contains("hint: ask an owner"), "{stderr}");
    assert!(
        stderr.contains("roles/iam.serviceAccountAdmin")
            && stderr.contains("--member=user:dev@example.com"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Done in this run: Enable the APIs; Create the image repository"),
        "{stderr}"
    );
    let first = c.take_calls();
    assert!(!heads(&first).contains(&"builds submit".to_string()));

    c.heal();
    c.deploy(&["--yes"]).success();
    let changes: Vec<Call> = c
        .take_calls()
        .into_iter()
        .filter(|c| !is_read_only(c))
        .collect();
    let heads = heads(&changes);
    assert!(
        !heads.iter().any(|h| h.starts_with("services enable")),
        "{heads:?}"
    );
    assert!(
        !heads.iter().any(|h| h.starts_with("artifacts")),
        "{heads:?}"
    );
    let created: Vec<&Call> = changes
        .iter()
        .filter(|c| c.head() == "iam service-accounts create")
        .collect();
    assert_eq!(created.len(), 1, "{heads:?}");
    assert!(created[0].argv.contains(&"mysite-deploy".to_string()));
    assert_eq!(heads.last().map(String::as_str), Some("builds submit"));
}

#[test]
fn a_denied_check_stops_before_anything_changes() {
    let c = cloud("mysite", &[]);
    c.fail(
        "artifacts repositories describe",
        "ERROR: (gcloud.artifacts.repositories.describe) PERMISSION_DENIED: Permission 'artifactregistry.repositories.get' denied",
    );
    let out = c.deploy(&["--yes"]).code(2);
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert!(stderr.contains("roles/artifactregistry.admin"), "{stderr}");
    assert!(c.take_calls().iter().all(is_read_only));
}

#[test]
fn secrets_reach_stdin_and_nowhere_else() {
    let c = cloud("mysite", &["--database", "cloudsql-postgres"]);
    let out = c.deploy(&["--yes"]).success();
    let output = text(&out.get_output().stdout) + &text(&out.get_output().stderr);
    let calls = c.take_calls();
    let fed = c.stdin_data();
    let key = fed
        .iter()
        .find(|(cmd, _)| cmd.starts_with("secrets create mysite-django-secret-key"))
        .map(|(_, d)| d.clone())
        .expect("the key went to stdin");
    assert_eq!(key.len(), 50);
    assert!(key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    let flags = fed
        .iter()
        .find(|(cmd, _)| cmd.starts_with("sql users create"))
        .map(|(_, d)| d.clone())
        .expect("the password went to stdin");
    let password = flags
        .strip_prefix("--password: \"")
        .and_then(|r| r.strip_suffix("\"\n"))
        .unwrap_or_else(|| panic!("a flags document: {flags:?}"))
        .to_string();
    assert_eq!(password.len(), 32);
    let url = fed
        .iter()
        .find(|(cmd, _)| cmd.starts_with("secrets create mysite-database-url"))
        .map(|(_, d)| d.clone())
        .expect("the URL went to stdin");
    assert_eq!(
        url,
        format!(
            "postgres://mysite:{password}@/mysite?host=/cloudsql/{PROJECT}:europe-west1:mysite-db"
        )
    );
    for secret in [&key, &password] {
        assert!(
            !output.contains(secret.as_str()),
            "a secret in djrun's output"
        );
        for call in &calls {
            assert!(
                call.argv.iter().all(|a| !a.contains(secret.as_str())),
                "a secret on argv: {call:?}"
            );
        }
        for (path, bytes) in common::tree(&c.dir) {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(secret.as_str()),
                "a secret in {path}"
            );
        }
    }
    // The build pins both secrets.
    let build = calls.iter().find(|c| c.head() == "builds submit").unwrap();
    assert!(build.argv.contains(
        &"--substitutions=_DJANGO_SECRET_KEY_VERSION=1,_DATABASE_URL_VERSION=1".to_string()
    ));
    assert!(output.contains("cost: db-g1-small costs about $26 a month"));
}

#[test]
fn a_value_only_the_user_has_is_read_from_the_environment_or_stops_before_any_change() {
    let c = cloud("mysite", &["--database", "url"]);
    let out = c.deploy(&["--yes"]).code(2);
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("`DATABASE_URL`"), "{stderr}");
    assert!(c.take_calls().iter().all(is_read_only));

    let path = format!(
        "{}:{}",
        c.bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    common::djrun(&c.tmp.path().join("gcloud-config"))
        .args(["deploy", "--yes"])
        .arg(&c.dir)
        .env("PATH", path)
        .env("FAKE_GCLOUD_DIR", &c.fake)
        .env(
            "DATABASE_URL",
            "postgres://u:from-the-env@db.example.com/app",
        )
        .assert()
        .success()
        .stdout(predicates::str::contains("from-the-env").not());
    let fed = c.stdin_data();
    assert!(fed.iter().any(
        |(cmd, data)| cmd.starts_with("secrets create mysite-database-url")
            && data == "postgres://u:from-the-env@db.example.com/app"
    ));
}

use predicates::prelude::PredicateBooleanExt;

#[test]
fn a_dry_run_calls_only_read_only_commands() {
    let c = cloud("mysite", &["--database", "cloudsql-postgres"]);
    let out = c.deploy(&["--dry-run"]).success();
    let stdout = text(&out.get_output().stdout);
    let calls = c.take_calls();
    assert!(!calls.is_empty());
    for call in &calls {
        assert!(is_read_only(call), "not read-only: {call:?}");
        assert!(!call.stdin);
    }
    assert!(
        stdout.contains("create  Create the Cloud SQL instance"),
        "{stdout}"
    );
    assert!(
        stdout.contains("(stdin: a new random password)"),
        "{stdout}"
    );
    assert!(text(&out.get_output().stderr).contains("nothing was changed"));
}

#[test]
fn without_a_terminal_or_yes_it_stops_naming_yes() {
    let c = cloud("mysite", &[]);
    let out = c.deploy(&[]).code(2);
    assert!(text(&out.get_output().stderr).contains("`--yes`"));
    assert!(c.take_calls().is_empty());
}

#[test]
fn drifted_deployment_files_are_refused_naming_init() {
    let c = cloud("mysite", &[]);
    std::fs::remove_file(c.dir.join("cloudbuild.yaml")).unwrap();
    let out = c.deploy(&["--yes"]).code(2);
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("`cloudbuild.yaml`"), "{stderr}");
    assert!(stderr.contains("run `djrun init`"), "{stderr}");
    assert!(c.take_calls().is_empty());
}

#[test]
fn without_gcloud_it_says_how_to_install_it() {
    let c = cloud("mysite", &[]);
    let empty = c.tmp.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let out = common::djrun(&c.tmp.path().join("gcloud-config"))
        .args(["deploy", "--yes"])
        .arg(&c.dir)
        .env("PATH", &empty)
        .assert()
        .code(2);
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("`gcloud` is not installed"), "{stderr}");
    assert!(stderr.contains("https://cloud.google.com/sdk/docs/install"));
}

/// The real gcloud, with no credentials, must fail every command of a plan only for lack
/// of them: a flag or value it cannot parse is reported first.
#[test]
fn gcloud_parses_every_command_deploy_runs() {
    for (fixture, flags) in [
        ("mysite", vec![]),
        ("mysite", vec!["--database", "cloudsql-postgres"]),
        ("wagtail-start", vec!["--database", "cloudsql-mysql"]),
        ("wagtail-start", vec!["--public-media"]),
        (
            "mysite",
            vec![
                "--domain",
                "www.example.com",
                "--ci",
                "github",
                "--github-repo",
                "acme/mysite",
            ],
        ),
    ] {
        let (tmp, dir) = common::copy_fixture(fixture);
        let config = tmp.path().join("gcloud-config");
        std::fs::create_dir_all(&config).unwrap();
        common::djrun(&config)
            .args([
                "init",
                "--yes",
                "--force",
                "--project",
                PROJECT,
                "--region",
                "europe-west1",
            ])
            .args(&flags)
            .arg(&dir)
            .assert()
            .success();
        let request = djrun::init::InitRequest {
            root: dir.clone(),
            yes: true,
            ..Default::default()
        };
        let prepared = djrun::init::prepare(
            &request,
            &djrun::gcloud::GcloudDefaults::default(),
            &mut djrun::prompt::NoTerminal,
            &mut std::io::sink(),
        )
        .unwrap();
        assert!(prepared.plan.is_empty(), "{fixture}: init left drift");
        let d = djrun::deployment::Deployment::new(&prepared.facts, &prepared.options).unwrap();
        let commands = djrun::deploy::every_command(&d);
        let failures = std::sync::Mutex::new(Vec::new());
        let queue = std::sync::Mutex::new(commands.clone());
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| loop {
                    let Some(args) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    if let Some(why) = parse_failure(&args, &dir, &config) {
                        failures.lock().unwrap().push(why);
                    }
                });
            }
        });
        let failures = failures.into_inner().unwrap();
        assert!(
            failures.is_empty(),
            "{fixture} {flags:?}: {}",
            failures.join("\n\n")
        );
        assert!(commands.len() > 15, "{fixture}: {}", commands.len());
    }
}

fn parse_failure(args: &[String], dir: &Path, config: &Path) -> Option<String> {
    let mut child = std::process::Command::new("gcloud")
        .args(args)
        .current_dir(dir)
        .env("CLOUDSDK_CONFIG", config)
        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("gcloud is installed");
    let feed: &[u8] = if args.iter().any(|a| a == "--flags-file=-") {
        b"--password: \"not-a-real-password\"\n"
    } else {
        b"not-a-real-value"
    };
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(feed);
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    let line = args.join(" ");
    if args[..2] == ["auth", "list"] {
        return (!out.status.success()).then(|| format!("gcloud {line}:\n{stderr}"));
    }
    let only_credentials = !out.status.success()
        && (stderr.contains("active account") || stderr.contains("auth login"))
        && !stderr.contains("unrecognized arguments")
        && !stderr.contains("Invalid value");
    (!only_credentials).then(|| format!("gcloud {line}:\n{stderr}"))
}
