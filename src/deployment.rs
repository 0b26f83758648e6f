//! One model of the deployment: everything that speaks about the cloud (cloudbuild.yaml, the
//! settings block's environment names, the setup steps, `inspect`) renders this one value,
//! computed once from the project facts and the resolved choices.

use crate::generate::Options;
use crate::inspect::envvars::BuildDatabase;
use crate::inspect::ProjectFacts;
use crate::Result;
use crate::{validate, Error};

/// The Artifact Registry repository the image goes to: the one `gcloud run deploy --source`
/// creates, so projects that tried that already have it.
pub const REPOSITORY: &str = "cloud-run-source-deploy";

/// The variable the deploy gives the database URL in, where the settings read none yet.
pub const DATABASE_URL_VAR: &str = "DATABASE_URL";
/// The variable that names the media bucket.
pub const BUCKET_VAR: &str = "GS_BUCKET_NAME";
/// The variable the secret key is read from, where the settings read none yet.
pub const SECRET_KEY_VAR: &str = "DJANGO_SECRET_KEY";

/// What database the deployment uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// A Cloud SQL for PostgreSQL instance, attached through its Unix socket.
    CloudSqlPostgres,
    /// A Cloud SQL for MySQL instance, attached through its Unix socket.
    CloudSqlMysql,
    /// A database elsewhere, whose `DATABASE_URL` lives in Secret Manager.
    Url,
    /// What the settings say, untouched.
    None,
}

impl DatabaseKind {
    /// Every value, as `--database` spells it.
    pub const ALL: [DatabaseKind; 4] = [
        DatabaseKind::CloudSqlPostgres,
        DatabaseKind::CloudSqlMysql,
        DatabaseKind::Url,
        DatabaseKind::None,
    ];

    /// As `--database` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DatabaseKind::CloudSqlPostgres => "cloudsql-postgres",
            DatabaseKind::CloudSqlMysql => "cloudsql-mysql",
            DatabaseKind::Url => "url",
            DatabaseKind::None => "none",
        }
    }

    /// Parse `--database`.
    pub fn parse(value: &str) -> std::result::Result<DatabaseKind, String> {
        DatabaseKind::ALL
            .into_iter()
            .find(|k| k.as_str() == value)
            .ok_or_else(|| {
                let all: Vec<&str> = DatabaseKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("`{value}` is not one of {}", all.join(", "))
            })
    }

    /// Whether the deployment reads a database URL from Secret Manager.
    pub fn has_url(self) -> bool {
        self != DatabaseKind::None
    }

    /// Whether the deployment attaches a Cloud SQL instance.
    pub fn is_cloud_sql(self) -> bool {
        matches!(
            self,
            DatabaseKind::CloudSqlPostgres | DatabaseKind::CloudSqlMysql
        )
    }

    /// The kind djrun suggests for what the settings say.
    pub fn suggested(facts: &ProjectFacts) -> DatabaseKind {
        match facts.database.as_str() {
            "postgres" | "env" => DatabaseKind::CloudSqlPostgres,
            "mysql" => DatabaseKind::CloudSqlMysql,
            _ => DatabaseKind::None,
        }
    }
}

/// Database engines djrun cannot give a Cloud SQL instance to: the engine as the settings
/// name it, when it is one of those.
pub fn unsupported_engine(facts: &ProjectFacts) -> Option<&str> {
    let engine = facts.database_engine.as_deref()?;
    let known = [
        "django.db.backends.postgresql",
        "django.db.backends.postgresql_psycopg2",
        "django.contrib.gis.db.backends.postgis",
        "django.db.backends.mysql",
        "django.contrib.gis.db.backends.mysql",
        "django.db.backends.sqlite3",
        "django.contrib.gis.db.backends.spatialite",
    ];
    (!known.contains(&engine)).then_some(engine)
}

/// A Cloud SQL instance: `PROJECT:REGION:NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlInstance {
    /// The project that holds it.
    pub project: String,
    /// Its region.
    pub region: String,
    /// Its name.
    pub name: String,
}

