//! The setup and deploy steps: every command in every plan parses with the installed gcloud
//! (which parses before it asks for an account), and the list holds what the deployment asks
//! for, in an order that works.

mod common;

use djrun::config::ConfigFile;
use djrun::deployment::Deployment;
use djrun::gcloud::GcloudDefaults;
use djrun::init::{resolve, InitRequest};
use djrun::inspect::inspect;
use djrun::prompt::NoTerminal;
use djrun::steps::{self, Input, Step};
use std::collections::BTreeSet;
use std::process::{Command, Stdio};

/// The deployment and its steps for fixture `name` with these `init` choices.
fn plan(name: &str, tweak: impl FnOnce(&mut InitRequest)) -> (Deployment, Vec<Step>) {
    let (_tmp, dir) = common::copy_fixture(name);
    let facts = inspect(&dir).unwrap();
    let config = ConfigFile::locate(&dir, &facts.project_root).unwrap();
    // One service name for every fixture, so that plans share their commands and each
    // distinct command is parsed once.
    let mut request = InitRequest {
        root: dir.clone(),
        project: Some("demo-project-123".into()),
        region: Some("europe-west1".into()),
        service: Some("shop".into()),
        yes: true,
        env: common::user_env(name)
            .into_iter()
            .map(String::from)
            .collect(),
        ..InitRequest::default()
    };
    tweak(&mut request);
    let options = resolve(
        &facts,
        &request,
        &config,
        &GcloudDefaults::default(),
        &mut NoTerminal,
        &mut Vec::new(),
    )
    .unwrap();
    let deployment = Deployment::new(&facts, &options).unwrap();
    let versions = vec![("DJANGO_SECRET_KEY".to_string(), "3".to_string())];
    let steps = steps::steps(&deployment, &versions);
    (deployment, steps)
}

/// Every plan the tests parse: each database and media choice, public and private, and every
/// fixture's own.
fn all_plans() -> Vec<(String, Deployment, Vec<Step>)> {
    type Tweak = fn(&mut InitRequest);
    let cases: Vec<(&str, &str, Tweak)> = vec![
        ("mysite", "sqlite kept", |_| {}),
        ("mysite", "postgres, private, gcs private", |r| {
            r.database = Some("cloudsql-postgres".into());
            r.public = Some(false);
            r.media = Some("gcs".into());
        }),
        (
            "environ-settings",
            "mysql in another project, gcs public",
            |r| {
                r.database = Some("cloudsql-mysql".into());
                r.sql_instance = Some("shared-db-1234:us-central1:main".into());
                r.media = Some("gcs".into());
                r.public_media = Some(true);
            },
        ),
        ("cookiecutter-split", "external url, GitHub workflow", |r| {
            r.database = Some("url".into());
            r.ci = Some("github".into());
            r.github_repo = Some("acme/shop".into());
        }),
        ("wagtail-start", "detected defaults", |_| {}),
    ];
    let mut plans: Vec<(String, Deployment, Vec<Step>)> = cases
        .into_iter()
        .map(|(name, what, tweak)| {
            let (d, s) = plan(name, tweak);
            (format!("{name} ({what})"), d, s)
        })
        .collect();
    // And every fixture with the choices djrun makes for it.
    for (name, _) in common::fixtures() {
        let (d, s) = plan(&name, |_| {});
        plans.push((format!("{name} (its defaults)"), d, s));
    }
    plans
}

/// A command to parse, with what it reads on standard input (a stand-in of the same form).
fn commands(steps: &[Step], d: &Deployment) -> Vec<(Vec<String>, Option<String>)> {
    let stdin = |input: &Option<Input>| {
        input.as_ref().map(|i| match i {
            Input::PasswordFlags => "--password: \"stand-in-password\"\n".to_string(),
            _ => "stand-in-value".to_string(),
        })
    };
    // The deploy reads the project number before it runs a step that names it.
    let number = |args: &[String]| -> Vec<String> {
        args.iter()
            .map(|a| {
                a.replace(steps::PROJECT_NUMBER, "123456789012").replace(
                    steps::SERVICE_IMAGE,
                    "europe-west1-docker.pkg.dev/demo-project-123/cloud-run-source-deploy/shop:b1",
                )
            })
            .collect()
    };
    let mut out = Vec::new();
    for step in steps {
        if let Some(check) = &step.check {
            out.push((number(&check.args), None));
        }
        for a in &step.actions {
            out.push((number(&a.args), stdin(&a.input)));
            if let Some(alt) = &a.if_exists {
                out.push((number(alt), stdin(&a.input)));
            }
        }
    }
    for a in steps::superuser_steps(d).unwrap_or_default() {
        out.push((number(&a.args), stdin(&a.input)));
    }
    out
}

