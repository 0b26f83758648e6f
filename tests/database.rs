//! `init` with each database and media choice: what is written, what is saved, and what is
//! refused (exit 2, nothing changed on disk).

mod common;

use predicates::prelude::*;
use std::path::Path;

const FLAGS: &[&str] = &["--project", "demo-project-123", "--region", "europe-west1"];

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn init(dir: &Path, tmp: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    common::djrun(&tmp.join("gcloud"))
        .args(["init", "--yes"])
        .args(FLAGS)
        .args(extra)
        .arg(dir)
        .assert()
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
    // The build's collectstatic gets a throwaway database URL, not a real one.
    let dockerfile = read(&dir.join("Dockerfile"));
    assert!(dockerfile.contains("DATABASE_URL=sqlite:////tmp/build-only.sqlite3"));
    common::djrun(&tmp.path().join("gcloud"))
        .args(["init", "--check"])
        .arg(&dir)
        .assert()
        .code(0);
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
fn mysql_gets_mysqlclient_its_libraries_and_a_bucket_for_uploads() {
    let (tmp, dir) = common::copy_fixture("mysql-shop");
    init(&dir, tmp.path(), &[]).success().stderr(
        predicate::str::contains("--database-version=MYSQL_8_4").and(predicate::str::contains(
            "gcloud storage buckets create gs://demo-project-123-mysql-shop-media",
        )),
    );
    let requirements = read(&dir.join("requirements.txt"));
    assert!(requirements.contains("mysqlclient>=2.2"));
    assert!(requirements.contains("django-storages[google]>=1.14"));
    let dockerfile = read(&dir.join("Dockerfile"));
    assert!(dockerfile.contains("default-libmysqlclient-dev"));
    assert!(dockerfile.contains("libmariadb3"));
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
    common::djrun(&tmp.path().join("gcloud"))
        .args(["init", "--check"])
        .arg(&dir)
        .assert()
        .code(0);
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