impl SqlInstance {
    /// `NAME` (in `project` and `region`) or `PROJECT:REGION:NAME`, validated.
    pub fn parse(
        value: &str,
        project: &str,
        region: &str,
    ) -> std::result::Result<SqlInstance, String> {
        let parts: Vec<&str> = value.split(':').collect();
        let (p, r, n) = match parts.as_slice() {
            [n] => (project, region, *n),
            [p, r, n] => (*p, *r, *n),
            _ => return Err(format!("`{value}` is neither NAME nor PROJECT:REGION:NAME")),
        };
        validate::project_id(p)?;
        validate::region(r)?;
        validate::sql_instance_name(n, p)?;
        Ok(SqlInstance {
            project: p.to_string(),
            region: r.to_string(),
            name: n.to_string(),
        })
    }

    /// The name Cloud Run and the socket folder use: `PROJECT:REGION:NAME`.
    pub fn connection_name(&self) -> String {
        format!("{}:{}:{}", self.project, self.region, self.name)
    }

    /// The default instance of a service: `<service>-db` in the chosen project and region.
    pub fn default_for(service: &str, project: &str, region: &str) -> SqlInstance {
        SqlInstance {
            project: project.to_string(),
            region: region.to_string(),
            name: format!("{service}-db"),
        }
    }
}

/// Where uploaded files go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// A Cloud Storage bucket, through django-storages.
    Gcs,
    /// Nowhere djrun sets up.
    None,
}

impl MediaKind {
    /// As `--media` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Gcs => "gcs",
            MediaKind::None => "none",
        }
    }

    /// Parse `--media`.
    pub fn parse(value: &str) -> std::result::Result<MediaKind, String> {
        match value {
            "gcs" => Ok(MediaKind::Gcs),
            "none" => Ok(MediaKind::None),
            _ => Err(format!("`{value}` is not one of gcs, none")),
        }
    }

    /// `gcs` when the project stores uploads on its own disk, else `none`.
    pub fn suggested(facts: &ProjectFacts) -> MediaKind {
        let remote = facts
            .settings
            .default_storage
            .as_deref()
            .is_some_and(|b| !b.contains("FileSystemStorage"));
        let uploads = facts.upload_field.is_some() || facts.media_root.is_some();
        if uploads && !remote {
            MediaKind::Gcs
        } else {
            MediaKind::None
        }
    }
}

/// The default media bucket: `<project>-<service>-media`, cut to Cloud Storage's 63 characters.
pub fn default_bucket(project: &str, service: &str) -> String {
    let mut name = format!("{project}-{service}");
    name.truncate(63 - "-media".len());
    let name = name.trim_end_matches('-');
    format!("{name}-media")
}

/// The Cloud SQL tier, with what it costs and how many connections it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tier {
    /// `--tier`.
    pub name: &'static str,
    /// Cloud SQL's default `max_connections` for the tier's memory.
    pub max_connections: u32,
    /// The list price per month, in US dollars, in the cheapest regions.
    pub monthly_usd: u32,
}

/// The tier djrun creates: the smallest shared-core tier whose connection budget holds more
/// than two instances of 8 threads (db-f1-micro's 25 connections hold two).
pub const TIER: Tier = Tier {
    name: "db-g1-small",
    max_connections: 50,
    monthly_usd: 26,
};

/// Connections Cloud SQL keeps for itself (superuser reservations, `cloudsqladmin`).
pub const RESERVED_CONNECTIONS: u32 = 5;
/// Connections left for the migrate job and an administrator's shell.
pub const ADMIN_CONNECTIONS: u32 = 3;
/// The instance cap without a database whose connections bound it: it bounds the bill.
pub const DEFAULT_MAX_INSTANCES: u32 = 10;

/// The database the deployment attaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    /// Which kind.
    pub kind: DatabaseKind,
    /// The Cloud SQL instance, for the Cloud SQL kinds.
    pub instance: Option<SqlInstance>,
    /// The database's name in the instance.
    pub name: String,
    /// The user the app connects as.
    pub user: String,
    /// The variable the settings read the URL from.
    pub var: String,
    /// The Secret Manager secret that holds the URL.
    pub secret: String,
    /// Whether the settings already read the URL themselves (`env.db()`, `dj_database_url`).
    pub read_by_project: bool,
}