/// What the real gcloud says to `args` with no account: `Ok` when it stopped for lack of
/// credentials, else its complaint.
fn gcloud_parse(args: &[String], stdin: Option<&str>) -> Result<(), String> {
    let config = tempfile::tempdir().unwrap();
    // `builds submit` reads the config before it asks for an account: give it one that
    // declares the substitutions the command sets.
    std::fs::write(
        config.path().join("cloudbuild.yaml"),
        "steps:\n- name: busybox\n  args: [echo, $_DJANGO_SECRET_KEY_VERSION]\nsubstitutions:\n  _DJANGO_SECRET_KEY_VERSION: latest\n",
    )
    .unwrap();
    let mut child = Command::new("gcloud")
        .args(args)
        .current_dir(config.path())
        .env("CLOUDSDK_CONFIG", config.path())
        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gcloud is installed");
    {
        use std::io::Write;
        let mut pipe = child.stdin.take().unwrap();
        let _ = pipe.write_all(stdin.unwrap_or("").as_bytes());
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let credentials = stderr.contains("active account") || stderr.contains("auth login");
    if !out.status.success() && credentials {
        Ok(())
    } else {
        Err(stderr)
    }
}

#[test]
fn every_command_in_every_plan_parses_with_the_installed_gcloud() {
    let mut unique: BTreeSet<(Vec<String>, Option<String>)> = BTreeSet::new();
    for (_, d, steps) in all_plans() {
        unique.extend(commands(&steps, &d));
    }
    assert!(unique.len() > 30, "only {} commands", unique.len());
    let unique: Vec<_> = unique.into_iter().collect();
    // Four at a time: each gcloud start takes a second or two, much of it waiting.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let halves: Vec<_> = unique
            .chunks(unique.len().div_ceil(4))
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|(args, stdin)| {
                            gcloud_parse(args, stdin.as_deref())
                                .err()
                                .map(|e| format!("gcloud {}:\n{e}", args.join(" ")))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        halves.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_parse_check_catches_a_wrong_flag() {
    let err = gcloud_parse(
        &[
            "sql".into(),
            "instances".into(),
            "create".into(),
            "x-db".into(),
            "--database-version=POSTGRES_99".into(),
            "--project=demo-project-123".into(),
        ],
        None,
    )
    .unwrap_err();
    assert!(err.contains("database-version"), "{err}");
}

#[test]
fn a_fresh_database_plan_creates_things_before_it_grants_on_them() {
    let (d, steps) = plan("mysite", |r| {
        r.database = Some("cloudsql-postgres".into());
        r.media = Some("gcs".into());
    });
    let ids: Vec<&str> = steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "apis",
            "repository",
            "account:shop-run",
            "account:shop-deploy",
            "deployer-roles",
            "deployer-acts-as",
            "sql-instance",
            "sql-database",
            "secret:DATABASE_URL",
            "sql-client",
            "secret:DJANGO_SECRET_KEY",
            "access:DJANGO_SECRET_KEY",
            "access:DATABASE_URL",
            "bucket",
            "bucket-access",
            "signing",
            "build",
        ]
    );
    let step = |id: &str| steps.iter().find(|s| s.id == id).unwrap();
    let apis = &steps[0].actions[0].args;
    assert!(apis.contains(&"sqladmin.googleapis.com".to_string()));
    assert!(apis.contains(&"iamcredentials.googleapis.com".to_string()));
    // The instance is created with an explicit edition, tier, version, backups and
    // deletion protection, and says what it costs.
    let instance = step("sql-instance");
    for flag in [
        "--edition=enterprise",
        "--tier=db-g1-small",
        "--database-version=POSTGRES_17",
        "--backup-start-time=03:00",
        "--deletion-protection",
    ] {
        assert!(
            instance.actions[0].args.contains(&flag.to_string()),
            "{flag}"
        );
    }
    assert!(instance.cost.as_deref().unwrap().contains("a month"));
    // The user gets its password on stdin, and the URL secret the same password.
    let user = step("secret:DATABASE_URL");
    assert_eq!(user.actions[0].input, Some(Input::PasswordFlags));
    assert!(user.actions[0].args.contains(&"--flags-file=-".to_string()));
    assert_eq!(
        user.actions[1].input,
        Some(Input::DatabaseUrl(
            "postgres://shop:{password}@/shop?host=/cloudsql/demo-project-123:europe-west1:shop-db"
                .into()
        ))
    );
    // Private media: the bucket blocks public access and the account signs its own URLs.
    assert!(step("bucket").actions[0]
        .args
        .contains(&"--public-access-prevention".to_string()));
    assert!(step("signing").actions[0]
        .args
        .contains(&"--role=roles/iam.serviceAccountTokenCreator".to_string()));
    // The build pins the secret versions it is given.
    let build = &step("build").actions[0].args;
    assert!(build.contains(&"--substitutions=_DJANGO_SECRET_KEY_VERSION=3".to_string()));
    assert_eq!(d.migrate_job.as_deref(), Some("shop-migrate"));
}

#[test]
fn no_printed_step_holds_a_secret_value() {
    for (what, d, steps) in all_plans() {
        let shell = steps::as_shell(&steps);
        assert!(!shell.contains("--password="), "{what}:\n{shell}");
        assert!(!shell.contains("stand-in"), "{what}");
        for step in &steps {
            for a in &step.actions {
                for arg in &a.args {
                    assert!(
                        !arg.contains("{password}") && !arg.starts_with("--password"),
                        "{what}: {arg}"
                    );
                }
            }
        }
        // Every secret the deploy reads is created by a step or was there before.
        for s in &d.secrets {
            assert!(
                steps.iter().any(|st| st.id == format!("secret:{}", s.var)),
                "{what}: no step creates {}",
                s.secret
            );
        }
    }
}

#[test]
fn the_printed_password_goes_from_a_shell_variable_to_stdin_only() {
    let (_, steps) = plan("mysite", |r| r.database = Some("cloudsql-postgres".into()));
    let shell = steps::as_shell(&steps);
    let lines: Vec<&str> = shell.lines().map(str::trim).collect();
    let set = lines
        .iter()
        .position(|l| l.starts_with("DB_PASSWORD=\"$(python3 -c"))
        .expect("the password is made on the machine");
    assert!(lines[set + 1].starts_with("printf -- '--password: \"%s\"\\n' \"$DB_PASSWORD\" | gcloud sql users create shop --instance=shop-db --flags-file=-"), "{}", lines[set + 1]);
    assert!(lines[set + 2].starts_with("printf '%s%s%s' postgres://shop: \"$DB_PASSWORD\" '@/shop?host=/cloudsql/demo-project-123:europe-west1:shop-db' | gcloud secrets create shop-database-url"), "{}", lines[set + 2]);
    assert_eq!(lines[set + 3], "unset DB_PASSWORD");
}

/// The gcloud commands of a generated cloudbuild.yaml's steps (`entrypoint: gcloud`), with
/// Cloud Build's substitutions replaced by what a build gives them.
fn cloudbuild_commands(yaml: &str) -> Vec<Vec<String>> {
    let mut substitutions: Vec<(String, String)> = vec![
        ("$BUILD_ID".into(), "build-1".into()),
        ("$PROJECT_NUMBER".into(), "123456789012".into()),
        ("${PROJECT_ID}".into(), "demo-project-123".into()),
    ];
    let mut in_subs = false;
    for line in yaml.lines() {
        if line == "substitutions:" {
            in_subs = true;
        } else if in_subs && line.starts_with("  _") {
            let (k, v) = line.trim().split_once(": ").unwrap();
            substitutions.push((format!("${{{k}}}"), v.to_string()));
        } else if in_subs && !line.starts_with(' ') {
            in_subs = false;
        }
    }
    let expand = |s: &str| {
        let mut s = s.to_string();
        // Substitutions refer to others (`_IMAGE`): expand until nothing changes.
        for _ in 0..4 {
            for (k, v) in &substitutions {
                s = s.replace(k.as_str(), v);
            }
        }
        s
    };
    let mut out = Vec::new();
    let mut current: Option<Vec<String>> = None;
    let mut gcloud = false;
    for line in yaml.lines() {
        if line.starts_with("  - id: ") {
            if let Some(c) = current.take() {
                if gcloud {
                    out.push(c);
                }
            }
            current = Some(Vec::new());
            gcloud = false;
        } else if line.trim() == "entrypoint: gcloud" {
            gcloud = true;
        } else if let (Some(c), Some(arg)) = (current.as_mut(), line.strip_prefix("      - ")) {
            c.push(expand(arg));
        } else if !line.starts_with("    ") {
            if let Some(c) = current.take() {
                if gcloud {
                    out.push(c);
                }
            }
            gcloud = false;
        }
    }
    out
}

#[test]
fn the_gcloud_commands_inside_every_cloudbuild_yaml_parse() {
    let mut cases: Vec<(String, Vec<String>)> = Vec::new();
    for (name, _) in common::fixtures() {
        cases.push((name, vec![]));
    }
    cases.push((
        "mysite".into(),
        vec![
            "--database=cloudsql-postgres".into(),
            "--media=gcs".into(),
            "--private".into(),
        ],
    ));
    cases.push((
        "environ-settings".into(),
        vec![
            "--database=cloudsql-mysql".into(),
            "--domain=www.example.com".into(),
            "--domain=example.com".into(),
        ],
    ));
    let mut commands: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut migrate_jobs = 0;
    for (name, flags) in &cases {
        let (tmp, dir) = common::copy_fixture(name);
        common::djrun(&tmp.path().join("gcloud"))
            .args(["init", "--yes", "--force", "--service", "shop"])
            .args(["--project", "demo-project-123", "--region", "europe-west1"])
            .args(flags)
            .args(common::user_env_flags(name))
            .arg(&dir)
            .assert()
            .success();
        let yaml = std::fs::read_to_string(dir.join("cloudbuild.yaml")).unwrap();
        let found = cloudbuild_commands(&yaml);
        assert!(
            found
                .iter()
                .any(|c| c.starts_with(&["beta".into(), "run".into(), "deploy".into()])),
            "{name}: no deploy step in\n{yaml}"
        );
        migrate_jobs += found
            .iter()
            .filter(|c| c.starts_with(&["run".into(), "jobs".into(), "deploy".into()]))
            .count();
        for mut c in found {
            assert!(!c.iter().any(|a| a.contains('$')), "{name}: {c:?}");
            c.push("--project=demo-project-123".into());
            commands.insert(c);
        }
    }
    assert!(migrate_jobs >= 3, "only {migrate_jobs} migrate steps");
    let commands: Vec<_> = commands.into_iter().collect();
    let failures: Vec<String> = std::thread::scope(|scope| {
        let parts: Vec<_> = commands
            .chunks(commands.len().div_ceil(4))
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|args| {
                            gcloud_parse(args, None)
                                .err()
                                .map(|e| format!("gcloud {}:\n{e}", args.join(" ")))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_line_init_prints_runs_in_a_shell_and_gcloud_parses_it() {
    // The commands exactly as printed (quoting, pipes, the password and project number in
    // shell variables), each run by bash against the installed gcloud with no account.
    let (tmp, dir) = common::copy_fixture("mysql-shop");
    let out = common::djrun(&tmp.path().join("gcloud"))
        .args(["init", "--yes", "--service", "shop"])
        .args(["--project", "demo-project-123", "--region", "europe-west1"])
        .args(["--domain", "www.example.com", "--ci", "github"])
        .args(["--github-repo", "acme/shop"])
        .arg(&dir)
        .assert()
        .success()
        .get_output()
        .stderr
        .clone();
    let text = String::from_utf8_lossy(&out).into_owned();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("    ") && !l.contains("docker "))
        .map(str::trim)
        .collect();
    assert!(lines.len() > 25, "{text}");
    let config = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("cloudbuild.yaml"),
        "steps:\n- name: busybox\n  args: [echo, ok]\n",
    )
    .unwrap();
    let mut failures = Vec::new();
    let mut script = String::from("set -u\nexport DATABASE_URL=x DJANGO_SETTINGS=x\n");
    for (i, line) in lines.iter().enumerate() {
        let assignment = line.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        });
        if assignment {
            // An assignment (DB_PASSWORD=..., PROJECT_NUMBER=...): run it, then stand in a
            // value where gcloud, with no account, gave none.
            script.push_str(&format!("{line} 2>/dev/null\n"));
            let var = line.split('=').next().unwrap();
            script.push_str(&format!(": \"${{{var}:=123456789012}}\"\n"));
            continue;
        }
        if line.starts_with("unset ") {
            script.push_str(&format!("{line}\n"));
            continue;
        }
        script.push_str(&format!(
            "if out=$( {line} 2>&1 ); then echo \"FAIL {i}: succeeded\"; \
             elif ! printf '%s' \"$out\" | grep -q -e 'active account' -e 'auth login'; then \
             printf 'FAIL {i}: %s\\n' \"$out\"; fi\n"
        ));
    }
    let run = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(config.path())
        .env("CLOUDSDK_CONFIG", config.path().join("gcloud"))
        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&run.stdout);
    for l in report.lines().filter(|l| l.starts_with("FAIL ")) {
        let i: usize = l[5..].split(':').next().unwrap().parse().unwrap();
        failures.push(format!("{}\n  -> {l}", lines[i]));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
