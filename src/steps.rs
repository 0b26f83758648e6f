//! The one-time setup and the deploy, as data: one pure function turns the deployment into
//! the ordered list of steps. `init`'s next steps, `djrun deploy --dry-run`, `djrun deploy` and
//! the tests all read this one list, so no command is written twice.

use crate::deployment::{DatabaseKind, Deployment, SecretSource, TIER};

/// How a check tells that a step is already done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// The check exits 0 (a `describe` that finds the resource).
    WhenFound,
    /// Every one of these words is a line of the check's output (`services list --enabled`,
    /// a policy read as `role,member` lines).
    WhenListed(Vec<String>),
}

impl Done {
    /// Whether a check that succeeded with `output` says the step is done.
    pub fn reads(&self, output: &str) -> bool {
        match self {
            Done::WhenFound => true,
            Done::WhenListed(words) => {
                let lines: Vec<&str> = output.lines().map(str::trim).collect();
                words.iter().all(|w| lines.contains(&w.as_str()))
            }
        }
    }
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

/// Stands in an argument for the project's number, which the deploy reads
/// (`gcloud projects describe`) before it runs a step that holds it.
pub const PROJECT_NUMBER: &str = "{project_number}";

/// Stands in an argument for the image the service runs now, read
/// (`gcloud run services describe`) before the command that names it.
pub const SERVICE_IMAGE: &str = "{service_image}";

/// `steps` with the project's number in place of [`PROJECT_NUMBER`], in every command and
/// in what a check looks for.
pub fn with_project_number(steps: Vec<Step>, number: &str) -> Vec<Step> {
    let fill = |args: &mut Vec<String>| {
        for a in args.iter_mut() {
            *a = a.replace(PROJECT_NUMBER, number);
        }
    };
    steps
        .into_iter()
        .map(|mut step| {
            if let Some(check) = &mut step.check {
                fill(&mut check.args);
                if let Done::WhenListed(words) = &mut check.done {
                    fill(words);
                }
            }
            for action in &mut step.actions {
                fill(&mut action.args);
                if let Some(alt) = &mut action.if_exists {
                    fill(alt);
                }
            }
            step
        })
        .collect()
}

fn words(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

pub(crate) fn with_project(mut args: Vec<String>, project: &str) -> Vec<String> {
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
    let deployer_member = format!("serviceAccount:{deployer}");
    let deployer_roles = [
        "roles/run.admin",
        "roles/artifactregistry.writer",
        "roles/logging.logWriter",
    ];
    out.push(project_roles(
        "deployer-roles",
        "Let the build's account push and deploy",
        "Cloud Run admin, Artifact Registry writer and log writer on the project",
        p,
        &deployer_member,
        &deployer_roles,
    ));
    out.push(Step {
        id: "deployer-acts-as".into(),
        title: "Let the build's account deploy as the runtime account".into(),
        why: "a deploy that names a service account needs acting as it".into(),
        check: Some(policy_check(
            vec![
                "iam".into(),
                "service-accounts".into(),
                "get-iam-policy".into(),
                email.clone(),
            ],
            &deployer_member,
            &["roles/iam.serviceAccountUser"],
            p,
        )),
        actions: vec![Action::new(with_project(
            vec![
                "iam".into(),
                "service-accounts".into(),
                "add-iam-policy-binding".into(),
                email.clone(),
                format!("--member={deployer_member}"),
                "--role=roles/iam.serviceAccountUser".into(),
            ],
            p,
        ))],
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
                check: Some(policy_check(
                    vec!["projects".into(), "get-iam-policy".into(), ip.into()],
                    &member,
                    &["roles/cloudsql.client"],
                    ip,
                )),
                actions: vec![Action::new(project_grant(
                    ip,
                    &member,
                    "roles/cloudsql.client",
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
    if let Some(settings) = &d.settings_secret {
        out.push(Step {
            id: "settings-secret".into(),
            title: format!("Create the secret `{}` the settings load at start-up", settings.secret),
            why: format!(
                "`{}` reads its configuration (a .env text) from it; its value comes from `${}` or is asked",
                settings.file, settings.var
            ),
            check: Some(secret_check(&settings.secret, p)),
            actions: vec![secret_create(&settings.secret, p).reading(Input::FromUser(settings.var.clone()))],
            cost: None,
            every_deploy: false,
        });
    }
    let readable: Vec<(String, String)> = d
        .secrets
        .iter()
        .map(|s| (s.var.clone(), s.secret.clone()))
        .chain(
            d.settings_secret
                .iter()
                .map(|s| ("settings".to_string(), s.secret.clone())),
        )
        .collect();
    for (var, secret) in &readable {
        out.push(Step {
            id: format!("access:{}", var),
            title: format!("Let the runtime account read `{secret}`"),
            why: "one binding per secret: the account reads its secrets and nothing else".into(),
            check: Some(policy_check(
                vec!["secrets".into(), "get-iam-policy".into(), secret.clone()],
                &member,
                &["roles/secretmanager.secretAccessor"],
                p,
            )),
            actions: vec![Action::new(with_project(
                vec![
                    "secrets".into(),
                    "add-iam-policy-binding".into(),
                    secret.clone(),
                    format!("--member={member}"),
                    "--role=roles/secretmanager.secretAccessor".into(),
                ],
                p,
            ))],
            cost: None,
            every_deploy: false,
        });
    }

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
        let mut bound = vec![format!("roles/storage.objectAdmin,{member}")];
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
            bound.push("roles/storage.objectViewer,allUsers".into());
        }
        out.push(Step {
            id: "bucket-access".into(),
            title: "Let the runtime account store files in the bucket".into(),
            why: if media.public {
                "object admin for the app; anyone may read, as --public-media asks".into()
            } else {
                "object admin for the app, no one else".into()
            },
            check: Some(Check {
                args: with_project(
                    vec![
                        "storage".into(),
                        "buckets".into(),
                        "get-iam-policy".into(),
                        gs.clone(),
                        POLICY_FLATTEN.into(),
                        POLICY_FORMAT.into(),
                    ],
                    p,
                ),
                done: Done::WhenListed(bound),
            }),
            actions: grants,
            cost: None,
            every_deploy: false,
        });
        if !media.public {
            out.push(Step {
                id: "signing".into(),
                title: "Let the runtime account sign its own URLs".into(),
                why: "private files are served through signed URLs, which the account signs as itself".into(),
                check: Some(policy_check(
                    vec![
                        "iam".into(),
                        "service-accounts".into(),
                        "get-iam-policy".into(),
                        email.clone(),
                    ],
                    &member,
                    &["roles/iam.serviceAccountTokenCreator"],
                    p,
                )),
                actions: vec![Action::new(with_project(
                    vec![
                        "iam".into(),
                        "service-accounts".into(),
                        "add-iam-policy-binding".into(),
                        email.clone(),
                        format!("--member={member}"),
                        "--role=roles/iam.serviceAccountTokenCreator".into(),
                    ],
                    p,
                ))],
                cost: None,
                every_deploy: false,
            });
        }
    }

    if let Some(gh) = &d.github {
        out.extend(github_steps(d, gh));
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
            "Cloud Run bills requests; {}; {}",
            d.capacity.min_cost(),
            d.capacity.arithmetic
        )),
        every_deploy: true,
    });

    // Custom domains, once the service exists.
    if crate::deployment::domain_mapping_region(&d.region) {
        for domain in &d.domains {
            let on = |verb: &str| {
                let mut args = words(&["beta", "run", "domain-mappings", verb]);
                args.push(format!("--domain={domain}"));
                args.push(format!("--region={}", d.region));
                with_project(args, p)
            };
            let mut create = on("create");
            create.insert(4, format!("--service={}", d.service));
            out.push(Step {
                id: format!("domain:{domain}"),
                title: format!("Map `{domain}` to the service"),
                why: format!(
                    "Cloud Run serves the domain with a managed certificate once DNS points at it: `{}` lists the records to create",
                    shell_line(&{
                        let mut a = on("describe");
                        a.push("--format=value(status.resourceRecords)".into());
                        a
                    })
                ),
                check: Some(Check {
                    args: on("describe"),
                    done: Done::WhenFound,
                }),
                actions: vec![Action::new(create)],
                cost: None,
                every_deploy: false,
            });
        }
    }
    out
}

/// What a GitHub Actions workflow needs to deploy without a key: the identity pool, a
/// provider that trusts only this repository's tokens, and the roles its deployer account
/// needs to submit builds.
fn github_steps(d: &Deployment, gh: &crate::deployment::Github) -> Vec<Step> {
    use crate::deployment::WIF_POOL;
    let p = d.project.as_str();
    let deployer = d.deployer_email();
    let provider = gh.provider();
    let pool_flag = format!("--workload-identity-pool={WIF_POOL}");
    let mut out = vec![
        Step {
            id: "wif-pool".into(),
            title: format!("Create the identity pool `{WIF_POOL}`"),
            why: "Google trusts GitHub's tokens through Workload Identity Federation, so no key is stored anywhere".into(),
            check: Some(Check {
                args: with_project(
                    vec![
                        "iam".into(),
                        "workload-identity-pools".into(),
                        "describe".into(),
                        WIF_POOL.into(),
                        "--location=global".into(),
                    ],
                    p,
                ),
                done: Done::WhenFound,
            }),
            actions: vec![Action::new(with_project(
                vec![
                    "iam".into(),
                    "workload-identity-pools".into(),
                    "create".into(),
                    WIF_POOL.into(),
                    "--location=global".into(),
                    "--display-name=GitHub Actions".into(),
                ],
                p,
            ))],
            cost: None,
            every_deploy: false,
        },
        Step {
            id: "wif-provider".into(),
            title: format!("Trust `{}`'s workflows through the provider `{provider}`", gh.repository),
            why: "the provider accepts GitHub's OIDC tokens from this repository only".into(),
            check: Some(Check {
                args: with_project(
                    vec![
                        "iam".into(),
                        "workload-identity-pools".into(),
                        "providers".into(),
                        "describe".into(),
                        provider.clone(),
                        "--location=global".into(),
                        pool_flag.clone(),
                    ],
                    p,
                ),
                done: Done::WhenFound,
            }),
            actions: vec![Action::new(with_project(
                vec![
                    "iam".into(),
                    "workload-identity-pools".into(),
                    "providers".into(),
                    "create-oidc".into(),
                    provider.clone(),
                    "--location=global".into(),
                    pool_flag.clone(),
                    "--issuer-uri=https://token.actions.githubusercontent.com".into(),
                    "--attribute-mapping=google.subject=assertion.sub,attribute.repository=assertion.repository,attribute.ref=assertion.ref".into(),
                    format!("--attribute-condition=assertion.repository=='{}'", gh.repository),
                ],
                p,
            ))],
            cost: None,
            every_deploy: false,
        },
    ];
    let get_policy = vec![
        "iam".into(),
        "service-accounts".into(),
        "get-iam-policy".into(),
        deployer.clone(),
    ];
    let principal = format!(
        "principalSet://iam.googleapis.com/projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools/{WIF_POOL}/attribute.repository/{}",
        gh.repository
    );
    let deployer_member = format!("serviceAccount:{deployer}");
    let sa_grant = |member: &str, role: &str| {
        Action::new(with_project(
            vec![
                "iam".into(),
                "service-accounts".into(),
                "add-iam-policy-binding".into(),
                deployer.clone(),
                format!("--member={member}"),
                format!("--role={role}"),
            ],
            p,
        ))
    };
    out.push(Step {
        id: "ci-identity".into(),
        title: format!("Let `{}`'s workflows act as the deployer", gh.repository),
        why: format!(
            "tokens from this repository become `{deployer}` for the length of a run; then set the repository variable GCP_WORKLOAD_IDENTITY_PROVIDER to `projects/PROJECT_NUMBER/locations/global/workloadIdentityPools/{WIF_POOL}/providers/{provider}` (`gh variable set`)"
        ),
        check: Some(policy_check(
            get_policy.clone(),
            &principal,
            &["roles/iam.workloadIdentityUser"],
            p,
        )),
        actions: vec![sa_grant(&principal, "roles/iam.workloadIdentityUser")],
        cost: None,
        every_deploy: false,
    });
    out.push(Step {
        id: "ci-acts-as-itself".into(),
        title: "Let the deployer run builds as itself".into(),
        why: "`gcloud builds submit --service-account` needs acting as that account".into(),
        check: Some(policy_check(
            get_policy,
            &deployer_member,
            &["roles/iam.serviceAccountUser"],
            p,
        )),
        actions: vec![sa_grant(&deployer_member, "roles/iam.serviceAccountUser")],
        cost: None,
        every_deploy: false,
    });
    let roles = [
        "roles/cloudbuild.builds.editor",
        "roles/storage.objectAdmin",
        "roles/logging.viewer",
        "roles/serviceusage.serviceUsageConsumer",
    ];
    out.push(project_roles(
        "ci-roles",
        "Let the deployer submit builds",
        "it submits builds, uploads their source and streams their logs",
        p,
        &deployer_member,
        &roles,
    ));
    out
}

/// A policy read as one `role,member` line per binding (`--filter` is not offered by every
/// `get-iam-policy`, `--flatten` and `--format` are).
const POLICY_FLATTEN: &str = "--flatten=bindings[].members";
const POLICY_FORMAT: &str = "--format=csv[no-heading](bindings.role,bindings.members)";

/// A check that `member` holds each of `roles` in the policy `get_policy` reads.
fn policy_check(get_policy: Vec<String>, member: &str, roles: &[&str], project: &str) -> Check {
    let mut args = get_policy;
    args.push(POLICY_FLATTEN.into());
    args.push(POLICY_FORMAT.into());
    Check {
        args: with_project(args, project),
        done: Done::WhenListed(roles.iter().map(|r| format!("{r},{member}")).collect()),
    }
}

/// A step that grants `member` each of `roles` on the project, done when the project's
/// policy holds them all.
fn project_roles(
    id: &str,
    title: &str,
    why: &str,
    project: &str,
    member: &str,
    roles: &[&str],
) -> Step {
    Step {
        id: id.into(),
        title: title.into(),
        why: why.into(),
        check: Some(policy_check(
            vec!["projects".into(), "get-iam-policy".into(), project.into()],
            member,
            roles,
            project,
        )),
        actions: roles
            .iter()
            .map(|role| Action::new(project_grant(project, member, role)))
            .collect(),
        cost: None,
        every_deploy: false,
    }
}

/// `gcloud projects add-iam-policy-binding` for one role, with no condition.
fn project_grant(project: &str, member: &str, role: &str) -> Vec<String> {
    with_project(
        vec![
            "projects".into(),
            "add-iam-policy-binding".into(),
            project.into(),
            format!("--member={member}"),
            format!("--role={role}"),
            "--condition=None".into(),
        ],
        project,
    )
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
        format!("--image={SERVICE_IMAGE}"),
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
    let env: Vec<(String, String)> = env.into_iter().map(|(k, v)| (k, concrete(&v, d))).collect();
    job.push(format!(
        "--set-env-vars={}",
        crate::deployment::env_flag(&env)
    ));
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
        .replace("$PROJECT_NUMBER", PROJECT_NUMBER)
        .replace("${PROJECT_ID}", &d.project)
}

/// A command as a person types it: each word quoted for a POSIX shell where it must be, and
/// the project number and the service's image as the shell variables `$PROJECT_NUMBER` and
/// `$SERVICE_IMAGE`.
pub fn shell_line(args: &[String]) -> String {
    let mut line = String::from("gcloud");
    for a in args {
        line.push(' ');
        let words: Vec<String> = a
            .split(SERVICE_IMAGE)
            .map(|part| {
                let parts: Vec<String> = part.split(PROJECT_NUMBER).map(shell_quote_part).collect();
                parts.join("\"$PROJECT_NUMBER\"")
            })
            .collect();
        line.push_str(&words.join("\"$SERVICE_IMAGE\""));
    }
    line
}

/// Like [`shell_quote`], but an empty part stays empty (it sits beside a variable).
fn shell_quote_part(value: &str) -> String {
    if value.is_empty() {
        String::new()
    } else {
        shell_quote(value)
    }
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
        out.push_str(&actions_as_shell(&step.actions, "    "));
    }
    out
}

/// Commands as a person runs them, each line after `indent`: the values a command reads are
/// made by the shell (never written out), and the project number and the service's image
/// are read first into the variables the commands name.
pub fn actions_as_shell(actions: &[Action], indent: &str) -> String {
    let mut out = String::new();
    let has = |word: &str| {
        actions
            .iter()
            .any(|a| a.args.iter().any(|x| x.contains(word)))
    };
    let project = actions
        .iter()
        .flat_map(|a| a.args.iter())
        .find_map(|a| a.strip_prefix("--project="))
        .unwrap_or("PROJECT");
    if has(PROJECT_NUMBER) {
        out.push_str(&format!(
            "{indent}PROJECT_NUMBER=\"$(gcloud projects describe {project} --format='value(projectNumber)')\"\n"
        ));
    }
    if has(SERVICE_IMAGE) {
        let (service, region) = actions
            .iter()
            .find_map(|a| {
                let job = a.args.get(3)?;
                let region = a.args.iter().find_map(|x| x.strip_prefix("--region="))?;
                Some((job.rsplit_once('-')?.0.to_string(), region.to_string()))
            })
            .unwrap_or_else(|| ("SERVICE".into(), "REGION".into()));
        out.push_str(&format!(
            "{indent}SERVICE_IMAGE=\"$(gcloud run services describe {service} --region={region} --project={project} '--format=value(spec.template.spec.containers[0].image)')\"\n"
        ));
    }
    let needs_password = actions
        .iter()
        .any(|a| matches!(a.input, Some(Input::PasswordFlags)));
    if needs_password {
        out.push_str(&format!(
            "{indent}DB_PASSWORD=\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')\"\n"
        ));
    }
    for action in actions {
        out.push_str(indent);
        if let Some(input) = &action.input {
            out.push_str(&input_shell(input));
        }
        out.push_str(&shell_line(&action.args));
        out.push('\n');
    }
    if needs_password {
        out.push_str(&format!("{indent}unset DB_PASSWORD\n"));
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

#[cfg(test)]
mod number_tests {
    use super::*;

    #[test]
    fn the_project_number_fills_every_command_and_what_checks_look_for() {
        let step = Step {
            id: "x".into(),
            title: "x".into(),
            why: "x".into(),
            check: Some(Check {
                args: vec![format!("a/{PROJECT_NUMBER}/b")],
                done: Done::WhenListed(vec![format!("role,{PROJECT_NUMBER}")]),
            }),
            actions: vec![Action {
                args: vec![format!("--member=projects/{PROJECT_NUMBER}/x")],
                input: None,
                if_exists: Some(vec![PROJECT_NUMBER.to_string()]),
            }],
            cost: None,
            every_deploy: false,
        };
        let filled = with_project_number(vec![step], "42");
        let text = format!("{filled:?}");
        assert!(!text.contains(PROJECT_NUMBER), "{text}");
        assert_eq!(filled[0].actions[0].args[0], "--member=projects/42/x");
        assert_eq!(
            filled[0].check.as_ref().unwrap().done,
            Done::WhenListed(vec!["role,42".into()])
        );
        assert_eq!(
            shell_line(&[format!("--m=p/{PROJECT_NUMBER}/x y")]),
            "gcloud --m=p/\"$PROJECT_NUMBER\"'/x y'"
        );
    }
}