impl Database {
    /// `--database-version` for `gcloud sql instances create`.
    pub fn version(&self) -> &'static str {
        match self.kind {
            DatabaseKind::CloudSqlMysql => "MYSQL_8_4",
            _ => "POSTGRES_17",
        }
    }

    /// The URL's scheme and how it reaches the instance's socket, as a template with
    /// `{password}` where the generated password goes. `None` for `url`, which the user
    /// gives.
    pub fn url_template(&self) -> Option<String> {
        let instance = self.instance.as_ref()?;
        let socket = format!("/cloudsql/{}", instance.connection_name());
        Some(match self.kind {
            DatabaseKind::CloudSqlMysql => format!(
                "mysql://{}:{{password}}@/{}?unix_socket={socket}",
                self.user, self.name
            ),
            _ => format!(
                "postgres://{}:{{password}}@/{}?host={socket}",
                self.user, self.name
            ),
        })
    }
}

/// The media bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// The bucket's name.
    pub bucket: String,
    /// Whether anyone may read the files (plain URLs) rather than only signed URLs.
    pub public: bool,
}

/// Where a secret's value comes from when djrun creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A random Django secret key.
    DjangoKey,
    /// The database URL, with a password djrun generates and sets on the user.
    DatabaseUrl,
    /// The user's own value: read from this variable of djrun's environment, or asked.
    FromUser,
}

/// One variable the deploy takes from Secret Manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// The environment variable.
    pub var: String,
    /// The secret's id.
    pub secret: String,
    /// Where its value comes from.
    pub source: SecretSource,
}

impl Secret {
    /// The Cloud Build substitution that holds the secret's pinned version (`latest` unless
    /// `djrun deploy` pins it).
    pub fn version_substitution(&self) -> String {
        format!("_{}_VERSION", self.var)
    }
}

/// The capacity choices, as given or saved (`None`: djrun's default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapacityChoices {
    /// `--cpu`: vCPUs per instance.
    pub cpu: Option<u32>,
    /// `--memory`, such as `512Mi` or `1Gi`.
    pub memory: Option<String>,
    /// `--min-instances`.
    pub min_instances: Option<u32>,
    /// `--max-instances`.
    pub max_instances: Option<u32>,
    /// `--db-max-connections`: the database's `max_connections`, where the tier's default
    /// is not it.
    pub db_max_connections: Option<u32>,
}

/// vCPU counts Cloud Run offers.
pub const CPUS: [u32; 5] = [1, 2, 4, 6, 8];
/// gunicorn threads per worker: as many as Cloud Run's guidance for Python starts with.
pub const THREADS: u32 = 8;
/// Memory per gunicorn worker djrun gives by default.
pub const MIB_PER_WORKER: u32 = 512;
/// Seconds in an average month.
const SECONDS_PER_MONTH: f64 = 2_629_800.0;
/// Cloud Run's list price for an idle minimum instance (request-based billing, tier 1
/// regions), per vCPU-second and per GiB-second.
const IDLE_VCPU_SECOND_USD: f64 = 0.000_002_5;
const IDLE_GIB_SECOND_USD: f64 = 0.000_002_5;

/// `512Mi` / `1Gi` / `2G` as MiB.
pub fn memory_mib(value: &str) -> std::result::Result<u32, String> {
    let digits: String = value.chars().take_while(|c| c.is_ascii_digit()).collect();
    let unit = &value[digits.len()..];
    let n: u32 = digits
        .parse()
        .map_err(|_| format!("`{value}` is not a memory size such as `512Mi` or `1Gi`"))?;
    let mib = match unit {
        "Mi" | "M" => n,
        "Gi" | "G" => n.saturating_mul(1024),
        _ => {
            return Err(format!(
                "`{value}` is not a memory size such as `512Mi` or `1Gi`"
            ))
        }
    };
    if !(128..=32768).contains(&mib) {
        return Err(format!(
            "`{value}` is outside what Cloud Run gives an instance (128Mi to 32Gi)"
        ));
    }
    Ok(mib)
}

/// How many requests an instance serves at once and how many instances there may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacity {
    /// vCPUs per instance.
    pub cpu: u32,
    /// Memory per instance, as `--memory` takes it.
    pub memory: String,
    /// gunicorn workers: one per vCPU (`WEB_CONCURRENCY`).
    pub workers: u32,
    /// Threads per worker.
    pub threads: u32,
    /// Requests Cloud Run sends one instance at once: workers x threads.
    pub concurrency: u32,
    /// Instances kept warm.
    pub min_instances: u32,
    /// The instance cap.
    pub max_instances: u32,
    /// The cap the database's connections allow, when there is one.
    pub budget: Option<u32>,
    /// The arithmetic behind the cap, in one line.
    pub arithmetic: String,
    /// What idle minimum instances cost a month, in whole US dollars.
    pub idle_monthly_usd: Option<u32>,
}

