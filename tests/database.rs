//! `init` with each database and media choice: what is written, what is saved, and what is
//! refused (exit 2, nothing changed on disk).

mod common;

use predicates::prelude::*;
use std::path::Path;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn init(dir: &Path, tmp: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    common::init_yes(&tmp.join("gcloud"), dir, extra).assert()
}

#[test]
fn cloud_sql_postgres_is_saved_and_a_rerun_without_flags_changes_nothing() {
    let (tmp, dir) = common::copy_fixture("mysite");
    init(&dir, tmp.path(), &["--database", "cloudsql-postgres"])
        .success()
        .stderr(
            predicate::str::contains("gcloud sql instances create mysite-db")
                .and(predicate::str::contains(
                    "gcloud run jobs deploy mysite-createsuperuser",
                ))
                .and(predicate::str::contains("warning: the database is SQLite").not()),
        );
    let saved = read(&dir.join("djrun.toml"));
    assert!(
        saved.contains("database = \"cloudsql-postgres\""),
        "{saved}"
    );
    let cloudbuild = read(&dir.join("cloudbuild.yaml"));
    assert!(cloudbuild.contains("- --add-cloudsql-instances=${_SQL_INSTANCE}"));
    assert!(cloudbuild.contains("_SQL_INSTANCE: demo-project-123:europe-west1:mysite-db"));
    assert!(cloudbuild.contains("DATABASE_URL=mysite-database-url:${_DATABASE_URL_VERSION}"));
    // The migrate job comes after the push and before the service deploy.
    let push = cloudbuild.find("- id: push").unwrap();
    let migrate = cloudbuild.find("- id: migrate").unwrap();
    let deploy = cloudbuild.find("- id: deploy").unwrap();
    assert!(push < migrate && migrate < deploy);
    let requirements = read(&dir.join("requirements.txt"));
    assert!(requirements.contains("dj-database-url>=2.0"));
    assert!(requirements.contains("psycopg[binary]>=3.1"));
    // The build's collectstatic gets a placeholder URL of the deployment's engine with every
    // part a URL parser asks for, and nothing that connects: not a real one.
    let dockerfile = read(&dir.join("Dockerfile"));
    assert!(dockerfile.contains("DATABASE_URL=postgres://build:build@127.0.0.1:5432/build"));
    common::init_check(&tmp.path().join("gcloud"), &dir).code(0);
}

#[test]
fn an_external_database_url_attaches_no_instance() {
    let (tmp, dir) = common::copy_fixture("mysite");
    init(&dir, tmp.path(), &["--database", "url"])
        .success()
        .stderr(
            predicate::str::contains(
                "printf '%s' \"$DATABASE_URL\" | gcloud secrets create mysite-database-url",
            )
            .and(predicate::str::contains("sql instances create").not()),
        );
    let cloudbuild = read(&dir.join("cloudbuild.yaml"));
    assert!(!cloudbuild.contains("cloudsql"), "{cloudbuild}");
    assert!(cloudbuild.contains("- id: migrate"));
    let settings = read(&dir.join("mysite/settings.py"));
    assert!(settings.contains("dj_database_url.parse(os.environ[\"DATABASE_URL\"])"));
    assert!(!settings.contains("/cloudsql"));
}

#[test]
fn a_project_that_reads_its_database_url_keeps_its_own_parser() {
    let (tmp, dir) = common::copy_fixture("dburl-site");
    init(&dir, tmp.path(), &[]).success();
    let settings = read(&dir.join("blog/settings.py"));
    assert!(settings.contains("The settings read the database from DATABASE_URL"));
    assert!(!settings.contains("dj_database_url.parse"), "{settings}");
    assert!(settings.contains("DATABASES[\"default\"][\"CONN_HEALTH_CHECKS\"] = True"));
    // psycopg2-binary is a driver already: no second one.
    let requirements = read(&dir.join("requirements.txt"));
    assert!(!requirements.contains("psycopg[binary]"), "{requirements}");
    assert!(read(&dir.join("cloudbuild.yaml")).contains("- id: migrate"));
}

