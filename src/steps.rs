//! The one-time setup and the deploy, as data: one pure function turns the deployment into
//! the ordered list of steps. `init`'s next steps, `djrun deploy --dry-run`, `djrun deploy` and
//! the tests all read this one list, so no command is written twice.

use crate::deployment::{DatabaseKind, Deployment, SecretSource, TIER};

/// How a check tells that a step is already done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// The check exits 0 (a `describe` that finds the resource).
    WhenFound,
    /// The check's output lists every one of these words (`services list --enabled`).
    WhenListed(Vec<String>),
}

/// A read-only gcloud command that tells whether a step is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Arguments after `gcloud`.
    pub args: Vec<String>,
    /// How its outcome reads.
    pub done: Done,
}

/// What a command reads on standard input: secret material made at run time, never on a
/// command line, in a file or in a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A new Django secret key from a CSPRNG.
    SecretKey,
    /// The step's generated database password, as a `--flags-file=-` document.
    PasswordFlags,
    /// The database URL with the step's generated password in place of `{password}`.
    DatabaseUrl(String),
    /// A value the user gives: the variable of djrun's environment it is read from (else
    /// asked without echo).
    FromUser(String),
}

/// One gcloud command of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// Arguments after `gcloud`.
    pub args: Vec<String>,
    /// What it reads on standard input.
    pub input: Option<Input>,
    /// What to run instead when this one fails because the thing exists already.
    pub if_exists: Option<Vec<String>>,
}

impl Action {
    fn new(args: Vec<String>) -> Action {
        Action {
            args,
            input: None,
            if_exists: None,
        }
    }

    fn reading(mut self, input: Input) -> Action {
        self.input = Some(input);
        self
    }
}

/// One step of the setup or the deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// A short, stable name (`apis`, `secret:DATABASE_URL`).
    pub id: String,
    /// What it does, in a few words.
    pub title: String,
    /// Why it is needed, in one line.
    pub why: String,
    /// The read-only command that tells whether it is done; `None`: it always runs (it is
    /// safe to repeat).
    pub check: Option<Check>,
    /// The commands that do it.
    pub actions: Vec<Action>,
    /// What it costs, where that is known.
    pub cost: Option<String>,
    /// Whether it is part of every deploy rather than the one-time setup.
    pub every_deploy: bool,
}