impl Capacity {
    /// The capacity for a deployment with `database`, given the choices.
    pub fn new(database: Option<DatabaseKind>, choices: &CapacityChoices) -> Capacity {
        let cpu = choices.cpu.unwrap_or(1);
        let workers = cpu;
        let threads = THREADS;
        let concurrency = workers * threads;
        let memory = choices
            .memory
            .clone()
            .unwrap_or_else(|| format!("{}Mi", MIB_PER_WORKER * workers));
        let per_instance = concurrency;
        let shape = format!(
            "{per_instance} per instance ({workers} worker{} x {threads} threads)",
            if workers == 1 { "" } else { "s" }
        );
        let (budget, why) = match database {
            Some(kind) if kind.is_cloud_sql() || choices.db_max_connections.is_some() => {
                let (total, source) = match choices.db_max_connections {
                    Some(n) => (n, "--db-max-connections".to_string()),
                    None => (TIER.max_connections, TIER.name.to_string()),
                };
                let usable = total.saturating_sub(RESERVED_CONNECTIONS + ADMIN_CONNECTIONS);
                let max = (usable / per_instance).max(1);
                (
                    Some(max),
                    format!(
                        "{source} allows {total} connections, less {RESERVED_CONNECTIONS} the server keeps and {ADMIN_CONNECTIONS} for the migrate job and admin, over {shape}"
                    ),
                )
            }
            _ => (None, format!("a cap that bounds the bill, {shape}")),
        };
        let default_max = budget.unwrap_or(DEFAULT_MAX_INSTANCES);
        let max_instances = choices.max_instances.unwrap_or(default_max);
        let arithmetic = match (choices.max_instances, budget) {
            (Some(n), _) => {
                format!("at most {n} instances, as --max-instances says; {why} gives {default_max}")
            }
            (None, _) => format!("at most {max_instances} instances: {why}"),
        };
        let min_instances = choices.min_instances.unwrap_or(0);
        let idle_monthly_usd = (min_instances > 0).then(|| {
            let gib = f64::from(memory_mib(&memory).unwrap_or(512)) / 1024.0;
            let usd = f64::from(min_instances)
                * (f64::from(cpu) * IDLE_VCPU_SECOND_USD + gib * IDLE_GIB_SECOND_USD)
                * SECONDS_PER_MONTH;
            usd.round() as u32
        });
        Capacity {
            cpu,
            memory,
            workers,
            threads,
            concurrency,
            min_instances,
            max_instances,
            budget,
            arithmetic,
            idle_monthly_usd,
        }
    }

    /// Whether `--max-instances` asks for more instances than the database can hold.
    pub fn over_budget(&self) -> Option<String> {
        let budget = self.budget?;
        (self.max_instances > budget).then(|| {
            format!(
                "--max-instances {} is more than the database's connections allow ({budget}): at full load, instances past {budget} fail to connect",
                self.max_instances
            )
        })
    }

    /// What minimum instances cost, for the plan.
    pub fn min_cost(&self) -> String {
        match self.idle_monthly_usd {
            Some(usd) => format!(
                "{} minimum instance{} kept warm: about ${usd} a month while idle, at list prices",
                self.min_instances,
                if self.min_instances == 1 { "" } else { "s" }
            ),
            None => "minimum instances 0: an idle service costs nothing, and the first request after idling waits for a cold start".to_string(),
        }
    }
}

/// Everything about the deployment in the cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The GCP project.
    pub project: String,
    /// The region.
    pub region: String,
    /// The Cloud Run service.
    pub service: String,
    /// The Artifact Registry repository.
    pub repository: &'static str,
    /// Whether anyone may call the service.
    pub public: bool,
    /// The runtime service account's id (the part before `@`).
    pub runtime_account: String,
    /// The id of the account the build deploys as.
    pub deployer_account: String,
    /// The folder, relative to the repository root, that the image is built from.
    pub context: String,
    /// Plain environment variables of the service and its jobs, as Cloud Build
    /// substitutions spell them.
    pub env: Vec<(String, String)>,
    /// Variables from Secret Manager, the secret key first.
    pub secrets: Vec<Secret>,
    /// The database, unless the settings keep their own.
    pub database: Option<Database>,
    /// The media bucket, when uploads go to Cloud Storage.
    pub media: Option<Media>,
    /// The job that runs migrations before traffic moves, when there is a database.
    pub migrate_job: Option<String>,
    /// Concurrency and the instance cap.
    pub capacity: Capacity,
    /// Custom domains the service answers on.
    pub domains: Vec<String>,
    /// The GitHub repository whose workflow deploys, with `--ci github`.
    pub github: Option<Github>,
    /// The secret the settings load their configuration from at start-up.
    pub settings_secret: Option<SettingsSecret>,
}