#[test]
fn mysql_gets_mysqlclient_built_in_the_full_image_and_a_bucket_for_uploads() {
    let (tmp, dir) = common::copy_fixture("mysql-shop");
    init(&dir, tmp.path(), &[]).success().stderr(
        predicate::str::contains("--database-version=MYSQL_8_4").and(predicate::str::contains(
            "gcloud storage buckets create gs://demo-project-123-mysql-shop-media",
        )),
    );
    let requirements = read(&dir.join("requirements.txt"));
    assert!(requirements.contains("mysqlclient>=2.2"));
    assert!(requirements.contains("django-storages[google]>=1.14"));
    // mysqlclient has no wheel for Linux: it compiles in the full image, which has its
    // headers, so the build stage installs none; the final stage installs the libmariadb the
    // build found it linked against.
    let dockerfile = read(&dir.join("Dockerfile"));
    assert!(
        dockerfile.contains("FROM python:3.14 AS build\n"),
        "{dockerfile}"
    );
    assert!(
        !dockerfile
            .contains("apt-get install -y --no-install-recommends default-libmysqlclient-dev"),
        "{dockerfile}"
    );
    assert!(
        dockerfile.contains("COPY --from=build /runtime-packages.txt /tmp/runtime-packages.txt\n"),
        "{dockerfile}"
    );
    assert!(dockerfile.contains("GS_BUCKET_NAME=build-only"));
    let cloudbuild = read(&dir.join("cloudbuild.yaml"));
    assert!(cloudbuild.contains("GS_BUCKET_NAME=demo-project-123-mysql-shop-media"));
    let settings = read(&dir.join("shop/settings.py"));
    assert!(settings
        .contains("\"default\": {\"BACKEND\": \"storages.backends.gcloud.GoogleCloudStorage\"}"));
    assert!(settings.contains("GS_IAM_SIGN_BLOB = True"));
    // Nothing to save: every choice is the detected default.
    assert!(!read(&dir.join("djrun.toml")).contains("database"));
}

#[test]
fn public_media_and_a_bucket_name_are_saved() {
    let (tmp, dir) = common::copy_fixture("mysql-shop");
    init(
        &dir,
        tmp.path(),
        &[
            "--public-media",
            "--bucket",
            "shop-uploads-1",
            "--media",
            "gcs",
        ],
    )
    .success()
    .stderr(predicate::str::contains(
        "--member=allUsers --role=roles/storage.objectViewer",
    ));
    let saved = read(&dir.join("djrun.toml"));
    assert!(saved.contains("bucket = \"shop-uploads-1\""), "{saved}");
    assert!(saved.contains("public-media = true"), "{saved}");
    assert!(read(&dir.join("shop/settings.py")).contains("GS_QUERYSTRING_AUTH = False"));
    common::init_check(&tmp.path().join("gcloud"), &dir).code(0);
}

#[test]
fn media_none_opts_out_of_the_bucket() {
    let (tmp, dir) = common::copy_fixture("mysql-shop");
    init(&dir, tmp.path(), &["--media", "none"]).success();
    assert!(!read(&dir.join("shop/settings.py")).contains("GoogleCloudStorage"));
    assert!(read(&dir.join("djrun.toml")).contains("media = \"none\""));
}

/// A startproject site whose default database is Oracle.
fn oracle_site() -> (tempfile::TempDir, std::path::PathBuf) {
    let (tmp, dir) = common::copy_fixture("mysite");
    let settings = dir.join("mysite/settings.py");
    let text = read(&settings).replace(
        "'ENGINE': 'django.db.backends.sqlite3'",
        "'ENGINE': 'django.db.backends.oracle'",
    );
    std::fs::write(&settings, text).unwrap();
    (tmp, dir)
}

#[test]
fn an_engine_cloud_sql_does_not_serve_is_refused_until_a_choice_is_made() {
    let (tmp, dir) = oracle_site();
    let before = common::tree(&dir);
    init(&dir, tmp.path(), &[]).code(2).stderr(
        predicate::str::contains(
            "`mysite/settings.py` line 75 uses the database engine `django.db.backends.oracle`",
        )
        .and(predicate::str::contains("--database url"))
        .and(predicate::str::contains("--database none")),
    );
    assert_eq!(common::tree(&dir), before, "nothing changed on disk");
    init(&dir, tmp.path(), &["--database", "url"]).success();
    assert!(read(&dir.join("mysite/settings.py")).contains("dj_database_url.parse"));
}