fn words(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

fn with_project(mut args: Vec<String>, project: &str) -> Vec<String> {
    args.push(format!("--project={project}"));
    args
}

/// The setup and deploy steps for `d`, in order. `versions` pins each secret's version for
/// the build (variable, version); empty means `latest`.
pub fn steps(d: &Deployment, versions: &[(String, String)]) -> Vec<Step> {
    let p = d.project.as_str();
    let email = d.runtime_email();
    let member = format!("serviceAccount:{email}");
    let deployer = d.deployer_email();
    let mut out = Vec::new();

    let apis = d.apis();
    let mut enable = words(&["services", "enable"]);
    enable.extend(apis.iter().map(|a| a.to_string()));
    out.push(Step {
        id: "apis".into(),
        title: "Enable the APIs".into(),
        why: "Cloud Run, Cloud Build, Artifact Registry, Secret Manager and IAM are off in a new project".into(),
        check: Some(Check {
            args: with_project(
                words(&["services", "list", "--enabled", "--format=value(config.name)"]),
                p,
            ),
            done: Done::WhenListed(apis.iter().map(|a| a.to_string()).collect()),
        }),
        actions: vec![Action::new(with_project(enable, p))],
        cost: None,
        every_deploy: false,
    });

    out.push(Step {
        id: "repository".into(),
        title: format!("Create the image repository `{}`", d.repository),
        why: "images go to Artifact Registry, since Container Registry is shut down".into(),
        check: Some(Check {
            args: with_project(
                vec![
                    "artifacts".into(),
                    "repositories".into(),
                    "describe".into(),
                    d.repository.into(),
                    format!("--location={}", d.region),
                ],
                p,
            ),
            done: Done::WhenFound,
        }),
        actions: vec![Action::new(with_project(
            vec![
                "artifacts".into(),
                "repositories".into(),
                "create".into(),
                d.repository.into(),
                "--repository-format=docker".into(),
                format!("--location={}", d.region),
            ],
            p,
        ))],
        cost: None,
        every_deploy: false,
    });

    for (account, email, what) in [
        (
            &d.runtime_account,
            &email,
            "the service and its jobs run as",
        ),
        (&d.deployer_account, &deployer, "the build deploys as"),
    ] {
        out.push(Step {
            id: format!("account:{account}"),
            title: format!("Create the service account `{email}`"),
            why: format!(
                "the identity {what}, with only the roles it needs instead of the default account's Editor"
            ),
            check: Some(Check {
                args: with_project(
                    vec![
                        "iam".into(),
                        "service-accounts".into(),
                        "describe".into(),
                        email.clone(),
                    ],
                    p,
                ),
                done: Done::WhenFound,
            }),
            actions: vec![Action::new(with_project(
                vec![
                    "iam".into(),
                    "service-accounts".into(),
                    "create".into(),
                    account.clone(),
                    format!("--display-name={} ({})", d.service, what),
                ],
                p,
            ))],
            cost: None,
            every_deploy: false,
        });
    }

    // The roles the build's account needs to push and deploy, and to run as the runtime one.
    let mut grants: Vec<Vec<String>> = Vec::new();
    for role in [
        "roles/run.admin",
        "roles/artifactregistry.writer",
        "roles/logging.logWriter",
    ] {
        grants.push(with_project(
            vec![
                "projects".into(),
                "add-iam-policy-binding".into(),
                p.into(),
                format!("--member=serviceAccount:{deployer}"),
                format!("--role={role}"),
                "--condition=None".into(),
            ],
            p,
        ));
    }
    grants.push(with_project(
        vec![
            "iam".into(),
            "service-accounts".into(),
            "add-iam-policy-binding".into(),
            email.clone(),
            format!("--member=serviceAccount:{deployer}"),
            "--role=roles/iam.serviceAccountUser".into(),
        ],
        p,
    ));
    out.push(Step {
        id: "deployer-roles".into(),
        title: "Let the build's account push and deploy".into(),
        why: "Cloud Run admin, Artifact Registry writer, log writer, and acting as the runtime account".into(),
        check: None,
        actions: grants.into_iter().map(Action::new).collect(),
        cost: None,
        every_deploy: false,
    });

    // Cloud SQL: the instance, the database, then the user with the URL secret.
    if let Some(db) = &d.database {
        if let Some(instance) = &db.instance {
            let ip = instance.project.as_str();
            out.push(Step {
                id: "sql-instance".into(),
                title: format!(
                    "Create the Cloud SQL instance `{}`",
                    instance.connection_name()
                ),
                why: "the database server; it takes several minutes to create".into(),
                check: Some(Check {
                    args: with_project(
                        vec![
                            "sql".into(),
                            "instances".into(),
                            "describe".into(),
                            instance.name.clone(),
                        ],
                        ip,
                    ),
                    done: Done::WhenFound,
                }),
                actions: vec![Action::new(with_project(
                    vec![
                        "sql".into(),
                        "instances".into(),
                        "create".into(),
                        instance.name.clone(),
                        format!("--database-version={}", db.version()),
                        "--edition=enterprise".into(),
                        format!("--tier={}", TIER.name),
                        format!("--region={}", instance.region),
                        "--storage-auto-increase".into(),
                        "--backup-start-time=03:00".into(),
                        "--deletion-protection".into(),
                    ],
                    ip,
                ))],
                cost: Some(format!(
                    "{} costs about ${} a month, billed while it exists",
                    TIER.name, TIER.monthly_usd
                )),
                every_deploy: false,
            });
            let instance_flag = format!("--instance={}", instance.name);
            out.push(Step {
                id: "sql-database".into(),
                title: format!("Create the database `{}`", db.name),
                why: "the app's own database in the instance".into(),
                check: Some(Check {
                    args: with_project(
                        vec![
                            "sql".into(),
                            "databases".into(),
                            "describe".into(),
                            db.name.clone(),
                            instance_flag.clone(),
                        ],
                        ip,
                    ),
                    done: Done::WhenFound,
                }),
                actions: vec![Action::new(with_project(
                    vec![
                        "sql".into(),
                        "databases".into(),
                        "create".into(),
                        db.name.clone(),
                        instance_flag.clone(),
                    ],
                    ip,
                ))],
                cost: None,
                every_deploy: false,
            });
            let url = db.url_template().unwrap_or_default();
            out.push(Step {
                id: format!("secret:{}", db.var),
                title: format!(
                    "Create the user `{}` and keep its URL in the secret `{}`",
                    db.user, db.secret
                ),
                why:
                    "a generated password goes straight into Secret Manager, never shown or written"
                        .into(),
                check: Some(secret_check(&db.secret, p)),
                actions: vec![
                    Action {
                        args: with_project(
                            vec![
                                "sql".into(),
                                "users".into(),
                                "create".into(),
                                db.user.clone(),
                                instance_flag.clone(),
                                "--flags-file=-".into(),
                            ],
                            ip,
                        ),
                        input: Some(Input::PasswordFlags),
                        if_exists: Some(with_project(
                            vec![
                                "sql".into(),
                                "users".into(),
                                "set-password".into(),
                                db.user.clone(),
                                instance_flag.clone(),
                                "--flags-file=-".into(),
                            ],
                            ip,
                        )),
                    },
                    secret_create(&db.secret, p).reading(Input::DatabaseUrl(url)),
                ],
                cost: None,
                every_deploy: false,
            });
            out.push(Step {
                id: "sql-client".into(),
                title: "Let the runtime account connect to Cloud SQL".into(),
                why: "Cloud Run attaches the instance's socket only for an account with Cloud SQL Client".into(),
                check: None,
                actions: vec![Action::new(with_project(
                    vec![
                        "projects".into(),
                        "add-iam-policy-binding".into(),
                        ip.into(),
                        format!("--member={member}"),
                        "--role=roles/cloudsql.client".into(),
                        "--condition=None".into(),
                    ],
                    ip,
                ))],
                cost: None,
                every_deploy: false,
            });
        }
    }

    // Secrets the deploy reads that do not exist yet, and the runtime account's access.
    for secret in &d.secrets {
        let already = out.iter().any(|s| s.id == format!("secret:{}", secret.var));
        if !already {
            let input = match &secret.source {
                SecretSource::DjangoKey => Input::SecretKey,
                SecretSource::DatabaseUrl | SecretSource::FromUser => {
                    Input::FromUser(secret.var.clone())
                }
            };
            let why = match (&secret.source, d.database.as_ref().map(|db| db.kind)) {
                (SecretSource::DjangoKey, _) => {
                    "a random key made here and piped to Secret Manager, never in the image"
                        .to_string()
                }
                (_, Some(DatabaseKind::Url))
                    if d.database.as_ref().is_some_and(|db| db.var == secret.var) =>
                {
                    format!(
                        "the external database's URL, read from `${}` or asked, never echoed",
                        secret.var
                    )
                }
                _ => format!(
                    "the settings require `{}` at start-up; its value comes from `${}` or is asked",
                    secret.var, secret.var
                ),
            };
            out.push(Step {
                id: format!("secret:{}", secret.var),
                title: format!("Create the secret `{}` for `{}`", secret.secret, secret.var),
                why,
                check: Some(secret_check(&secret.secret, p)),
                actions: vec![secret_create(&secret.secret, p).reading(input)],
                cost: None,
                every_deploy: false,
            });
        }
    }
    out.push(Step {
        id: "secret-access".into(),
        title: "Let the runtime account read its secrets".into(),
        why: "one binding per secret: the account reads these and nothing else".into(),
        check: None,
        actions: d
            .secrets
            .iter()
            .map(|s| {
                Action::new(with_project(
                    vec![
                        "secrets".into(),
                        "add-iam-policy-binding".into(),
                        s.secret.clone(),
                        format!("--member={member}"),
                        "--role=roles/secretmanager.secretAccessor".into(),
                    ],
                    p,
                ))
            })
            .collect(),
        cost: None,
        every_deploy: false,
    });

    if let Some(media) = &d.media {
        let gs = format!("gs://{}", media.bucket);
        let mut create = vec![
            "storage".into(),
            "buckets".into(),
            "create".into(),
            gs.clone(),
            format!("--location={}", d.region),
            "--uniform-bucket-level-access".into(),
        ];
        if !media.public {
            create.push("--public-access-prevention".into());
        }
        out.push(Step {
            id: "bucket".into(),
            title: format!("Create the media bucket `{gs}`"),
            why: "uploads outlive instances, whose disks are in memory; uniform access, no per-object ACLs".into(),
            check: Some(Check {
                args: with_project(
                    vec!["storage".into(), "buckets".into(), "describe".into(), gs.clone()],
                    p,
                ),
                done: Done::WhenFound,
            }),
            actions: vec![Action::new(with_project(create, p))],
            cost: Some("Cloud Storage bills what is stored and served".into()),
            every_deploy: false,
        });
        let mut grants = vec![Action::new(with_project(
            vec![
                "storage".into(),
                "buckets".into(),
                "add-iam-policy-binding".into(),
                gs.clone(),
                format!("--member={member}"),
                "--role=roles/storage.objectAdmin".into(),
            ],
            p,
        ))];
        if media.public {
            grants.push(Action::new(with_project(
                vec![
                    "storage".into(),
                    "buckets".into(),
                    "add-iam-policy-binding".into(),
                    gs.clone(),
                    "--member=allUsers".into(),
                    "--role=roles/storage.objectViewer".into(),
                ],
                p,
            )));
        } else {
            grants.push(Action::new(with_project(
                vec![
                    "iam".into(),
                    "service-accounts".into(),
                    "add-iam-policy-binding".into(),
                    email.clone(),
                    format!("--member={member}"),
                    "--role=roles/iam.serviceAccountTokenCreator".into(),
                ],
                p,
            )));
        }
        out.push(Step {
            id: "bucket-access".into(),
            title: "Let the runtime account store files in the bucket".into(),
            why: if media.public {
                "object admin for the app; anyone may read, as --public-media asks".into()
            } else {
                "object admin for the app, and signing its own URLs (private files are served through signed URLs)".into()
            },
            check: None,
            actions: grants,
            cost: None,
            every_deploy: false,
        });
    }

    let mut submit = vec![
        "builds".into(),
        "submit".into(),
        "--config=cloudbuild.yaml".into(),
        format!("--service-account=projects/{p}/serviceAccounts/{deployer}"),
    ];
    if !versions.is_empty() {
        let subs: Vec<String> = versions
            .iter()
            .map(|(var, version)| format!("_{var}_VERSION={version}"))
            .collect();
        submit.push(format!("--substitutions={}", subs.join(",")));
    }
    out.push(Step {
        id: "build".into(),
        title: if d.migrate_job.is_some() {
            "Build, migrate and deploy".into()
        } else {
            "Build and deploy".into()
        },
        why: if d.migrate_job.is_some() {
            "Cloud Build runs cloudbuild.yaml: the image, its push, the migrate job, then the new revision".into()
        } else {
            "Cloud Build runs cloudbuild.yaml: the image, its push, then the new revision".into()
        },
        check: None,
        actions: vec![Action::new(with_project(submit, p))],
        cost: Some(format!(
            "Cloud Run bills requests; minimum instances 0, so an idle service costs nothing; {}",
            d.capacity.arithmetic
        )),
        every_deploy: true,
    });
    out
}

fn secret_check(secret: &str, project: &str) -> Check {
    Check {
        args: with_project(
            vec!["secrets".into(), "describe".into(), secret.to_string()],
            project,
        ),
        done: Done::WhenFound,
    }
}

fn secret_create(secret: &str, project: &str) -> Action {
    Action::new(with_project(
        vec![
            "secrets".into(),
            "create".into(),
            secret.to_string(),
            "--replication-policy=automatic".into(),
            "--data-file=-".into(),
        ],
        project,
    ))
}

/// The command that creates the first admin user with no shell: a run of the migrate job's
/// image with `createsuperuser --noinput`, its password from a secret. `None` without a
/// database.
pub fn superuser_steps(d: &Deployment) -> Option<Vec<Action>> {
    let db = d.database.as_ref()?;
    let p = d.project.as_str();
    let secret = format!("{}-superuser-password", d.service);
    let mut job = vec![
        "run".into(),
        "jobs".into(),
        "deploy".into(),
        format!("{}-createsuperuser", d.service),
        format!("--image={}:latest", d.image_path()),
        format!("--region={}", d.region),
        format!("--service-account={}", d.runtime_email()),
    ];
    if let Some(instance) = &db.instance {
        job.push(format!(
            "--set-cloudsql-instances={}",
            instance.connection_name()
        ));
    }
    let mut env = d.env.clone();
    env.push(("DJANGO_SUPERUSER_USERNAME".into(), "admin".into()));
    env.push(("DJANGO_SUPERUSER_EMAIL".into(), "admin@example.com".into()));
    let env: Vec<String> = env
        .iter()
        .map(|(k, v)| format!("{k}={}", concrete(v, d)))
        .collect();
    job.push(format!("--set-env-vars={}", env.join(",")));
    let mut secrets: Vec<String> = d
        .secrets
        .iter()
        .map(|s| format!("{}={}:latest", s.var, s.secret))
        .collect();
    secrets.push(format!("DJANGO_SUPERUSER_PASSWORD={secret}:latest"));
    job.push(format!("--set-secrets={}", secrets.join(",")));
    job.extend(words(&[
        "--command=python",
        "--args=manage.py,createsuperuser,--noinput",
        "--max-retries=0",
        "--execute-now",
        "--wait",
    ]));
    Some(vec![
        secret_create(&secret, p).reading(Input::SecretKey),
        Action::new(with_project(
            vec![
                "secrets".into(),
                "add-iam-policy-binding".into(),
                secret.clone(),
                format!("--member=serviceAccount:{}", d.runtime_email()),
                "--role=roles/secretmanager.secretAccessor".into(),
            ],
            p,
        )),
        Action::new(with_project(job, p)),
    ])
}

/// A value with Cloud Build's substitutions replaced by what they are outside a build.
fn concrete(value: &str, d: &Deployment) -> String {
    value
        .replace("${_SERVICE}", &d.service)
        .replace("${_REGION}", &d.region)
        .replace(
            "$PROJECT_NUMBER",
            "$(gcloud projects describe PROJECT --format='value(projectNumber)')",
        )
        .replace("PROJECT --format", &format!("{} --format", d.project))
}

/// A command as a person types it: each word quoted for a POSIX shell where it must be.
pub fn shell_line(args: &[String]) -> String {
    let mut line = String::from("gcloud");
    for a in args {
        line.push(' ');
        line.push_str(&shell_quote(a));
    }
    line
}

/// `value` as one shell word.
pub fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.,:/@%+=".contains(c));
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

/// The shell that makes an input, written before the command it feeds: never the value.
fn input_shell(input: &Input) -> String {
    match input {
        Input::SecretKey => {
            "python3 -c 'import secrets; print(secrets.token_urlsafe(50), end=\"\")' | ".into()
        }
        Input::PasswordFlags => "printf -- '--password: \"%s\"\\n' \"$DB_PASSWORD\" | ".into(),
        Input::DatabaseUrl(template) => {
            let (before, after) = template.split_once("{password}").unwrap_or((template, ""));
            format!(
                "printf '%s%s%s' {} \"$DB_PASSWORD\" {} | ",
                shell_quote(before),
                shell_quote(after)
            )
        }
        Input::FromUser(var) => format!("printf '%s' \"${var}\" | "),
    }
}

/// The steps as the commands a person runs, numbered, for `init`'s next steps.
pub fn as_shell(steps: &[Step]) -> String {
    let mut out = String::new();
    for (i, step) in steps.iter().enumerate() {
        out.push_str(&format!("{}. {}: {}.\n", i + 1, step.title, step.why));
        let needs_password = step
            .actions
            .iter()
            .any(|a| matches!(a.input, Some(Input::PasswordFlags)));
        if needs_password {
            out.push_str("    DB_PASSWORD=\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')\"\n");
        }
        for action in &step.actions {
            out.push_str("    ");
            if let Some(input) = &action.input {
                out.push_str(&input_shell(input));
            }
            out.push_str(&shell_line(&action.args));
            out.push('\n');
        }
        if needs_password {
            out.push_str("    unset DB_PASSWORD\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(
            shell_quote("--role=roles/run.admin"),
            "--role=roles/run.admin"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(
            shell_quote("--format=value(config.name)"),
            "'--format=value(config.name)'"
        );
    }
}