/// A Secret Manager secret the settings read themselves (a whole .env text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsSecret {
    /// The secret's id.
    pub secret: String,
    /// The variable of djrun's environment its value is read from when djrun creates it.
    pub var: String,
    /// Where the settings fetch it.
    pub file: String,
}

/// The service's own address, as Cloud Build substitutions spell it.
pub const SERVICE_HOST: &str = "${_SERVICE}-$PROJECT_NUMBER.${_REGION}.run.app";

impl Deployment {
    /// The deployment for `facts` and the resolved `options`.
    pub fn new(facts: &ProjectFacts, options: &Options) -> Result<Deployment> {
        let s = &facts.settings;
        let service = &options.service;
        let hosts: Vec<String> = std::iter::once(SERVICE_HOST.to_string())
            .chain(options.domains.iter().cloned())
            .collect();
        let origins: Vec<String> = hosts.iter().map(|h| format!("https://{h}")).collect();
        let mut env = vec![("CLOUDRUN_SERVICE_URLS".to_string(), origins.join(","))];
        if let Some(var) = &s.allowed_hosts_env {
            env.push((var.clone(), hosts.join(",")));
        }
        if let Some(var) = &s.csrf_origins_env {
            env.push((var.clone(), origins.join(",")));
        }
        // Variables that name the site itself get its address: the first custom domain,
        // else the service's own URL.
        for v in crate::configuration::variables(facts) {
            if v.provider == crate::configuration::Provider::ServiceUrl {
                let site = origins
                    .get(1)
                    .or(origins.first())
                    .cloned()
                    .unwrap_or_default();
                env.push((v.name, site));
            }
        }
        // The user's values, as Cloud Build reads them: `$$` is a `$`.
        for (name, value) in &options.env {
            if !env.iter().any(|(n, _)| n == name) {
                env.push((name.clone(), value.replace('$', "$$")));
            }
        }
        env.dedup_by(|a, b| a.0 == b.0);

        let database = if options.database.has_url() {
            let var = facts
                .database_url_env
                .clone()
                .unwrap_or_else(|| DATABASE_URL_VAR.to_string());
            Some(Database {
                kind: options.database,
                instance: options
                    .database
                    .is_cloud_sql()
                    .then(|| options.sql_instance.clone()),
                name: database_name(service),
                user: database_name(service),
                secret: secret_id(service, &var),
                var,
                read_by_project: facts.database_url_env.is_some(),
            })
        } else {
            None
        };

        let media = (options.media == MediaKind::Gcs).then(|| Media {
            bucket: options.bucket.clone(),
            public: options.public_media,
        });
        if let Some(m) = &media {
            env.push((BUCKET_VAR.to_string(), m.bucket.clone()));
        }

        let key_var = s
            .secret_key_env
            .clone()
            .unwrap_or_else(|| SECRET_KEY_VAR.to_string());
        let mut secrets = vec![Secret {
            var: key_var.clone(),
            secret: key_secret(service),
            source: SecretSource::DjangoKey,
        }];
        if let Some(db) = &database {
            secrets.push(Secret {
                var: db.var.clone(),
                secret: db.secret.clone(),
                source: if db.kind.is_cloud_sql() {
                    SecretSource::DatabaseUrl
                } else {
                    SecretSource::FromUser
                },
            });
        }
        for var in &options.secrets {
            if !secrets.iter().any(|x| x.var == *var) {
                secrets.push(Secret {
                    var: var.clone(),
                    secret: secret_id(service, var),
                    source: SecretSource::FromUser,
                });
            }
        }
        let set_by_deploy: Vec<&str> = env
            .iter()
            .map(|(k, _)| k.as_str())
            .chain(["K_SERVICE", "CLOUD_RUN_JOB"])
            .collect();
        for (var, _) in &s.build_values {
            if secrets.iter().any(|x| x.var == *var) || set_by_deploy.contains(&var.as_str()) {
                continue;
            }
            secrets.push(Secret {
                var: var.clone(),
                secret: secret_id(service, var),
                source: SecretSource::FromUser,
            });
        }

        // Settings that fetch their own configuration from Secret Manager: the secret exists,
        // the runtime account reads it, and the variables that select and name it are set.
        let settings_secret = s.settings_secret.as_ref().map(|found| {
            if let Some(guard) = &found.guard_env {
                env.push((guard.clone(), "${PROJECT_ID}".to_string()));
            }
            let secret = match (&found.secret, &found.secret_env) {
                (Some(id), _) => id.clone(),
                (None, Some(var)) => {
                    let id = format!("{service}-django-settings");
                    env.push((var.clone(), id.clone()));
                    id
                }
                (None, None) => format!("{service}-django-settings"),
            };
            let var = secret.to_ascii_uppercase().replace('-', "_");
            SettingsSecret {
                secret,
                var,
                file: found.file.clone(),
            }
        });
        env.dedup_by(|a, b| a.0 == b.0);
        let capacity = Capacity::new(database.as_ref().map(|d| d.kind), &options.capacity);
        if capacity.workers > 1 {
            env.push(("WEB_CONCURRENCY".to_string(), capacity.workers.to_string()));
        }
        Ok(Deployment {
            project: options.project.clone(),
            region: options.region.clone(),
            service: service.clone(),
            repository: REPOSITORY,
            public: options.public,
            runtime_account: runtime_account(service),
            deployer_account: service_account(service, "deploy"),
            context: facts.dependency_root.clone(),
            env,
            migrate_job: database.as_ref().map(|_| format!("{service}-migrate")),
            secrets,
            database,
            media,
            capacity,
            domains: options.domains.clone(),
            github: options.github.clone(),
            settings_secret,
        })
    }