#[test]
fn bad_database_values_name_the_flag_and_change_nothing() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let before = common::tree(&dir);
    for (flags, expected) in [
        (
            &["--database", "postgres"][..],
            "`--database`: `postgres` is not one of",
        ),
        (
            &[
                "--database",
                "cloudsql-postgres",
                "--sql-instance",
                "Shop_DB",
            ][..],
            "`--sql-instance`",
        ),
        (
            &["--database", "cloudsql-postgres", "--sql-instance", "a:b"][..],
            "neither NAME nor PROJECT:REGION:NAME",
        ),
        (
            &["--media", "gcs", "--bucket", "my.bucket"][..],
            "`--bucket`",
        ),
        (
            &["--media", "s3"][..],
            "`--media`: `s3` is not one of gcs, none",
        ),
    ] {
        init(&dir, tmp.path(), flags)
            .code(2)
            .stderr(predicate::str::contains(expected));
        assert_eq!(common::tree(&dir), before, "{flags:?} changed the tree");
    }
}

#[test]
fn a_saved_instance_in_another_project_is_used_whole() {
    let (tmp, dir) = common::copy_fixture("mysite");
    init(
        &dir,
        tmp.path(),
        &[
            "--database",
            "cloudsql-postgres",
            "--sql-instance",
            "shared-db-1234:us-central1:main",
        ],
    )
    .success();
    let saved = read(&dir.join("djrun.toml"));
    assert!(
        saved.contains("sql-instance = \"shared-db-1234:us-central1:main\""),
        "{saved}"
    );
    assert!(read(&dir.join("cloudbuild.yaml"))
        .contains("_SQL_INSTANCE: shared-db-1234:us-central1:main"));
}

#[test]
fn custom_domains_join_the_hosts_are_saved_and_mapped_where_the_region_can() {
    let (tmp, dir) = common::copy_fixture("environ-settings");
    init(
        &dir,
        tmp.path(),
        &["--domain", "www.example.com", "--domain", "example.com"],
    )
    .success()
    .stderr(
        predicate::str::contains(
            "gcloud beta run domain-mappings create --service=environ-settings --domain=www.example.com --region=europe-west1",
        )
        .and(predicate::str::contains("--domain=example.com")),
    );
    let saved = read(&dir.join("djrun.toml"));
    assert!(
        saved.contains("domains = [\"www.example.com\", \"example.com\"]"),
        "{saved}"
    );
    // The settings read ALLOWED_HOSTS and CSRF_TRUSTED_ORIGINS from the environment: the
    // deploy gives them every host, split on `;` since the lists hold commas.
    let cloudbuild = read(&dir.join("cloudbuild.yaml"));
    let env = cloudbuild
        .lines()
        .find_map(|l| l.trim().strip_prefix("- --update-env-vars="))
        .unwrap();
    assert_eq!(
        env,
        "^;^CLOUDRUN_SERVICE_URLS=https://${_SERVICE}-$PROJECT_NUMBER.${_REGION}.run.app,https://www.example.com,https://example.com;\
         ALLOWED_HOSTS=${_SERVICE}-$PROJECT_NUMBER.${_REGION}.run.app,www.example.com,example.com;\
         CSRF_TRUSTED_ORIGINS=https://${_SERVICE}-$PROJECT_NUMBER.${_REGION}.run.app,https://www.example.com,https://example.com"
    );
    common::init_check(&tmp.path().join("gcloud"), &dir).code(0);
    // A domain added to cloudbuild.yaml by hand, and to no setting, is drift.
    std::fs::write(
        dir.join("cloudbuild.yaml"),
        cloudbuild.replace("https://example.com", "https://shop.example.com"),
    )
    .unwrap();
    common::init_check(&tmp.path().join("gcloud"), &dir)
        .code(1)
        .stderr(predicate::str::contains("cloudbuild.yaml"));
}

#[test]
fn a_region_without_domain_mappings_says_which_route_fits() {
    let (tmp, dir) = common::copy_fixture("mysite");
    common::djrun(&tmp.path().join("gcloud"))
        .args(["init", "--yes", "--project", "demo-project-123"])
        .args(["--region", "us-west2", "--domain", "www.example.com"])
        .arg(&dir)
        .assert()
        .success()
        .stderr(
            predicate::str::contains("Application Load Balancer")
                .and(predicate::str::contains("domain-mappings create").not()),
        );
    assert!(read(&dir.join("cloudbuild.yaml")).contains("https://www.example.com"));
}