    /// The runtime service account's email.
    pub fn runtime_email(&self) -> String {
        format!(
            "{}@{}.iam.gserviceaccount.com",
            self.runtime_account, self.project
        )
    }

    /// The build's service account's email.
    pub fn deployer_email(&self) -> String {
        format!(
            "{}@{}.iam.gserviceaccount.com",
            self.deployer_account, self.project
        )
    }

    /// The APIs the deployment uses.
    pub fn apis(&self) -> Vec<&'static str> {
        let mut apis = vec![
            "run.googleapis.com",
            "cloudbuild.googleapis.com",
            "artifactregistry.googleapis.com",
            "secretmanager.googleapis.com",
            "iam.googleapis.com",
        ];
        if self
            .database
            .as_ref()
            .is_some_and(|d| d.kind.is_cloud_sql())
        {
            apis.push("sqladmin.googleapis.com");
        }
        if self.media.as_ref().is_some_and(|m| !m.public) {
            apis.push("iamcredentials.googleapis.com");
        }
        apis
    }

    /// `--update-env-vars` / `--set-env-vars` value. gcloud splits it on commas, so where a
    /// value holds one (a list of hosts) the pairs are split on `;` instead, which gcloud's
    /// `^;^` prefix announces (`gcloud topic escaping`).
    pub fn env_flag_value(&self) -> String {
        env_flag(&self.env)
    }

    /// `--update-secrets` / `--set-secrets` value, each pinned to its version substitution.
    pub fn secrets_flag_value(&self) -> String {
        self.secrets
            .iter()
            .map(|s| format!("{}={}:${{{}}}", s.var, s.secret, s.version_substitution()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// What the settings need at build time beyond what the facts already give a value:
    /// the database URL and the bucket djrun's block reads.
    pub fn build_values(&self, database: BuildDatabase) -> Vec<(String, String)> {
        let mut values = Vec::new();
        if let Some(db) = &self.database {
            if !db.read_by_project {
                values.push((db.var.clone(), database.url().to_string()));
            }
        }
        if self.media.is_some() {
            values.push((BUCKET_VAR.to_string(), "build-only".to_string()));
        }
        values
    }
}

/// The GitHub repository a CI workflow deploys from, and how Google trusts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Github {
    /// `OWNER/NAME`.
    pub repository: String,
    /// The branch whose pushes deploy.
    pub branch: String,
}

/// The Workload Identity pool djrun creates for GitHub Actions, shared by a project's
/// repositories.
pub const WIF_POOL: &str = "djrun-github";

impl Github {
    /// The pool's provider for this repository: 4 to 32 lowercase letters, digits and hyphens.
    pub fn provider(&self) -> String {
        let name = self.repository.rsplit('/').next().unwrap_or("repo");
        let mut id: String = name
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        id.truncate(28);
        let id = id.trim_matches('-');
        format!("gh-{id}")
    }
}

/// Checks `OWNER/NAME` as GitHub spells repositories.
pub fn github_repository(value: &str) -> std::result::Result<(), String> {
    let ok_part = |p: &str| {
        !p.is_empty()
            && p.len() <= 100
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    match value.split_once('/') {
        Some((owner, name)) if ok_part(owner) && ok_part(name) && !name.contains('/') => Ok(()),
        _ => Err(format!(
            "`{value}` is not a GitHub repository: write it as OWNER/NAME, such as `acme/shop`"
        )),
    }
}

/// The GitHub repository `origin` points at, read from `.git/config` at `root`.
pub fn github_origin(root: &std::path::Path) -> Option<String> {
    let config = std::fs::read_to_string(root.join(".git/config")).ok()?;
    let mut in_origin = false;
    for line in config.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_origin = line == "[remote \"origin\"]";
        } else if in_origin {
            if let Some(url) = line
                .strip_prefix("url")
                .map(|r| r.trim_start_matches([' ', '=']))
            {
                let rest = url
                    .strip_prefix("https://github.com/")
                    .or_else(|| url.strip_prefix("git@github.com:"))
                    .or_else(|| url.strip_prefix("ssh://git@github.com/"))?;
                let repo = rest.trim_end_matches('/').trim_end_matches(".git");
                return github_repository(repo).is_ok().then(|| repo.to_string());
            }
        }
    }
    None
}

/// The branch `origin/HEAD` names, else the one checked out, at `root`.
pub fn default_branch(root: &std::path::Path) -> Option<String> {
    let read = |p: &str| std::fs::read_to_string(root.join(".git").join(p)).ok();
    let from = |text: String, prefix: &str| {
        text.trim()
            .strip_prefix(prefix)
            .map(str::to_string)
            .filter(|b| !b.is_empty())
    };
    read("refs/remotes/origin/HEAD")
        .and_then(|t| from(t, "ref: refs/remotes/origin/"))
        .or_else(|| read("HEAD").and_then(|t| from(t, "ref: refs/heads/")))
}

/// Regions where Cloud Run maps a custom domain to a service itself.
pub const DOMAIN_MAPPING_REGIONS: &[&str] = &[
    "asia-east1",
    "asia-northeast1",
    "asia-southeast1",
    "europe-north1",
    "europe-west1",
    "europe-west4",
    "us-central1",
    "us-east1",
    "us-east4",
    "us-west1",
];

/// Whether Cloud Run maps custom domains in `region`.
pub fn domain_mapping_region(region: &str) -> bool {
    DOMAIN_MAPPING_REGIONS.contains(&region)
}

/// `K=V` pairs as one `--set-env-vars` / `--update-env-vars` value: split on commas, or on
/// `;` with gcloud's `^;^` prefix (`gcloud topic escaping`) where a value holds a comma.
pub fn env_flag(pairs: &[(String, String)]) -> String {
    let joined: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if pairs.iter().any(|(_, v)| v.contains(',')) {
        format!("^;^{}", joined.join(";"))
    } else {
        joined.join(",")
    }
}

/// The secret that holds the service's Django secret key.
pub fn key_secret(service: &str) -> String {
    format!("{service}-django-secret-key")
}

/// The secret for `var`: `<service>-<var in lowercase with hyphens>`.
pub fn secret_id(service: &str, var: &str) -> String {
    format!("{service}-{}", var.to_ascii_lowercase().replace('_', "-"))
}

/// The runtime service account's id: `<service>-run`, within IAM's 6 to 30 characters.
pub fn runtime_account(service: &str) -> String {
    service_account(service, "run")
}

/// `<service>-<role>`, cut to IAM's 30 characters, padded to its 6.
pub fn service_account(service: &str, role: &str) -> String {
    let mut base = service.to_string();
    base.truncate(29 - role.len());
    let base = base.trim_end_matches('-');
    let id = format!("{base}-{role}");
    if id.len() < 6 {
        format!("{id}-sa")
    } else {
        id
    }
}