#[test]
fn bad_domains_are_refused() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let before = common::tree(&dir);
    for bad in [
        "https://www.example.com",
        "localhost",
        "Example.com",
        "a..b",
        "x.com/path",
    ] {
        init(&dir, tmp.path(), &["--domain", bad])
            .code(2)
            .stderr(predicate::str::contains("`--domain`"));
    }
    assert_eq!(common::tree(&dir), before);
}

#[test]
fn the_settings_pass_djangos_deployment_check_on_cloud_run_only() {
    let (tmp, dir) = common::copy_fixture("mysite");
    init(&dir, tmp.path(), &[]).success();
    let settings = read(&dir.join("mysite/settings.py"));
    let block = &settings[settings.find("# >>> djrun").unwrap()..];
    for line in [
        "    SECURE_SSL_REDIRECT = True",
        "    SECURE_HSTS_SECONDS = int(os.environ.get(\"DJANGO_HSTS_SECONDS\", \"3600\"))",
        "    SECURE_HSTS_PRELOAD = SECURE_HSTS_INCLUDE_SUBDOMAINS",
    ] {
        assert!(block.contains(line), "{line}\n{block}");
    }
}

/// The value of `- --FLAG=` in the deploy step of a cloudbuild.yaml.
fn deploy_flag(cloudbuild: &str, flag: &str) -> String {
    let deploy = &cloudbuild[cloudbuild.find("- id: deploy").unwrap()..];
    deploy
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("- --{flag}=")))
        .unwrap_or_else(|| panic!("no --{flag} in\n{deploy}"))
        .to_string()
}

#[test]
fn concurrency_follows_the_workers_and_the_cap_follows_the_database() {
    let (tmp, dir) = common::copy_fixture("notes-postgres");
    let out = init(&dir, tmp.path(), &["--cpu", "2"]).success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let cloudbuild = read(&dir.join("cloudbuild.yaml"));
    assert_eq!(deploy_flag(&cloudbuild, "cpu"), "2");
    assert_eq!(deploy_flag(&cloudbuild, "memory"), "1024Mi");
    assert_eq!(deploy_flag(&cloudbuild, "concurrency"), "16");
    assert_eq!(deploy_flag(&cloudbuild, "min-instances"), "0");
    // (50 - 5 - 3) / 16 = 2: the line init prints says so, and the flag is that number.
    assert_eq!(deploy_flag(&cloudbuild, "max"), "2");
    assert!(
        stderr.contains("Capacity: at most 2 instances: db-g1-small allows 50 connections, less 5 the server keeps and 3 for the migrate job and admin, over 16 per instance (2 workers x 8 threads)"),
        "{stderr}"
    );
    // gunicorn runs the workers the concurrency counts.
    assert!(deploy_flag(&cloudbuild, "update-env-vars").contains("WEB_CONCURRENCY=2"));
    let saved = read(&dir.join("djrun.toml"));
    assert!(saved.contains("cpu = 2"), "{saved}");
    // inspect prints the same arithmetic for the defaults (1 worker).
    common::djrun(&tmp.path().join("gcloud"))
        .args(["inspect"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "at most 5 instances: db-g1-small allows 50 connections",
        ));
    common::init_check(&tmp.path().join("gcloud"), &dir).code(0);
}

#[test]
fn a_cap_beyond_the_database_budget_is_kept_with_a_warning_and_min_instances_say_their_cost() {
    let (tmp, dir) = common::copy_fixture("notes-postgres");
    init(
        &dir,
        tmp.path(),
        &["--max-instances", "20", "--min-instances", "1"],
    )
    .success()
    .stderr(
        predicate::str::contains(
            "warning: --max-instances 20 is more than the database's connections allow (5)",
        )
        .and(predicate::str::contains(
            "1 minimum instance kept warm: about $10 a month while idle",
        )),
    );
    let cloudbuild = read(&dir.join("cloudbuild.yaml"));
    assert_eq!(deploy_flag(&cloudbuild, "max"), "20");
    assert_eq!(deploy_flag(&cloudbuild, "min-instances"), "1");
}

#[test]
fn the_database_connections_can_be_given() {
    let (tmp, dir) = common::copy_fixture("notes-postgres");
    init(&dir, tmp.path(), &["--db-max-connections", "200"]).success();
    // (200 - 8) / 8 = 24.
    assert_eq!(
        deploy_flag(&read(&dir.join("cloudbuild.yaml")), "max"),
        "24"
    );
    // Without a database, a modest cap bounds the bill.
    let (tmp, dir) = common::copy_fixture("mysite");
    init(&dir, tmp.path(), &[]).success();
    assert_eq!(
        deploy_flag(&read(&dir.join("cloudbuild.yaml")), "max"),
        "10"
    );
}