/// The database and user name for a service: letters, digits and underscores.
pub fn database_name(service: &str) -> String {
    let mut name: String = service
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    name.truncate(32);
    name
}

/// An error for a flag's bad value, with an example of a good one.
pub fn flag_error(flag: &str, why: String, example: &str) -> Error {
    Error::input_hint(format!("`{flag}`: {why}"), example.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_accounts_fit_iam_rules() {
        assert_eq!(runtime_account("mysite"), "mysite-run");
        assert_eq!(runtime_account("a"), "a-run-sa");
        assert_eq!(service_account("a", "deploy"), "a-deploy");
        let long = runtime_account(&"a".repeat(49));
        assert_eq!(long.len(), 30);
        assert!(long.ends_with("-run"));
        assert_eq!(
            runtime_account("abcdefghijklmnopqrstuvwxy-zz"),
            "abcdefghijklmnopqrstuvwxy-run"
        );
    }

    #[test]
    fn instances_parse_short_and_full() {
        let i = SqlInstance::parse("shop-db", "p-123456", "europe-west1").unwrap();
        assert_eq!(i.connection_name(), "p-123456:europe-west1:shop-db");
        let i =
            SqlInstance::parse("other-1234:us-central1:main", "p-123456", "europe-west1").unwrap();
        assert_eq!(i.connection_name(), "other-1234:us-central1:main");
        for bad in [
            "Shop",
            "1db",
            "db-",
            "a:b",
            "a b",
            "p-123456:europe-west1:x_y",
            "",
        ] {
            assert!(
                SqlInstance::parse(bad, "p-123456", "europe-west1").is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn buckets_default_to_project_and_service_within_63_characters() {
        assert_eq!(default_bucket("shop-prod", "web"), "shop-prod-web-media");
        let long = default_bucket(&"p".repeat(30), &"s".repeat(49));
        assert!(long.len() <= 63 && long.ends_with("-media"), "{long}");
        assert!(validate::bucket_name(&long).is_ok());
    }

    #[test]
    fn database_urls_reach_the_socket_cloud_run_mounts() {
        let db = Database {
            kind: DatabaseKind::CloudSqlPostgres,
            instance: Some(SqlInstance::default_for("shop", "p-123456", "europe-west1")),
            name: "shop".into(),
            user: "shop".into(),
            var: "DATABASE_URL".into(),
            secret: "shop-database-url".into(),
            read_by_project: false,
        };
        assert_eq!(
            db.url_template().unwrap(),
            "postgres://shop:{password}@/shop?host=/cloudsql/p-123456:europe-west1:shop-db"
        );
        let mysql = Database {
            kind: DatabaseKind::CloudSqlMysql,
            ..db.clone()
        };
        assert!(mysql
            .url_template()
            .unwrap()
            .starts_with("mysql://shop:{password}@/shop?unix_socket=/cloudsql/"));
        assert_eq!(
            Database {
                kind: DatabaseKind::Url,
                instance: None,
                ..db
            }
            .url_template(),
            None
        );
    }

    #[test]
    fn github_repositories_and_their_providers() {
        assert!(github_repository("acme/shop").is_ok());
        for bad in [
            "acme",
            "acme/",
            "/shop",
            "a/b/c",
            "acme/sh op",
            "acme/shop\nx",
        ] {
            assert!(github_repository(bad).is_err(), "{bad:?}");
        }
        let gh = Github {
            repository: "Acme/My_Shop.web".into(),
            branch: "main".into(),
        };
        assert_eq!(gh.provider(), "gh-my-shop-web");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(
            dir.path().join(".git/config"),
            "[core]\n\tbare = false\n[remote \"upstream\"]\n\turl = https://github.com/other/x.git\n[remote \"origin\"]\n\turl = git@github.com:acme/shop.git\n",
        )
        .unwrap();
        assert_eq!(github_origin(dir.path()).as_deref(), Some("acme/shop"));
        std::fs::write(dir.path().join(".git/HEAD"), "ref: refs/heads/trunk\n").unwrap();
        assert_eq!(default_branch(dir.path()).as_deref(), Some("trunk"));
    }

    #[test]
    fn database_names_are_identifiers() {
        assert_eq!(database_name("my-shop"), "my_shop");
        assert_eq!(database_name(&"x".repeat(49)).len(), 32);
    }
}