#[test]
fn bad_capacity_values_name_the_flag_and_change_nothing() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let before = common::tree(&dir);
    for (flags, expected) in [
        (
            &["--cpu", "3"][..],
            "`--cpu`: Cloud Run offers 1, 2, 4, 6 or 8 vCPUs, not 3",
        ),
        (&["--memory", "12"][..], "`--memory`"),
        (&["--memory", "64Gi"][..], "outside what Cloud Run gives"),
        (&["--max-instances", "0"][..], "`--max-instances`"),
        (
            &["--min-instances", "3", "--max-instances", "2"][..],
            "more than the cap of 2",
        ),
    ] {
        init(&dir, tmp.path(), flags)
            .code(2)
            .stderr(predicate::str::contains(expected));
        assert_eq!(common::tree(&dir), before, "{flags:?}");
    }
}

#[test]
fn settings_that_load_a_secret_themselves_get_it_made_readable_and_selected() {
    let (tmp, dir) = common::copy_fixture("gcp-secret-settings");
    init(&dir, tmp.path(), &[]).success().stderr(
        predicate::str::contains("printf '%s' \"$DJANGO_SETTINGS\" | gcloud secrets create django_settings")
            .and(predicate::str::contains(
                "gcloud secrets add-iam-policy-binding django_settings --member=serviceAccount:gcp-secret-settings-run@demo-project-123.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor",
            )),
    );
    let cloudbuild = read(&dir.join("cloudbuild.yaml"));
    assert!(
        deploy_flag(&cloudbuild, "update-env-vars").contains("GOOGLE_CLOUD_PROJECT=${PROJECT_ID}")
    );
    // The build never selects Secret Manager: collectstatic takes the local branch.
    let dockerfile = read(&dir.join("Dockerfile"));
    assert!(!dockerfile.contains("GOOGLE_CLOUD_PROJECT"), "{dockerfile}");
}

#[test]
fn settings_included_from_a_path_djrun_cannot_read_get_their_hosts_from_the_block() {
    let (tmp, dir) = common::copy_fixture("split-settings");
    init(&dir, tmp.path(), &[])
        .success()
        .stderr(predicate::str::contains(
            "includes settings djrun cannot read",
        ));
    let facts = djrun::inspect::inspect(&dir).unwrap();
    let settings = read(&dir.join(&facts.settings_file));
    let block = &settings[settings.find("# >>> djrun").unwrap()..];
    assert!(
        block.contains("    ALLOWED_HOSTS = [urlsplit(url).hostname for url in _djrun_urls]"),
        "{block}"
    );
}

#[test]
fn the_settings_module_can_be_chosen_and_is_saved() {
    let (tmp, dir) = common::copy_fixture("cookiecutter-split");
    init(&dir, tmp.path(), &["--settings", "config.settings.local"]).success();
    assert!(read(&dir.join("Dockerfile")).contains("DJANGO_SETTINGS_MODULE=config.settings.local"));
    assert!(
        read(&dir.join("config/settings/local.py")).contains("# >>> djrun: Cloud Run settings >>>")
    );
    let saved = read(&dir.join("djrun.toml"));
    assert!(
        saved.contains("settings = \"config.settings.local\""),
        "{saved}"
    );
    common::init_check(&tmp.path().join("gcloud"), &dir).code(0);
    let before = common::tree(&dir);
    init(
        &dir,
        tmp.path(),
        &["--settings", "config.settings.local.py"],
    )
    .code(2)
    .stderr(predicate::str::contains("`--settings`"));
    assert_eq!(common::tree(&dir), before);
}

#[test]
fn a_server_the_project_ships_is_named_with_what_runs_instead() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let reqs = dir.join("requirements.txt");
    std::fs::write(&reqs, format!("{}uwsgi>=2.0\n", read(&reqs))).unwrap();
    init(&dir, tmp.path(), &[])
        .success()
        .stderr(predicate::str::contains(
            "warning: the project ships uWSGI; the image runs gunicorn instead",
        ));
    common::djrun(&tmp.path().join("gcloud"))
        .args(["inspect"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "server note  the project ships uWSGI",
        ));
}
