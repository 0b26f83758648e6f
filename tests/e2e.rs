//! End-to-end tier: `djrun init` on a real Django project, then build the image from the files
//! it wrote, run that image the way the generated cloudbuild.yaml deploys it, and talk HTTP to it.
//!
//! ```sh
//! bash tests/e2e/setup.sh          # once per machine: buildah, python:3.13(-slim) stand-ins, tools
//! cargo test --test e2e -- --ignored --test-threads=1
//! ```
//!
//! The harness uses a Docker engine when `docker info` succeeds, else buildah (overlay storage
//! in a store of the tier's own under the setup cache, chroot isolation, `--pull-never`), and
//! says which on stderr. No engine at all is a failure, never a skip. Every test here is
//! `#[ignore]` so that a plain `cargo test` stays fast.
//!
//! What "the way cloudbuild.yaml deploys it" means here, all read from the generated file:
//! the upload is what `gcloud builds submit` would send (`gcloud meta list-files-for-upload`,
//! so `.gcloudignore` applies); the image is built from the build step's context; the
//! container gets the deploy step's `--update-env-vars`, a test value for each of its
//! `--update-secrets`, and what Cloud Run itself sets (`PORT`, `K_SERVICE`, `K_REVISION`,
//! `K_CONFIGURATION`).
//!
//! With a database, the `id: migrate` step's job runs first, exactly as the step says
//! (`--command`/`--args`, its `--set-env-vars` and `--set-secrets`, `CLOUD_RUN_JOB` and the
//! other job variables), against a throwaway PostgreSQL server whose socket sits where Cloud
//! Run mounts the Cloud SQL instance (`/cloudsql/PROJECT:REGION:INSTANCE`); a failed job stops
//! the case before the service starts, as it stops the build before the deploy step. With
//! media, gcp-storage-emulator holds the bucket on loopback (`STORAGE_EMULATOR_HOST`), and
//! proxy and metadata-server variables point at a local trap, so that a request meant for a
//! Google host is caught on this machine and reported, never sent. `DJRUN_E2E_DJRUN` runs the
//! tier against another build of djrun.
//!
//! A new fixture project is one more test calling [`Case::run`].

use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tempfile::TempDir;

const PROJECT_ID: &str = "demo-project-123";
const REGION: &str = "europe-west1";
/// Stands in for `$PROJECT_NUMBER` in the service URL the deploy passes.
const PROJECT_NUMBER: &str = "123456789012";
/// Stands in for `$BUILD_ID`.
const BUILD_ID: &str = "e2e-build-0001";
/// What the test gives a secret that looks like a database URL.
const DATABASE_URL_VALUE: &str = "sqlite:////tmp/e2e-db.sqlite3";
/// What the test gives every other secret, and the settings module's own value.
const OTHER_SECRET_VALUE: &str = "e2e-value";
/// Written to a local `.env` next to the project; `.gcloudignore` and `.dockerignore` must
/// keep it out.
const DOTENV_SECRET: &str = "dotenv-secret-must-stay-local";
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// What buildah prints when the kernel refuses to seal its in-memory copy of itself.
const BUILDAH_SEAL_FLAKE: &str = "sealing memfd copy: Device or resource busy";
const SETUP_HINT: &str = "run `bash tests/e2e/setup.sh` (as root) first";

/// Progress lines go straight to stderr, past libtest's capture: a slow tier should say
/// what it is doing, and which engine it uses, even when it passes.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), "e2e: {}", format_args!($($arg)*));
    }};
}

// ---------------------------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn mysite_builds_and_serves_like_cloud_run() {
    // The stand-in base image has Python 3.13, so the image is pinned to match. The only
    // case that rebuilds after a code change: one is enough to test the layer order.
    Case::new("examples/mysite")
        .init_args(&["--python", "3.13"])
        .imports(&["gunicorn", "whitenoise"])
        .manage_check_deploy()
        .rebuild_after_code_change()
        .run()
        .assert_passed();
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn uv_groups_locks_with_uv_and_leaves_dev_groups_out() {
    // djrun adds gunicorn and whitenoise to pyproject.toml and runs `uv lock` itself when uv
    // is on PATH; the build's `uv sync --locked` then proves the lock matches.
    Case::new("tests/fixtures/uv-groups")
        .init_args(&["--python", "3.13"])
        .uv_on_path()
        .after_init(|o| {
            let said_so = o.init_stderr.lines().any(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("`uv lock`") && (l.contains("running") || l.contains("ran"))
            });
            let stderr = o.init_stderr.clone();
            o.check(said_so, || {
                format!("djrun's stderr does not say it ran `uv lock`:\n{stderr}")
            });
            let lock = fs::read_to_string(o.project.join("uv.lock")).unwrap_or_default();
            o.check(lock.contains("name = \"gunicorn\""), || {
                "uv.lock has no `name = \"gunicorn\"` after `djrun init`: the lock was not updated"
                    .to_string()
            });
        })
        .in_image(
            "django is installed",
            "/venv/bin/python -c 'import django'",
            Expect::Succeeds,
        )
        .in_image(
            "the dev group (pytest-django) is not installed",
            "/venv/bin/python -c 'import pytest_django'",
            Expect::FailsWith("ModuleNotFoundError"),
        )
        .in_image(
            "the lint group (ruff) is not installed",
            "/venv/bin/python -c 'import ruff'",
            Expect::FailsWith("ModuleNotFoundError"),
        )
        .run()
        .assert_passed();
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn poetry2_exports_main_dependencies_only() {
    // `[project]` with `requires-python = ">=3.11,<3.14"`; gunicorn and whitenoise are
    // listed already, so the lock stays as it is and `poetry check --lock` must pass.
    Case::new("tests/fixtures/poetry2")
        .init_args(&["--python", "3.13"])
        .in_image(
            "django is installed",
            "/venv/bin/python -c 'import django'",
            Expect::Succeeds,
        )
        .in_image(
            "the dev group (pytest) is not installed",
            "/venv/bin/python -c 'import pytest'",
            Expect::FailsWith("ModuleNotFoundError"),
        )
        .run()
        .assert_passed();
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn cookiecutter_split_settings_run_production_with_compiled_psycopg() {
    // `.python-version` says 3.12; the stand-in has only 3.13, hence `--python 3.13`.
    // Its settings require DJANGO_ADMIN_URL with no default and no example file: the user
    // gives it, as `init` asks.
    Case::new("tests/fixtures/cookiecutter-split")
        .init_args(&["--python", "3.13", "--env", "DJANGO_ADMIN_URL=admin/"])
        .deploy_secret("DATABASE_URL")
        .image_env("DJANGO_SETTINGS_MODULE", "config.settings.production")
        .in_image(
            "psycopg uses its C implementation (compiled in the build stage, libpq at run time)",
            "python -c 'import psycopg; print(psycopg.pq.__impl__)'",
            Expect::Prints("c"),
        )
        .in_image(
            "the final image has no C compiler",
            NO_COMPILER,
            Expect::PrintsNothing,
        )
        .run()
        .assert_passed();
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn monorepo_builds_the_backend_folder_cloudbuild_names() {
    // manage.py lives in backend/; cloudbuild.yaml at the repository root builds `backend`.
    Case::new("tests/fixtures/monorepo")
        .init_args(&["--python", "3.13"])
        .build_context("backend")
        .run()
        .assert_passed();
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn asgi_only_serves_its_asgi_application_with_uvicorn_workers() {
    // No WSGI_APPLICATION and no wsgi.py: gunicorn runs uvicorn's workers over asgi.py.
    Case::new("tests/fixtures/asgi-only")
        .init_args(&["--python", "3.13"])
        // No admin here: the project's own streaming view, three events a second apart.
        .probe_paths("/scores/stream/", None)
        .imports(&["uvicorn", "uvicorn_worker", "gunicorn"])
        .in_image(
            "the worker class gunicorn runs is importable",
            "python -c 'import uvicorn_worker'",
            Expect::Succeeds,
        )
        .run()
        .assert_passed();
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn compressor_offline_serves_the_css_compress_wrote() {
    // COMPRESS_OFFLINE: the page renders only when `manage.py compress` ran in the build
    // (else django-compressor raises OfflineGenerationError: a 500), and links the file it
    // wrote into STATIC_ROOT, which WhiteNoise must serve.
    Case::new("tests/fixtures/compressor-offline")
        .init_args(&["--python", "3.13"])
        .probe_paths("/", Some("/static/css/site.css"))
        .imports(&["compressor"])
        .page_links_asset("/", "/static/CACHE/css/output.")
        .run()
        .assert_passed();
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn asgi_package_serves_the_application_its_own_dockerfile_runs() {
    // The ASGI application is a package (`relay/asgi/__init__.py`), no setting names it, and
    // the project's own Dockerfile (which djrun replaces, hence --force) and Procfile run it.
    Case::new("tests/fixtures/asgi-package")
        .init_args(&["--python", "3.13", "--force"])
        .after_init(|o| {
            let dockerfile = fs::read_to_string(o.project.join("Dockerfile")).unwrap_or_default();
            let cmd = dockerfile
                .lines()
                .find(|l| l.starts_with("CMD "))
                .unwrap_or_default()
                .to_string();
            o.check(
                cmd.contains("\"uvicorn_worker.UvicornWorker\"")
                    && cmd.ends_with("\"relay.asgi:application\"]"),
                || format!("the generated Dockerfile does not run `relay.asgi:application` on uvicorn's workers: {cmd}"),
            );
        })
        .probe_paths("/status/", None)
        .imports(&["uvicorn", "uvicorn_worker", "gunicorn"])
        .in_image(
            "the package's application, behind its middleware, is what the settings load",
            "python -c 'import django; django.setup(); from relay.asgi import application; \
             from relay.asgi.stamp import RelayStamp; assert isinstance(application, RelayStamp)'",
            Expect::Succeeds,
        )
        .run()
        .assert_passed();
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn sass_processor_serves_the_css_compilescss_wrote() {
    // With DEBUG off, {% sass_src %} names the .css that `manage.py compilescss` wrote beside
    // the .scss, under the hashed name collectstatic gave it: both must have run, in order.
    Case::new("tests/fixtures/sass-processor")
        .init_args(&["--python", "3.13"])
        .probe_paths("/", None)
        .imports(&["sass_processor", "sass"])
        // libsass's wheel ships its own test suite as a top-level module.
        .import_fails_with("sasstests", "No module named 'pytest'")
        .page_links_asset("/", "/static/css/site.")
        .run()
        .assert_passed();
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn settings_package_empty_init_runs_the_module_its_compose_file_names() {
    // manage.py and wsgi.py name `pantry.settings`, whose `__init__.py` is empty; the Compose
    // file and `.env.example` name `pantry.settings.cloud`, which the image runs with.
    Case::new("tests/fixtures/settings-package-empty-init")
        .init_args(&["--python", "3.13"])
        .after_init(|o| {
            let cloud =
                fs::read_to_string(o.project.join("pantry/settings/cloud.py")).unwrap_or_default();
            o.check(
                cloud.contains("# >>> djrun: Cloud Run settings >>>"),
                || "djrun did not add its settings block to `pantry/settings/cloud.py`".to_string(),
            );
            let init = fs::read(o.project.join("pantry/settings/__init__.py")).unwrap_or_default();
            o.check(init.is_empty(), || {
                "djrun wrote into the empty `pantry/settings/__init__.py`".to_string()
            });
        })
        .in_image(
            "the container runs with `pantry.settings.cloud`",
            "python -c 'from django.conf import settings; import os; \
             assert os.environ[\"DJANGO_SETTINGS_MODULE\"] == \"pantry.settings.cloud\"; \
             assert settings.SESSION_COOKIE_SECURE'",
            Expect::Succeeds,
        )
        .run()
        .assert_passed();
}

/// A fixture whose gunicorn and whitenoise live in a `prod` group beside a `dev` group with
/// pytest-django: djrun adds nothing, and the image has the one group and not the other.
fn server_group_case(fixture: &'static str) -> Case {
    Case::new(fixture)
        .init_args(&["--python", "3.13"])
        .in_image(
            "the prod group's gunicorn and whitenoise are installed",
            "/venv/bin/python -c 'import gunicorn, whitenoise'",
            Expect::Succeeds,
        )
        .in_image(
            "the dev group (pytest-django) is not installed",
            "/venv/bin/python -c 'import pytest_django'",
            Expect::FailsWith("ModuleNotFoundError"),
        )
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn staff_directory_compiles_its_drivers_and_gets_the_libraries_they_link() {
    // psycopg2, mysqlclient and python-ldap publish no wheel for Linux: they compile in the
    // build stage (python-ldap against headers the Dockerfile adds to the full image), and
    // the final stage installs the libraries they link, as the build found them. The migrate
    // job runs through the compiled psycopg2; the settings import python-ldap, so every
    // command of the image (collectstatic in the build too) loads libldap.
    Case::new("tests/fixtures/staff-directory")
        .init_args(&["--database", "cloudsql-postgres"])
        .cloudsql_postgres()
        .deploy_secret("DATABASE_URL")
        .deploy_secret("DJANGO_SECRET_KEY")
        .tables(&["people_person", "django_migrations", "auth_user"])
        .imports(&["psycopg2", "MySQLdb", "ldap", "_ldap", "django_auth_ldap"])
        .in_image(
            "psycopg2's C module links the system's libpq, not a copy in /venv",
            "ldd \"$(python -c 'import psycopg2._psycopg as m; print(m.__file__)')\" \
             | awk '$1 == \"libpq.so.5\" { print ($3 ~ /^\\/venv\\//) ? \"in /venv\" : \"system\" }'",
            Expect::Prints("system"),
        )
        .in_image(
            "the libraries the compiled modules link are installed, none of their headers",
            "dpkg-query -W -f='${db:Status-Status} ${Package}\\n' 2>/dev/null \
             | awk '$1 == \"installed\" && $2 ~ /^(libpq5|libmariadb3|libldap2|libsasl2-2|libpq-dev|libmariadb-dev|libldap-dev|libldap2-dev|libsasl2-dev)$/ { print $2 }' \
             | sort | tr '\\n' ' '",
            Expect::Prints("libldap2 libmariadb3 libpq5 libsasl2-2"),
        )
        .in_image(
            "python-ldap runs on OpenLDAP's library",
            "python -c 'import ldap; print(ldap.get_option(ldap.OPT_API_INFO)[\"vendor_name\"])'",
            Expect::Prints("OpenLDAP"),
        )
        .in_image(
            "the final image has no C compiler",
            NO_COMPILER,
            Expect::PrintsNothing,
        )
        .run()
        .assert_passed();
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn a_server_in_a_dependency_group_is_installed_from_that_group() {
    // uv: `uv sync --group prod`.
    server_group_case("tests/fixtures/uv-server-group")
        .run()
        .assert_passed();
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn a_server_in_a_poetry_group_is_exported_with_the_main_dependencies() {
    // Poetry's optional group: `poetry export --only main,prod`.
    server_group_case("tests/fixtures/poetry-server-group")
        .run()
        .assert_passed();
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn a_project_in_src_builds_from_the_root_that_holds_its_dependencies() {
    // manage.py in src/, pyproject.toml and uv.lock at the root, and no settings default in
    // manage.py or wsgi.py: the root is the build context, the app runs from src/, and the
    // settings module comes from the root's pytest configuration.
    Case::new("tests/fixtures/src-layout")
        .build_context(".")
        // djrun adds gunicorn and whitenoise to the root's pyproject.toml and runs `uv lock`
        // there; the build's `uv sync --locked` proves the lock matches.
        .uv_on_path()
        .after_init(|o| {
            let lock = fs::read_to_string(o.project.join("uv.lock")).unwrap_or_default();
            o.check(lock.contains("name = \"gunicorn\""), || {
                "the root's uv.lock has no gunicorn after `djrun init`: `uv lock` did not run there"
                    .to_string()
            });
        })
        .in_image(
            "manage.py runs from the image's working directory",
            "python manage.py check --deploy --fail-level ERROR",
            Expect::Succeeds,
        )
        .in_image(
            "the image runs from src/",
            "test \"$(pwd)\" = /app/src && test -f /app/pyproject.toml",
            Expect::Succeeds,
        )
        .in_image(
            "the dev group (pytest-django) is not installed",
            "/venv/bin/python -c 'import pytest_django'",
            Expect::FailsWith("ModuleNotFoundError"),
        )
        .run()
        .assert_passed();
}

/// Prints the C compilers the image has: none, for the image that runs.
const NO_COMPILER: &str =
    "for f in /usr/bin/gcc /usr/bin/cc /usr/bin/*-gcc /usr/bin/*-gcc-[0-9]*; do \
     if [ -e \"$f\" ]; then echo \"$f\"; fi; done; \
     command -v gcc || command -v cc || true";

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn local_packages_of_a_requirements_file_install_in_place_after_the_dependencies() {
    // `./packages/reports` (continued on the next line), `file:packages/audit` and a
    // committed wheel: the dependency layer installs the rest, the packages come in place
    // once their code is copied, and /venv points at the code the image runs.
    Case::new("tests/fixtures/pip-path-packages")
        .init_args(&["--python", "3.13"])
        .in_image(
            "the local packages import from the code the image runs, not from a copy in /venv",
            "python -c 'import reports, audit; print(reports.__file__.startswith(\"/app/packages/reports/\") and audit.__file__.startswith(\"/app/packages/audit/\"))'",
            Expect::Prints("True"),
        )
        .in_image(
            "the committed wheel is installed",
            "python -c 'import importlib.metadata as m; print(m.version(\"depot-colors\"))'",
            Expect::Prints("1.0.0"),
        )
        .run()
        .assert_passed();
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn a_poetry_path_dependency_installs_after_its_code() {
    // `pantry = { path = "packages/pantry", develop = true }`: Poetry exports it as a
    // `-e file:///app/...` line, which waits for the folder; the rest installs before.
    Case::new("tests/fixtures/poetry-path-package")
        .init_args(&["--python", "3.13"])
        .in_image(
            "the path dependency imports from the code the image runs",
            "python -c 'import pantry; print(pantry.__file__)'",
            Expect::Prints("/app/packages/pantry/pantry/__init__.py"),
        )
        .run()
        .assert_passed();
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn a_uv_workspace_member_installs_after_its_code() {
    // `catalog` is a workspace member: the first `uv sync` skips it, the second installs it
    // as uv.lock says, editable, pointing at /app.
    // djrun adds whitenoise and runs `uv lock`, which records the workspace as it is.
    Case::new("tests/fixtures/uv-workspace")
        .init_args(&["--python", "3.13"])
        .uv_on_path()
        .in_image(
            "the workspace member imports from the code the image runs",
            "python -c 'import catalog; print(catalog.__file__)'",
            Expect::Prints("/app/packages/catalog/catalog/__init__.py"),
        )
        .run()
        .assert_passed();
}

/// The init flags of the database-and-media cases.
const NOTES_INIT: &[&str] = &[
    "--database",
    "cloudsql-postgres",
    "--media",
    "gcs",
    "--public-media",
];
#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn pipenv_nolock_is_locked_by_init_with_pipenv_and_the_build_verifies_the_lock() {
    // No Pipfile.lock: djrun runs the pinned Pipenv (on PATH, from PyPI the first time) after
    // writing the files, and the build's `pipenv verify` proves the lock matches the Pipfile.
    // The Pipfile asks for Python 3.12, which this machine may lack: Pipenv locks with its own.
    let bin = match pipenv_bin() {
        Ok(bin) => bin,
        Err(e) => panic!("{e}"),
    };
    Case::new("tests/fixtures/pipenv-nolock")
        .init_args(&["--python", "3.13"])
        .init_env("PATH", path_with(&bin))
        .init_env("PIPENV_PYTHON", bin.join("python"))
        .init_env("PIPENV_VENV_IN_PROJECT", "1")
        .init_env("PIPENV_IGNORE_VIRTUALENVS", "1")
        .after_init(|o| {
            let stderr = o.init_stderr.clone();
            o.check(
                stderr.contains("Running `pipenv lock` to write `Pipfile.lock`..."),
                || format!("djrun's stderr does not say it ran `pipenv lock`:\n{stderr}"),
            );
            let lock = fs::read_to_string(o.project.join("Pipfile.lock")).unwrap_or_default();
            o.check(lock.contains("\"gunicorn\""), || {
                format!("Pipfile.lock after `djrun init` holds no gunicorn:\n{lock}")
            });
        })
        .imports(&["gunicorn", "whitenoise"])
        .run()
        .assert_passed();
}

/// The Pipenv the generated Dockerfiles pin, in a virtualenv of the tier's cache (installed
/// from PyPI the first time), for `djrun init` to find on PATH.
fn pipenv_bin() -> Result<PathBuf, String> {
    let version = djrun::generate::TOOLS.pipenv;
    let venv = e2e_cache_dir().join(format!("pipenv-{version}"));
    let bin = venv.join("bin");
    if bin.join("pipenv").is_file() {
        return Ok(bin);
    }
    let run = |cmd: &mut Command| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("run {cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{cmd:?} failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    let _ = fs::remove_dir_all(&venv);
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    run(Command::new(bin.join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("pipenv=={version}")))?;
    Ok(bin)
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn storages_pinned_without_the_google_extra_gets_it_and_the_image_has_the_bindings() {
    // requirements.txt pins django-storages==1.14.4 without extras; uploads send media to
    // Cloud Storage, whose backend imports google.cloud.storage at run time.
    Case::new("tests/fixtures/storages-pinned")
        .init_args(&["--python", "3.13"])
        .gcs_emulator()
        .after_init(|o| {
            let requirements =
                fs::read_to_string(o.project.join("requirements.txt")).unwrap_or_default();
            o.check(
                requirements.contains("\ndjango-storages[google]==1.14.4  #"),
                || format!("requirements.txt after `djrun init`:\n{requirements}"),
            );
        })
        .in_image(
            "the Cloud Storage bindings import",
            "/venv/bin/python -c 'import google.cloud.storage'",
            Expect::Succeeds,
        )
        .in_image(
            "django-storages is the pinned version",
            "/venv/bin/python -c 'import storages; print(storages.__version__)'",
            Expect::Prints("1.14.4"),
        )
        .in_image(
            "django-storages' Google backend loads",
            "/venv/bin/python -c 'import storages.backends.gcloud'",
            Expect::Succeeds,
        )
        .run()
        .assert_passed();
}

/// A note the first instance writes and the restarted one must still list.
const NOTE_TITLE: &str = "written before the restart";
const NOTE_FILE: &str = "e2e-attachment.txt";

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn notes_postgres_migrates_serves_and_keeps_data_in_cloud_sql_and_gcs() {
    // PostgreSQL where Cloud SQL's socket would be, a Cloud Storage emulator for the media
    // bucket; --public-media, since signed URLs would need Google's IAM API.
    Case::new("tests/fixtures/notes-postgres")
        .init_args(NOTES_INIT)
        .cloudsql_postgres()
        .gcs_emulator()
        .deploy_secret("DATABASE_URL")
        .deploy_secret("DJANGO_SECRET_KEY")
        .tables(&["notes_note", "django_migrations", "auth_user"])
        .create_superuser("admin")
        .manage_check_deploy()
        .in_image(
            "django-storages' Google backend is installed",
            "python -c 'import storages.backends.gcloud'",
            Expect::Succeeds,
        )
        .while_serving(notes_round_trip)
        .after_restart(notes_survive_restart)
        .run()
        .assert_passed();
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn configured_app_gets_every_value_its_settings_read_at_build_and_at_start() {
    // The settings parse DATABASE_URL with a PostgreSQL-only pattern, build a Redis client
    // at import, require two values that `.env.example` gives, one secret and the user's
    // Redis URL, and the app's own system check wants SITE_URL's host in ALLOWED_HOSTS: the
    // build's collectstatic, the migrate job (which runs that check) and the login must all
    // get what they read. A vendored stylesheet names a source map it does not ship, which
    // Django's manifest storage would refuse at build, and LOGGING writes a file under the
    // code, which the image's user could not create.
    Case::new("tests/fixtures/configured-app")
        .init_args(&[
            "--python",
            "3.13",
            "--database",
            "cloudsql-postgres",
            "--env",
            "REDIS_URL=redis://10.0.0.3:6379/0",
        ])
        .cloudsql_postgres()
        .deploy_secret("DATABASE_URL")
        .deploy_secret("LEDGER_SECRET_KEY")
        .deploy_secret("PAYMENTS_API_KEY")
        // A vendored stylesheet names a source map it does not ship: collected all the same.
        .probe_paths("/admin/login/", Some("/static/ledger/vendor.min.css"))
        .tables(&["django_migrations", "auth_user"])
        .create_superuser("admin")
        .manage_check_deploy()
        .in_image(
            "SITE_URL is the service's own URL and passes the app's check",
            "python manage.py check --fail-level ERROR >/dev/null && python -c 'import os; print(os.environ[\"SITE_URL\"])'",
            Expect::Prints("https://configured-app-123456789012.europe-west1.run.app"),
        )
        .in_image(
            "the storage alias the settings import from a module of their own is kept",
            "python -c 'import django; django.setup(); from django.core.files.storage import storages; print(storages[\"receipts\"].location)'",
            Expect::Prints("/tmp/receipts"),
        )
        .in_image(
            "the app's user writes the audit log the settings' LOGGING names",
            "python -c 'import django, logging; django.setup(); logging.getLogger(\"ledger.payments\").info(\"paid\")' 2>/dev/null && tail -n 1 logs/payments.log",
            Expect::Prints("paid"),
        )
        .run()
        .assert_passed();
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn operator_config_is_made_from_its_example_and_reads_the_deploys_values() {
    // The settings refuse to start without shelf/configuration.py, which the repository has
    // only as configuration_example.py (and .gitignore lists): djrun makes it, and the value
    // given with --env reaches the settings through it.
    Case::new("tests/fixtures/operator-config")
        .init_args(&[
            "--python",
            "3.13",
            "--database",
            "cloudsql-postgres",
            "--env",
            "STAFF_EMAIL=loans@shelf.example.org",
        ])
        .after_init(|o| {
            let made = fs::read_to_string(o.project.join("shelf/configuration.py")).unwrap_or_default();
            o.check(made.contains("STAFF_EMAIL = os.environ.get(\"STAFF_EMAIL\", STAFF_EMAIL)"), || {
                format!("djrun init did not make shelf/configuration.py from the example:\n{made}")
            });
        })
        .cloudsql_postgres()
        .deploy_secret("DATABASE_URL")
        .deploy_secret("DJANGO_SECRET_KEY")
        .tables(&["django_migrations", "auth_user"])
        .create_superuser("admin")
        .in_image(
            "the settings read STAFF_EMAIL from the deploy through the made module",
            "python -c 'import django; django.setup(); from django.conf import settings; print(settings.STAFF_EMAIL)'",
            Expect::Prints("loans@shelf.example.org"),
        )
        .run()
        .assert_passed();
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn notes_postgres_broken_migration_stops_the_build_before_the_deploy() {
    let mut outcome = Case::new("tests/fixtures/notes-postgres")
        .init_args(NOTES_INIT)
        .cloudsql_postgres()
        .gcs_emulator()
        .after_init(|o| {
            let path = o.project.join("notes/migrations/0002_broken.py");
            let written = fs::write(&path, BROKEN_MIGRATION);
            o.check(written.is_ok(), || format!("write {}: {written:?}", path.display()));
        })
        .migrate_fails_with("RuntimeError: e2e: this migration always fails")
        .after_migrate(|o, attached| {
            let Some(pg) = &attached.postgres else { return };
            // Each migration is its own transaction: 0001 stays, 0002 is not recorded.
            let applied = pg.query("SELECT name FROM django_migrations WHERE app = 'notes' ORDER BY name");
            o.check(matches!(&applied, Ok(rows) if rows == &["0001_initial"]), || {
                format!("after the failed migrate job the notes migrations recorded are {applied:?}, want only 0001_initial")
            });
        })
        .run();
    // The build stops at the failed step: the deploy step, and so the service, never runs.
    let (failed, served) = (outcome.migrate_failed, outcome.served);
    outcome.check(failed && !served, || {
        format!("want the migrate job to fail and the service never to start; the migrate job failed: {failed}, the service started: {served}")
    });
    outcome.assert_passed();
}

const BROKEN_MIGRATION: &str = "from django.db import migrations\n\n\n\
def fail(apps, schema_editor):\n    raise RuntimeError('e2e: this migration always fails')\n\n\n\
class Migration(migrations.Migration):\n\n    dependencies = [('notes', '0001_initial')]\n\n    \
operations = [migrations.RunPython(fail, migrations.RunPython.noop)]\n";

fn json_of(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

/// The notes the service lists at /notes/, a page that reads the database.
fn list_notes(o: &mut Outcome, live: &Live) -> Vec<Value> {
    match http_get(live.port, "/notes/", live.host) {
        Ok(r) if r.status == 200 => json_of(&r)["notes"].as_array().cloned().unwrap_or_default(),
        Ok(r) => {
            o.fail(format!(
                "GET /notes/ answered {} (want 200):\n{}",
                r.status,
                r.describe()
            ));
            Vec::new()
        }
        Err(e) => {
            o.fail(format!("GET /notes/: {e}"));
            Vec::new()
        }
    }
}

/// A note with a file through the app: the row is in PostgreSQL, the file in the bucket, and
/// the app reads it back through default_storage.
fn notes_round_trip(o: &mut Outcome, live: &Live) {
    let before = list_notes(o, live);
    o.check(before.is_empty(), || {
        format!("a fresh database lists notes: {before:?}")
    });
    let content = format!("attachment {}\n", random_secret());
    let (content_type, body) = multipart(
        &[("title", NOTE_TITLE)],
        &[("attachment", NOTE_FILE, content.as_bytes())],
    );
    let created = http_request(
        live.port,
        "POST",
        "/notes/new",
        live.host,
        &[
            ("X-Forwarded-Proto", "https"),
            ("Content-Type", &content_type),
        ],
        &body,
    );
    let note = match created {
        Ok(r) if r.status == 201 => json_of(&r),
        Ok(r) => {
            return o.fail(format!(
                "POST /notes/new answered {} (want 201):\n{}",
                r.status,
                r.describe()
            ))
        }
        Err(e) => return o.fail(format!("POST /notes/new: {e}")),
    };
    say!("{}: created the note {note}", o.name);
    let listed = list_notes(o, live);
    o.check(listed.iter().any(|n| n["title"] == NOTE_TITLE), || {
        format!("the new note is not listed by /notes/: {listed:?}")
    });
    if let Some(pg) = &live.attached.postgres {
        let rows = pg.query("SELECT title FROM notes_note");
        o.check(matches!(&rows, Ok(r) if r == &[NOTE_TITLE]), || {
            format!("notes_note in PostgreSQL holds {rows:?}, want the one note")
        });
    }
    let name = note["attachment"].as_str().unwrap_or_default().to_string();
    o.check(
        name.starts_with("attachments/") && name.ends_with(".txt"),
        || format!("the attachment was stored as {name:?}, want attachments/<name>.txt"),
    );
    if let Some(storage) = &live.attached.storage {
        match storage.objects() {
            Ok(objects) => {
                say!(
                    "{}: the bucket {} holds {objects:?}",
                    o.name,
                    storage.bucket
                );
                o.check(
                    objects
                        .iter()
                        .any(|(n, size)| *n == name && *size == content.len() as u64),
                    || {
                        format!(
                            "the bucket {} does not hold {name} ({} bytes): {objects:?}",
                            storage.bucket,
                            content.len()
                        )
                    },
                );
            }
            Err(e) => o.fail(format!("list the bucket through the emulator: {e}")),
        }
        match storage.object_bytes(&name) {
            Ok(bytes) => o.check(bytes == content.as_bytes(), || {
                format!(
                    "the object {name} in the bucket holds {:?}, want {content:?}",
                    String::from_utf8_lossy(&bytes)
                )
            }),
            Err(e) => o.fail(format!("read {name} from the emulator: {e}")),
        }
    }
    check_note_file(o, live, &note, content.as_bytes());
}

fn check_note_file(o: &mut Outcome, live: &Live, note: &Value, want: &[u8]) {
    let path = format!("/notes/{}/file", note["id"]);
    match http_get(live.port, &path, live.host) {
        Ok(r) => o.check(r.status == 200 && r.body == want, || {
            format!(
                "GET {path} answered {} (want 200 with the uploaded bytes {:?}):\n{}",
                r.status,
                String::from_utf8_lossy(want),
                r.describe()
            )
        }),
        Err(e) => o.fail(format!("GET {path}: {e}")),
    }
}

/// A new container of the same image still lists the note and serves its file: both live
/// outside the container.
fn notes_survive_restart(o: &mut Outcome, live: &Live) {
    let listed = list_notes(o, live);
    let Some(note) = listed.iter().find(|n| n["title"] == NOTE_TITLE).cloned() else {
        return o.fail(format!(
            "after a restart /notes/ no longer lists the note: {listed:?}"
        ));
    };
    let name = note["attachment"].as_str().unwrap_or_default().to_string();
    if let Some(storage) = &live.attached.storage {
        match storage.object_bytes(&name) {
            Ok(bytes) => check_note_file(o, live, &note, &bytes),
            Err(e) => o.fail(format!(
                "read {name} from the emulator after the restart: {e}"
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One fixture, end to end
// ---------------------------------------------------------------------------------------------

#[path = "e2e/services.rs"]
mod services;
use services::{Postgres, StorageEmulator, Trap, CLOUDSQL_MOUNT};

/// What to expect from a command run in the image.
#[derive(Clone, Debug)]
enum Expect {
    /// Exit status 0.
    Succeeds,
    /// A non-zero exit status, with this text in the output (so that it failed for the
    /// reason the check is about, not because the command is missing).
    FailsWith(&'static str),
    /// Exit status 0 and exactly this on stdout, surrounding whitespace aside.
    Prints(&'static str),
    /// Exit status 0 and nothing on stdout.
    PrintsNothing,
}

/// A command run in the running container, as the image's user with the deploy's env.
struct InImage {
    what: &'static str,
    script: &'static str,
    expect: Expect,
}

type Hook = Box<dyn Fn(&mut Outcome)>;
/// A check with what the deploy attached (the database, the bucket), after the migrate job.
type AttachedHook = Box<dyn Fn(&mut Outcome, &Attached)>;
/// A check against the running service.
type LiveHook = Box<dyn Fn(&mut Outcome, &Live)>;

/// One fixture project and what its case checks beyond the common ones.
#[must_use = "call run() on the case"]
struct Case {
    project_dir: &'static str,
    init_args: Vec<&'static str>,
    init_env: Vec<(OsString, OsString)>,
    after_init: Vec<Hook>,
    /// The build context the generated cloudbuild.yaml must name, when the case says.
    build_context: Option<&'static str>,
    /// Environment variables the deploy must pass from Secret Manager.
    deploy_secrets: Vec<&'static str>,
    /// `NAME=value` the image config's Env must hold.
    image_env: Vec<(&'static str, &'static str)>,
    in_image: Vec<InImage>,
    /// Top-level modules the import of everything in /venv must have imported, beyond django.
    imports: Vec<&'static str>,
    /// Top-level modules that must fail to import, each with the error it must fail with.
    import_fails: Vec<(&'static str, &'static str)>,
    rebuild: bool,
    /// The page every case requests with the service's host (200) and a foreign one (400).
    probe_page: &'static str,
    /// A static file the image must serve, where the project has one.
    probe_static: Option<&'static str>,
    /// A PostgreSQL server stands in for the Cloud SQL instance the deploy attaches.
    database: bool,
    /// A Cloud Storage emulator stands in for the bucket the deploy names.
    media: bool,
    /// Tables the migrate job must have made.
    tables: Vec<&'static str>,
    /// Create this superuser with a job of the image, then log in through /admin/login/.
    superuser: Option<&'static str>,
    /// The migrate job must fail with this in its output, and the build stop there.
    migrate_fails_with: Option<&'static str>,
    after_migrate: Vec<AttachedHook>,
    /// `manage.py check --deploy` in the running container.
    check_deploy: bool,
    while_serving: Vec<LiveHook>,
    /// Checks on a second start of the same image, after the first one stopped.
    after_restart: Vec<LiveHook>,
}

impl Case {
    /// `project_dir` is relative to the crate root.
    fn new(project_dir: &'static str) -> Case {
        Case {
            project_dir,
            init_args: Vec::new(),
            init_env: Vec::new(),
            after_init: Vec::new(),
            build_context: None,
            deploy_secrets: Vec::new(),
            image_env: Vec::new(),
            in_image: Vec::new(),
            imports: Vec::new(),
            import_fails: Vec::new(),
            rebuild: false,
            probe_page: "/admin/login/",
            probe_static: Some("/static/admin/css/base.css"),
            database: false,
            media: false,
            tables: Vec::new(),
            superuser: None,
            migrate_fails_with: None,
            after_migrate: Vec::new(),
            check_deploy: false,
            while_serving: Vec::new(),
            after_restart: Vec::new(),
        }
    }

    /// The deploy attaches a Cloud SQL instance: a throwaway PostgreSQL server listens where
    /// its socket would be, mounted at /cloudsql, and DATABASE_URL's test value points there.
    fn cloudsql_postgres(mut self) -> Case {
        self.database = true;
        self
    }

    /// The deploy names a media bucket (GS_BUCKET_NAME): a Cloud Storage emulator on loopback
    /// holds it, and the containers get STORAGE_EMULATOR_HOST.
    fn gcs_emulator(mut self) -> Case {
        self.media = true;
        self
    }

    fn tables(mut self, tables: &[&'static str]) -> Case {
        self.tables.extend_from_slice(tables);
        self
    }

    fn create_superuser(mut self, username: &'static str) -> Case {
        self.superuser = Some(username);
        self
    }

    fn migrate_fails_with(mut self, text: &'static str) -> Case {
        self.migrate_fails_with = Some(text);
        self
    }

    fn after_migrate(mut self, hook: impl Fn(&mut Outcome, &Attached) + 'static) -> Case {
        self.after_migrate.push(Box::new(hook));
        self
    }

    fn manage_check_deploy(mut self) -> Case {
        self.check_deploy = true;
        self
    }

    fn while_serving(mut self, hook: impl Fn(&mut Outcome, &Live) + 'static) -> Case {
        self.while_serving.push(Box::new(hook));
        self
    }

    fn after_restart(mut self, hook: impl Fn(&mut Outcome, &Live) + 'static) -> Case {
        self.after_restart.push(Box::new(hook));
        self
    }

    /// Added to `djrun init <copy> --yes --project .. --region .. --service ..`.
    fn init_args(mut self, args: &[&'static str]) -> Case {
        self.init_args.extend_from_slice(args);
        self
    }

    /// An environment variable for `djrun init` (and the tools it runs).
    fn init_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Case {
        self.init_env.push((key.into(), value.into()));
        self
    }

    /// `djrun init` finds setup.sh's pinned uv on PATH (and may not download a Python), so
    /// it runs `uv lock` after adding dependencies, as on a developer's machine.
    fn uv_on_path(self) -> Case {
        let tools = match tools_bin() {
            Ok(dir) => dir,
            Err(e) => panic!("{e}"),
        };
        self.init_env("PATH", path_with(&tools))
            .init_env("UV_PYTHON_DOWNLOADS", "never")
    }

    /// Checks on the project copy and djrun's output, right after `djrun init`.
    fn after_init(mut self, hook: impl Fn(&mut Outcome) + 'static) -> Case {
        self.after_init.push(Box::new(hook));
        self
    }

    fn build_context(mut self, context: &'static str) -> Case {
        self.build_context = Some(context);
        self
    }

    fn deploy_secret(mut self, name: &'static str) -> Case {
        self.deploy_secrets.push(name);
        self
    }

    fn image_env(mut self, name: &'static str, value: &'static str) -> Case {
        self.image_env.push((name, value));
        self
    }

    fn in_image(mut self, what: &'static str, script: &'static str, expect: Expect) -> Case {
        self.in_image.push(InImage {
            what,
            script,
            expect,
        });
        self
    }

    /// Top-level modules that must be among those the image imports from /venv (every case
    /// imports all of them; these prove the enumeration found the case's own).
    fn imports(mut self, modules: &[&'static str]) -> Case {
        self.imports.extend_from_slice(modules);
        self
    }

    /// A top-level module a distribution ships that cannot import in a production image (a
    /// test suite that needs pytest): it must fail with `error`, and only it is excused.
    fn import_fails_with(mut self, module: &'static str, error: &'static str) -> Case {
        self.import_fails.push((module, error));
        self
    }

    /// The page and static file the HTTP checks request, for a project without the admin.
    fn probe_paths(mut self, page: &'static str, static_file: Option<&'static str>) -> Case {
        self.probe_page = page;
        self.probe_static = static_file;
        self
    }

    /// `page` answers 200 with HTML that links a stylesheet whose URL starts with `prefix`
    /// (a file an asset step made at build time), and that URL answers 200 with CSS.
    fn page_links_asset(self, page: &'static str, prefix: &'static str) -> Case {
        self.while_serving(move |o, live| follow_linked_css(o, live, page, prefix))
    }

    /// Touch one line of code and rebuild: the dependency layer must come from the cache,
    /// the code layer must not.
    fn rebuild_after_code_change(mut self) -> Case {
        self.rebuild = true;
        self
    }

    /// Runs the fixture project through the whole tier:
    ///
    /// 1. copy the project (relative to the crate root) to a temporary folder;
    /// 2. `djrun init <copy> --yes --project .. --region .. --service <folder name> <init_args>`;
    /// 3. read the generated cloudbuild.yaml: build context, deploy env and secrets;
    /// 4. stage what `gcloud builds submit` would upload, and build the image from the build
    ///    step's context; no secret may be in the image (config, history or files);
    /// 5. run its CMD as its USER in its WORKDIR with its Env plus the deploy's env vars,
    ///    test values for the deploy's secrets and what Cloud Run sets, and probe it over
    ///    HTTP: the service host gets 200, a foreign host 400, static files are served, the
    ///    server is not root, logs are clean; every top-level module installed in /venv
    ///    imports; then the case's own commands in the container;
    /// 6. stop it, leaving no process behind; with `rebuild_after_code_change`, touch one line
    ///    of code and rebuild: the dependency layer must come from the cache, the code layer
    ///    must not.
    ///
    /// Hard stops (init or build failing, server never listening) end the case early; every
    /// other check is collected, so one run reports all that is wrong.
    fn run(self) -> Outcome {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(self.project_dir);
        let name = source
            .file_name()
            .and_then(|n| n.to_str())
            .expect("fixture folder has a name")
            .to_string();
        let dir = tempfile::Builder::new()
            .prefix(&format!("djrun-e2e-{name}-"))
            .tempdir()
            .expect("create temporary folder");
        let project = dir.path().join(&name);
        let mut outcome = Outcome {
            name: name.clone(),
            engine: None,
            context: project.clone(),
            project,
            init_stderr: String::new(),
            build_output: String::new(),
            rebuild_output: String::new(),
            server_log: String::new(),
            job_output: String::new(),
            migrate_failed: false,
            served: false,
            superuser_password: None,
            failures: Vec::new(),
            dir,
        };
        let started = Instant::now();
        if let Err(stop) = run_case(&mut outcome, &source, &self) {
            outcome.fail(format!("stopped early: {stop}"));
        }
        say!(
            "{name}: finished in {:.0?} with {} failed check(s)",
            started.elapsed(),
            outcome.failures.len()
        );
        outcome
    }
}

/// What one fixture project did, end to end. The images, containers and processes are gone by
/// the time it is returned; the project copy lives as long as the `Outcome`.
#[must_use = "call assert_passed() on the outcome"]
struct Outcome {
    name: String,
    engine: Option<Engine>,
    /// The temporary copy of the project, after `djrun init` (and the one-line touch).
    project: PathBuf,
    /// The build context cloudbuild.yaml names, inside `project`.
    context: PathBuf,
    init_stderr: String,
    build_output: String,
    rebuild_output: String,
    server_log: String,
    /// What the job tasks (migrate, createsuperuser) printed.
    job_output: String,
    /// The migrate job failed as the case expected, and the case stopped there.
    migrate_failed: bool,
    /// The service was started.
    served: bool,
    superuser_password: Option<String>,
    /// Every check that failed, each message self-contained.
    failures: Vec<String>,
    dir: TempDir,
}

impl Outcome {
    fn fail(&mut self, message: impl Into<String>) {
        let message = message.into();
        say!("{}: FAILED: {}", self.name, first_line(&message));
        self.failures.push(message);
    }

    fn check(&mut self, ok: bool, message: impl FnOnce() -> String) {
        if !ok {
            self.fail(message());
        }
    }

    fn assert_passed(&self) {
        if self.failures.is_empty() {
            return;
        }
        let mut report = format!(
            "{} end-to-end check(s) failed for {} (engine: {}, project copy: {}):\n",
            self.failures.len(),
            self.name,
            self.engine.map_or("none", Engine::describe),
            self.project.display()
        );
        for (i, failure) in self.failures.iter().enumerate() {
            report.push_str(&format!("\n--- {}. {}\n", i + 1, failure.trim_end()));
        }
        panic!("{report}");
    }
}

fn run_case(o: &mut Outcome, source: &Path, case: &Case) -> Result<(), String> {
    let engine = Engine::detect();
    o.engine = Some(engine);
    let service = service_name(&o.name);
    let host = format!("{service}-{PROJECT_NUMBER}.{REGION}.run.app");
    let tag = format!("localhost/djrun-e2e-{service}:test");

    // 1-2. Copy the fixture and let djrun make it ready for Cloud Run.
    copy_tree(source, &o.project).map_err(|e| format!("copy {}: {e}", source.display()))?;
    let mut init = Command::new(djrun_bin());
    init.arg("init")
        .arg(&o.project)
        .args(["--yes", "--project", PROJECT_ID, "--region", REGION])
        .args(["--service", &service])
        .args(&case.init_args)
        .current_dir(&o.project)
        .env("NO_COLOR", "1");
    for (key, value) in &case.init_env {
        init.env(key, value);
    }
    let shown: Vec<String> = case
        .init_env
        .iter()
        .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
        .chain([show_command(&init)])
        .collect();
    say!("{}: {}", o.name, shown.join(" "));
    let out = run(&mut init)?;
    o.init_stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if !out.status.success() {
        return Err(format!(
            "`djrun init` exited with {}:\n{}",
            out.status,
            combined(&out)
        ));
    }
    for hook in &case.after_init {
        hook(o);
    }

    // 3. What the deploy does, read from the cloudbuild.yaml djrun wrote.
    let cloudbuild_path = o.project.join("cloudbuild.yaml");
    if !cloudbuild_path.is_file() {
        return Err("`djrun init` did not write cloudbuild.yaml".to_string());
    }
    let deploy = read_cloudbuild(&cloudbuild_path)?;
    say!(
        "{}: cloudbuild.yaml builds {:?} and deploys {} in {} with env {:?} and secrets {:?}",
        o.name,
        deploy.context,
        deploy.service,
        deploy.region,
        deploy.env,
        deploy.secrets
    );
    check_deploy(o, case, &deploy, &service);
    // Paths relative to the folder `gcloud builds submit` runs in; docker's default
    // Dockerfile is the one in the context.
    let context_rel = relative(&deploy.context);
    let dockerfile_rel = match &deploy.dockerfile {
        Some(file) => relative(file),
        None => context_rel.join("Dockerfile"),
    };
    o.context = under(&o.project, &context_rel);
    for file in [dockerfile_rel.clone(), context_rel.join(".dockerignore")] {
        let exists = o.project.join(&file).is_file();
        o.check(exists, || {
            format!(
                "`djrun init` did not write {}, which the build step needs",
                file.display()
            )
        });
    }
    let exists = o.project.join(".gcloudignore").is_file();
    o.check(exists, || {
        "`djrun init` did not write .gcloudignore next to cloudbuild.yaml".to_string()
    });
    let dockerfile = fs::read_to_string(o.project.join(&dockerfile_rel))
        .map_err(|e| format!("read the generated {}: {e}", dockerfile_rel.display()))?;
    // A developer's local secrets sit next to the code; the ignore files must keep them out.
    fs::write(
        o.context.join(".env"),
        format!("DJANGO_SECRET_KEY={DOTENV_SECRET}\n"),
    )
    .map_err(|e| format!("write .env: {e}"))?;
    engine.require_base_images(&dockerfile)?;

    // 4. Upload and build. Images are removed when `images` is dropped, also on panic; a tag
    // left by an earlier, killed run goes first, so that its image does not linger untagged.
    let upload = stage_upload(o)?;
    let mut images = ImageGuard {
        engine,
        refs: vec![tag.clone()],
        intermediates: Vec::new(),
    };
    images.remove_all();
    let build = engine.build(
        &under(&upload, &context_rel),
        &upload.join(&dockerfile_rel),
        &tag,
    );
    o.build_output = build.output.clone();
    images.intermediates.extend(intermediate_ids(&build.output));
    if !build.ok {
        return Err(format!("image build failed:\n{}", build.output));
    }
    images.refs.push(engine.image_id(&tag)?);
    let config = engine.image_config(&tag)?;
    say!(
        "{}: image User={:?} WorkingDir={:?} Entrypoint={:?} Cmd={:?}",
        o.name,
        config.user,
        config.workdir,
        config.entrypoint,
        config.cmd
    );
    let secret_key = random_secret();
    check_image_secrets(o, engine, &tag, &config, &service, &secret_key)?;
    check_pid1(o, &config);
    for (name, value) in &case.image_env {
        let want = format!("{name}={value}");
        let env = config.env.clone();
        o.check(env.contains(&want), || {
            format!("the image config Env lacks {want}: {env:?}")
        });
    }

    // 5. What the deploy attaches: a PostgreSQL server where Cloud SQL's socket would be, a
    // Cloud Storage emulator, and a trap for any request that would leave the machine.
    let attached = Attached::start(o, case, &deploy, &service)?;
    let secret_value = |name: &str| match &attached.postgres {
        Some(pg) if is_database_url(name) => pg.container_url(),
        _ => secret_test_value(name, &secret_key),
    };

    // 6. The migrate job, as the build's migrate step deploys and runs it, before the deploy
    // step: a failure stops the build there, and the service never gets the image.
    if let Some(job) = &deploy.migrate {
        check_migrate_step(o, &deploy, job);
        let mut job_env = job_env(&attached, job, &secret_value);
        job_env.extend(cloud_run_job_env(&job.name));
        let image = Image {
            engine,
            service: &service,
            tag: &tag,
            config: &config,
        };
        let out = image.run_job(&job.argv(), &job_env, &attached.mounts)?;
        let text = combined(&out);
        o.job_output.push_str(&text);
        say!(
            "{}: the migrate job `{}` exited with {}:\n{}",
            o.name,
            job.argv().join(" "),
            out.status,
            text.trim_end()
        );
        if !out.status.success() {
            if let Some(want) = case.migrate_fails_with {
                o.check(text.contains(want), || {
                    format!("the migrate job failed, but its output lacks {want:?}:\n{text}")
                });
                say!(
                    "{}: the migrate step failed, so the build stops: no deploy, no service started",
                    o.name
                );
                o.migrate_failed = true;
                for hook in &case.after_migrate {
                    hook(o, &attached);
                }
                attached.check_nothing_left(o);
                drop(attached);
                drop(images);
                return Ok(());
            }
            if let Some(pg) = &attached.postgres {
                o.fail(format!("postgres server log:\n{}", pg.log()));
            }
            return Err(format!(
                "the migrate job exited with {}, so the build would stop before the deploy:\n{text}",
                out.status
            ));
        }
        o.check(case.migrate_fails_with.is_none(), || {
            format!("the migrate job succeeded, but the case expects it to fail:\n{text}")
        });
        check_tables(o, &attached, &case.tables);
        for hook in &case.after_migrate {
            hook(o, &attached);
        }
        if let Some(user) = case.superuser {
            create_superuser(o, &image, job, &attached, &secret_value, user);
        }
    } else {
        o.check(!case.database, || {
            format!(
                "the project has a database, but cloudbuild.yaml has no `id: migrate` step (steps: {:?})",
                deploy.step_ids
            )
        });
        if case.migrate_fails_with.is_some() {
            return Err("the case expects a failing migrate step, and there is none".to_string());
        }
    }

    // 7. Run it like Cloud Run: its own CMD, USER, WORKDIR and Env, then the deploy's env
    // vars and secrets, then what Cloud Run sets itself.
    let port = free_port()?;
    let mut run_env: Vec<(String, String)> = deploy.env.clone();
    for (name, _secret) in &deploy.secrets {
        run_env.push((name.clone(), secret_value(name)));
    }
    run_env.extend(attached.env.iter().cloned());
    run_env.extend(cloud_run_service_env(&service, port, 1));
    let log_path = o.dir.path().join("server.log");
    let mut server = engine.serve(
        &service,
        &tag,
        &config,
        (&run_env, &attached.mounts),
        port,
        &log_path,
    )?;
    o.served = true;
    let ready = server.wait_ready(port, READY_TIMEOUT);
    if let Err(e) = ready {
        let log = fs::read_to_string(&log_path).unwrap_or_default();
        o.server_log = log.clone();
        return Err(format!("{e}\nserver log:\n{log}"));
    }
    say!("{}: serving on 127.0.0.1:{port}", o.name);
    probe_http(o, port, &host, case.probe_page, case.probe_static);
    check_server_user(o, &server);
    check_inside_image(o, &server);
    check_imports(o, &server, case);
    for check in &case.in_image {
        run_in_image(o, &server, check);
    }
    if case.check_deploy {
        manage_check_deploy(o, &server);
    }
    {
        let live = Live {
            port,
            host: &host,
            attached: &attached,
        };
        if let (Some(user), Some(password)) = (case.superuser, o.superuser_password.clone()) {
            admin_login(o, &live, user, &password);
        }
        for hook in &case.while_serving {
            hook(o, &live);
        }
    }

    // Stop it as Cloud Run would, then make sure nothing is left running.
    o.server_log = fs::read_to_string(&log_path).unwrap_or_default();
    server.stop();
    let leftovers = server.leftovers();
    o.check(leftovers.is_empty(), || {
        format!("processes left behind after stopping the server:\n{leftovers:#?}")
    });

    // 8. A new instance of the same revision: what the first one wrote is in the database
    // (and the bucket), not in the container.
    if !case.after_restart.is_empty() {
        drop(server);
        let port = free_port()?;
        run_env.retain(|(k, _)| k != "PORT");
        run_env.push(("PORT".to_string(), port.to_string()));
        let log_path = o.dir.path().join("server-restarted.log");
        say!("{}: starting the service again from the same image", o.name);
        let mut again = engine.serve(
            &service,
            &tag,
            &config,
            (&run_env, &attached.mounts),
            port,
            &log_path,
        )?;
        if let Err(e) = again.wait_ready(port, READY_TIMEOUT) {
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            return Err(format!("after the restart: {e}\nserver log:\n{log}"));
        }
        let live = Live {
            port,
            host: &host,
            attached: &attached,
        };
        for hook in &case.after_restart {
            hook(o, &live);
        }
        o.server_log
            .push_str(&fs::read_to_string(&log_path).unwrap_or_default());
        again.stop();
        let leftovers = again.leftovers();
        o.check(leftovers.is_empty(), || {
            format!("processes left behind after stopping the restarted server:\n{leftovers:#?}")
        });
        server = again;
    }
    attached.check_nothing_left(o);
    drop(attached);
    drop(server);
    check_log(o);

    // 9. A one-line code change must not reinstall the dependencies.
    if case.rebuild {
        let touched = file_to_touch(&o.context);
        append(&touched, "\n# touched\n")
            .map_err(|e| format!("touch {}: {e}", touched.display()))?;
        say!(
            "{}: appended `# touched` to {}; rebuilding",
            o.name,
            touched.display()
        );
        let upload = stage_upload(o)?;
        let rebuild = engine.build(
            &under(&upload, &context_rel),
            &upload.join(&dockerfile_rel),
            &tag,
        );
        o.rebuild_output = rebuild.output.clone();
        images
            .intermediates
            .extend(intermediate_ids(&rebuild.output));
        if !rebuild.ok {
            return Err(format!("rebuild failed:\n{}", rebuild.output));
        }
        images.refs.insert(0, engine.image_id(&tag)?);
        check_rebuild_cache(o);
    }
    drop(images);
    Ok(())
}

/// What the deploy step names must match what the case was set up with.
fn check_deploy(o: &mut Outcome, case: &Case, deploy: &Deploy, service: &str) {
    o.check(deploy.service == service, || {
        format!(
            "cloudbuild.yaml deploys the service {:?}, not {service:?} (the --service given)",
            deploy.service
        )
    });
    o.check(deploy.region == REGION, || {
        format!(
            "cloudbuild.yaml deploys to the region {:?}, not {REGION:?} (the --region given)",
            deploy.region
        )
    });
    if let Some(context) = case.build_context {
        o.check(deploy.context == context, || {
            format!(
                "cloudbuild.yaml's build step builds the context {:?}, want {context:?}",
                deploy.context
            )
        });
    }
    for name in &case.deploy_secrets {
        let passed = deploy.secrets.iter().any(|(n, _)| n == name);
        let secrets = deploy.secrets.clone();
        o.check(passed, || {
            format!("the deploy does not pass {name} from Secret Manager (--update-secrets: {secrets:?})")
        });
    }
}

/// What `gcloud builds submit` would upload from the project copy (`.gcloudignore` applied),
/// copied to `<tmp>/upload`; the build runs from there, as Cloud Build's does from the upload.
/// When gcloud cannot list the upload, that is a failure, and the build falls back to the
/// whole project folder so that the rest of the case still runs.
fn stage_upload(o: &mut Outcome) -> Result<PathBuf, String> {
    let upload = o.dir.path().join("upload");
    if upload.exists() {
        fs::remove_dir_all(&upload).map_err(|e| format!("remove {}: {e}", upload.display()))?;
    }
    let mut list = Command::new("gcloud");
    list.args(["meta", "list-files-for-upload"])
        .arg(&o.project)
        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1");
    let listed = match run(&mut list) {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).to_string(),
        Ok(out) => {
            o.fail(format!(
                "`gcloud builds submit` would fail: `{}` exited with {}; building from the whole project folder instead:\n{}",
                show_command(&list),
                out.status,
                combined(&out)
            ));
            return Ok(o.project.clone());
        }
        Err(e) => {
            o.fail(format!(
                "cannot tell what `gcloud builds submit` uploads ({e}); install the gcloud CLI. \
                 Building from the whole project folder instead"
            ));
            return Ok(o.project.clone());
        }
    };
    let mut files = 0;
    for rel in listed.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let from = o.project.join(rel);
        let to = upload.join(rel);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("create {}: {e}", parent.display()))?;
        }
        if from.is_file() {
            fs::copy(&from, &to).map_err(|e| format!("copy {}: {e}", from.display()))?;
            files += 1;
        } else if from.is_dir() {
            fs::create_dir_all(&to).map_err(|e| format!("create {}: {e}", to.display()))?;
        }
    }
    say!(
        "{}: staged the {files} file(s) `gcloud builds submit` uploads in {}",
        o.name,
        upload.display()
    );
    if files == 0 {
        return Err(format!(
            "gcloud lists nothing to upload from {}",
            o.project.display()
        ));
    }
    Ok(upload)
}

/// No secret in the image: not in its config or history, not in any of its files. The
/// secret key is random per run and given only to the running container.
fn check_image_secrets(
    o: &mut Outcome,
    engine: Engine,
    tag: &str,
    config: &ImageConfig,
    service: &str,
    secret_key: &str,
) -> Result<(), String> {
    let secret_env: Vec<&String> = config
        .env
        .iter()
        .filter(|kv| {
            let (key, value) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
            key.to_ascii_uppercase().contains("SECRET")
                || value.contains(secret_key)
                || value.contains(DOTENV_SECRET)
        })
        .collect();
    o.check(secret_env.is_empty(), || {
        format!("the image config Env holds a secret: {secret_env:?}")
    });
    let inspect = engine.inspect_text(tag)?;
    for secret in [secret_key, DOTENV_SECRET] {
        o.check(!inspect.contains(secret), || {
            format!(
                "`{} inspect` of the image contains the secret {secret:?}",
                engine.program()
            )
        });
    }
    let started = Instant::now();
    match engine.files_containing(service, tag, &[secret_key, DOTENV_SECRET]) {
        Ok(files) => {
            say!(
                "{}: searched the image's files for the secrets in {:.0?}: {} hit(s)",
                o.name,
                started.elapsed(),
                files.len()
            );
            o.check(files.is_empty(), || {
                format!("files in the image contain a secret: {files:?}")
            });
        }
        Err(e) => o.fail(format!(
            "could not search the image's files for secrets: {e}"
        )),
    }
    Ok(())
}
/// Cloud Run sends SIGTERM to PID 1: the command must be the server itself, not a shell
/// that does not forward signals.
fn check_pid1(o: &mut Outcome, config: &ImageConfig) {
    let argv = config.argv();
    let shell = argv
        .first()
        .is_some_and(|a| matches!(a.as_str(), "sh" | "/bin/sh" | "bash" | "/bin/bash"));
    let execs = argv
        .iter()
        .position(|a| a == "-c")
        .and_then(|i| argv.get(i + 1))
        .is_some_and(|script| script.trim_start().starts_with("exec "));
    o.check(!argv.is_empty(), || "the image has no CMD".to_string());
    o.check(!shell || execs, || {
        format!("the image command runs under a shell that does not exec the server, so it is not PID 1: {argv:?}")
    });
}

fn probe_http(o: &mut Outcome, port: u16, host: &str, page: &str, css: Option<&str>) {
    match http_get(port, page, host) {
        Ok(r) => o.check(r.status == 200, || {
            format!(
                "GET {page} with Host: {host} answered {} (want 200):\n{}",
                r.status,
                r.describe()
            )
        }),
        Err(e) => o.fail(format!("GET {page} with Host: {host}: {e}")),
    }
    let evil = "evil.example.com";
    match http_get(port, page, evil) {
        Ok(r) => o.check(r.status == 400, || {
            format!(
                "GET {page} with Host: {evil} answered {} (want 400: ALLOWED_HOSTS must hold only the service's hosts):\n{}",
                r.status,
                r.describe()
            )
        }),
        Err(e) => o.fail(format!("GET {page} with Host: {evil}: {e}")),
    }
    let Some(css) = css else {
        return;
    };
    check_css(o, port, host, css, "");
}

/// GET `css` and check that it answers 200 with a stylesheet; `from` says where the URL
/// came from, in the failure.
fn check_css(o: &mut Outcome, port: u16, host: &str, css: &str, from: &str) {
    match http_get(port, css, host) {
        Ok(r) => {
            let body = String::from_utf8_lossy(&r.body);
            let is_css = r.header("content-type").is_some_and(|t| t.contains("css"))
                && body.contains('{')
                && body.contains('}');
            o.check(r.status == 200 && is_css, || {
                format!(
                    "GET {css}{from} answered {} (want 200 with a CSS body):\n{}",
                    r.status,
                    r.describe()
                )
            });
        }
        Err(e) => o.fail(format!("GET {css}{from}: {e}")),
    }
}

/// The `href` values of `html`'s tags, in order.
fn hrefs(html: &str) -> Vec<&str> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

/// GET `page`, find the stylesheet it links under `prefix`, and GET that.
fn follow_linked_css(o: &mut Outcome, live: &Live, page: &str, prefix: &str) {
    let html = match http_get(live.port, page, live.host) {
        Ok(r) if r.status == 200 => String::from_utf8_lossy(&r.body).into_owned(),
        Ok(r) => {
            return o.fail(format!(
                "GET {page} answered {} (want 200 with a page that links {prefix}...):\n{}",
                r.status,
                r.describe()
            ))
        }
        Err(e) => return o.fail(format!("GET {page}: {e}")),
    };
    let Some(css) = hrefs(&html)
        .into_iter()
        .find(|h| h.starts_with(prefix) && h.ends_with(".css"))
        .map(str::to_string)
    else {
        return o.fail(format!(
            "GET {page} links no stylesheet under {prefix}:\n{html}"
        ));
    };
    say!("{}: {page} links {css}", o.name);
    check_css(
        o,
        live.port,
        live.host,
        &css,
        &format!(" (linked by {page})"),
    );
}

fn check_server_user(o: &mut Outcome, server: &Server) {
    let procs = server.server_processes();
    o.check(!procs.is_empty(), || {
        "found no server process to read its uid from".to_string()
    });
    for p in &procs {
        say!(
            "{}: server process {} uid={} euid={}: {}",
            o.name,
            p.pid,
            p.uid,
            p.euid,
            p.cmdline
        );
        o.check(p.uid != 0 && p.euid != 0, || {
            format!("the server runs as root: pid {} ({})", p.pid, p.cmdline)
        });
    }
}

/// A second process in the running container, as the image's user.
fn check_inside_image(o: &mut Outcome, server: &Server) {
    let script = "id -u; if [ -e .env ]; then echo DOTENV-PRESENT; fi";
    match server.exec(script) {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            let uid = text
                .lines()
                .next()
                .and_then(|l| l.trim().parse::<u32>().ok());
            o.check(uid.is_some_and(|u| u != 0), || {
                format!("`id -u` as the image user printed {text:?} (want a uid other than 0)")
            });
            o.check(!text.contains("DOTENV-PRESENT"), || {
                "the local .env (with a secret) was copied into the image: .dockerignore does not exclude it".to_string()
            });
        }
        Ok(out) => o.fail(format!(
            "running `{script}` in the container failed ({}):\n{}",
            out.status,
            combined(&out)
        )),
        Err(e) => o.fail(format!("running `{script}` in the container: {e}")),
    }
}

/// Imports every top-level module of every distribution installed in /venv, in the running
/// container as the image's user, after `django.setup()` with the image's settings (some
/// packages need the app registry at import). The names come from each distribution's
/// `top_level.txt`, else from the first part of the paths its RECORD lists. Prints one JSON
/// object: `imported` (module names), `failed` (module -> distribution and error). Every one
/// imports, but for a module a case names with the error it must fail with
/// (`import_fails_with`: a test suite a wheel ships that needs pytest).
const IMPORT_ALL: &str = r#"
import importlib, json, os, traceback
from importlib import metadata

report = {"imported": [], "failed": {}, "distributions": 0}


def error(exc):
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def top_level(dist):
    text = dist.read_text("top_level.txt")
    if text and text.strip():
        return {line.strip().replace("/", ".") for line in text.splitlines() if line.strip()}
    names = set()
    for path in dist.files or []:
        first = path.parts[0] if path.parts else ""
        # Scripts (../../bin), metadata, caches, and the .libs folders of wheels' own
        # libraries are no modules.
        if first in ("..", "__pycache__") or first.endswith((".dist-info", ".data", ".egg-info", ".libs")):
            continue
        if len(path.parts) > 1:
            names.add(first)
        elif first.endswith(".py"):
            names.add(first[: -len(".py")])
        elif first.endswith(".so"):
            names.add(first.split(".")[0])
    return names


if os.environ.get("DJANGO_SETTINGS_MODULE"):
    try:
        import django

        django.setup()
    except BaseException as exc:
        report["failed"]["django.setup()"] = error(exc)

seen = {}
for dist in metadata.distributions():
    if not str(dist.locate_file("")).startswith("/venv/"):
        continue
    report["distributions"] += 1
    for name in top_level(dist):
        if name.isidentifier() or all(part.isidentifier() for part in name.split(".")):
            seen.setdefault(name, dist.metadata["Name"])

for name in sorted(seen):
    try:
        importlib.import_module(name)
        report["imported"].append(name)
    except BaseException as exc:
        report["failed"][name] = "%s: %s" % (seen[name], error(exc))

print(json.dumps(report))
"#;

fn check_imports(o: &mut Outcome, server: &Server, case: &Case) {
    let script = format!("/venv/bin/python - <<'DJRUN_E2E_PY'\n{IMPORT_ALL}\nDJRUN_E2E_PY\n");
    let out = match server.exec(&script) {
        Ok(out) if out.status.success() => out,
        Ok(out) => {
            return o.fail(format!(
                "importing every module in /venv: the script exited with {}:\n{}",
                out.status,
                combined(&out)
            ))
        }
        Err(e) => return o.fail(format!("importing every module in /venv: {e}")),
    };
    let report: Value = match serde_json::from_slice(&out.stdout) {
        Ok(v) => v,
        Err(e) => {
            return o.fail(format!(
                "importing every module in /venv printed no JSON report ({e}):\n{}",
                combined(&out)
            ))
        }
    };
    let imported: Vec<String> = report["imported"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let failures: Vec<(String, String)> = report["failed"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    for (module, error) in &case.import_fails {
        let got = failures.iter().find(|(k, _)| k == module).map(|(_, v)| v);
        o.check(got.is_some_and(|v| v.contains(error)), || {
            format!("in the image, {module} must fail to import with {error:?}; got {got:?}")
        });
    }
    let failed: Vec<String> = failures
        .iter()
        .filter(|(k, _)| !case.import_fails.iter().any(|(m, _)| m == k))
        .map(|(k, v)| format!("{k} ({v})"))
        .collect();
    say!(
        "{}: imported {} top-level modules of {} distributions in /venv: {}",
        o.name,
        imported.len(),
        report["distributions"],
        imported.join(" ")
    );
    o.check(failed.is_empty(), || {
        format!(
            "in the image, these top-level modules of /venv do not import:\n  {}",
            failed.join("\n  ")
        )
    });
    for want in ["django"].iter().chain(&case.imports) {
        o.check(imported.iter().any(|m| m == want), || {
            format!(
                "importing every module in /venv did not import {want}; it imported {imported:?}"
            )
        });
    }
}

/// One of the case's own commands, in the running container.
fn run_in_image(o: &mut Outcome, server: &Server, check: &InImage) {
    let InImage {
        what,
        script,
        expect,
    } = check;
    let out = match server.exec(script) {
        Ok(out) => out,
        Err(e) => return o.fail(format!("{what}: running `{script}` in the container: {e}")),
    };
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let ok = match expect {
        Expect::Succeeds => out.status.success(),
        Expect::FailsWith(text) => !out.status.success() && combined(&out).contains(text),
        Expect::Prints(want) => out.status.success() && stdout == *want,
        Expect::PrintsNothing => out.status.success() && stdout.is_empty(),
    };
    say!(
        "{}: in the image: {what}: {}",
        o.name,
        if ok { "yes" } else { "NO" }
    );
    o.check(ok, || {
        format!(
            "in the image, not true: {what}\n`{script}` exited with {} (want {expect:?}):\n{}",
            out.status,
            combined(&out)
        )
    });
}

fn check_log(o: &mut Outcome) {
    let bad: Vec<&str> = o
        .server_log
        .lines()
        .filter(|l| {
            ["ERROR", "Traceback", "Exception"]
                .iter()
                .any(|w| l.contains(w))
        })
        .collect();
    let bad_text = bad.join("\n");
    let log = o.server_log.clone();
    o.check(bad.is_empty(), || {
        format!("the server log has error lines:\n{bad_text}\n\nfull server log:\n{log}")
    });
}

fn check_rebuild_cache(o: &mut Outcome) {
    let out = o.rebuild_output.clone();
    match find_step(&out, is_dependency_step) {
        Some(step) => o.check(step.cached, || {
            format!(
                "after a one-line code change the dependency step was not taken from the cache: {:?}\nrebuild output:\n{out}",
                step.instruction
            )
        }),
        None => o.fail(format!(
            "no dependency-install step (RUN pip install / uv sync / poetry install) in the rebuild output:\n{out}"
        )),
    }
    match find_step(&out, is_copy_all_step) {
        Some(step) => o.check(!step.cached, || {
            format!(
                "after a code change the code step {:?} still came from the cache\nrebuild output:\n{out}",
                step.instruction
            )
        }),
        None => o.fail(format!(
            "no `COPY . <dest>` step in the rebuild output:\n{out}"
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Cloud Build's cache: the generated steps, on Docker's classic builder
// ---------------------------------------------------------------------------------------------

/// Cloud Build starts every build with an empty Docker cache. The generated cloudbuild.yaml
/// pulls the previous build's images and builds with them as `--cache-from`; this runs its
/// Docker steps as Cloud Build does (tests/e2e/cloudbuild.py) on a Docker engine and registry
/// of the tier's own (tests/e2e/engine.sh), twice, with every local image but the base ones
/// removed before each build, and a one-line code change between them.
#[test]
#[ignore = "end-to-end: needs dockerd and docker-registry (run tests/e2e/setup.sh)"]
fn cloud_build_reuses_the_pulled_images_after_a_code_change() {
    let engine = DockerEngine::start().unwrap_or_else(|e| panic!("{e}"));
    let root = TempDir::new().expect("temporary folder");
    let project = root.path().join("mysite");
    copy_tree(Path::new("examples/mysite"), &project).expect("copy examples/mysite");
    let mut init = Command::new(djrun_bin());
    init.arg("init")
        .arg(&project)
        .args(["--yes", "--project", PROJECT_ID, "--region", REGION])
        .args(["--service", "mysite", "--public", "--python", "3.13"])
        .args(["--database", "none", "--media", "none", "--allow-dirty"])
        .env("NO_COLOR", "1");
    let out = run(&mut init).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "djrun init failed:\n{}",
        combined(&out)
    );
    let image = format!("{}/{PROJECT_ID}/djrun/mysite", engine.registry);

    say!("cloud build cache: the first build, with nothing to pull");
    let first = engine
        .cloud_build(&project, &image)
        .unwrap_or_else(|e| panic!("{e}"));
    let pulls = step_output(&first, "pull-cache");
    assert_eq!(
        pulls.matches("not found").count(),
        2,
        "the first build's pull-cache step should find neither :build-stage nor :latest, and go on:\n{pulls}"
    );
    let cold = find_step(&step_output(&first, "build-stage"), is_dependency_step)
        .unwrap_or_else(|| panic!("no dependency step in the first build-stage step:\n{first}"));
    assert!(
        !cold.cached,
        "the first build took its dependency step from a cache it cannot have:\n{first}"
    );

    fs::OpenOptions::new()
        .append(true)
        .open(project.join("mysite/urls.py"))
        .and_then(|mut f| f.write_all(b"# a one-line change\n"))
        .expect("change mysite/urls.py");
    say!("cloud build cache: the second build, after a code change, from the pulled images alone");
    let second = engine
        .cloud_build(&project, &image)
        .unwrap_or_else(|e| panic!("{e}"));
    let pulls = step_output(&second, "pull-cache");
    assert!(
        !pulls.contains("not found")
            && pulls.matches("Status: Downloaded newer image").count() == 2,
        "the second build's pull-cache step should pull both images the first one pushed:\n{pulls}"
    );
    // The build stage comes from the pulled :build-stage (the build step after it finds that
    // stage built locally), and the final stage's layers from the pulled :latest.
    let stage = step_output(&second, "build-stage");
    let deps = find_step(&stage, is_dependency_step)
        .unwrap_or_else(|| panic!("no dependency step in the build-stage step:\n{stage}"));
    assert!(deps.cached, "the build-stage step reinstalled the dependencies ({:?}) although the pulled :build-stage holds them:\n{stage}", deps.instruction);
    let build = step_output(&second, "build");
    let venv = find_step(&build, |i| i.starts_with("COPY --from=build /venv"))
        .unwrap_or_else(|| panic!("no COPY --from=build /venv in the build step:\n{build}"));
    assert!(
        venv.cached,
        "the final stage copied /venv again although the build stage came from the cache:\n{build}"
    );
    let code = find_step(&build, is_copy_all_step)
        .unwrap_or_else(|| panic!("no COPY . in the build step:\n{build}"));
    assert!(
        !code.cached,
        "the changed code came from the cache:\n{build}"
    );
}

/// What one step printed, between the runner's `cloudbuild: step ID:` lines.
fn step_output(log: &str, id: &str) -> String {
    let marker = format!("cloudbuild: step {id}: ");
    let mut inside = false;
    let mut text = String::new();
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix(&marker) {
            inside = !rest.starts_with("exit ");
            continue;
        }
        if line.starts_with("cloudbuild: ") {
            inside = false;
        } else if inside {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

/// The tier's own dockerd and registry (tests/e2e/engine.sh), stopped when dropped.
struct DockerEngine {
    docker_host: String,
    registry: String,
}

impl DockerEngine {
    fn start() -> Result<DockerEngine, String> {
        let out = run(&mut engine_sh("start"))?;
        if !out.status.success() {
            return Err(format!(
                "tests/e2e/engine.sh start failed; {SETUP_HINT}:\n{}",
                combined(&out)
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let value = |key: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_string)
                .ok_or_else(|| format!("tests/e2e/engine.sh start printed no {key}:\n{stdout}"))
        };
        let engine = DockerEngine {
            docker_host: value("DOCKER_HOST")?,
            registry: value("REGISTRY")?,
        };
        say!(
            "cloud build cache: dockerd on {}, registry on {}",
            engine.docker_host,
            engine.registry
        );
        Ok(engine)
    }

    /// cloudbuild.yaml's Docker steps and `images:`, with `_IMAGE` in the tier's registry, on
    /// an engine that has no image but the stand-in bases: the empty cache a Cloud Build
    /// starts with (tests/e2e/engine.sh reset).
    fn cloud_build(&self, project: &Path, image: &str) -> Result<String, String> {
        let out = run(engine_sh("reset").env("DOCKER_HOST", &self.docker_host))?;
        if !out.status.success() {
            return Err(format!(
                "tests/e2e/engine.sh reset failed:\n{}",
                combined(&out)
            ));
        }
        let python = tools_bin()?.join("python");
        let runner = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/cloudbuild.py");
        let mut cmd = Command::new(python);
        cmd.arg(runner)
            .arg(project.join("cloudbuild.yaml"))
            .args(["--project", PROJECT_ID, "-s"])
            .arg(format!("_IMAGE={image}"))
            .env("DOCKER_HOST", &self.docker_host)
            .stdin(Stdio::null());
        let started = Instant::now();
        let out = run(&mut cmd)?;
        say!(
            "cloud build cache: the Cloud Build steps took {:.0?}",
            started.elapsed()
        );
        let text = combined(&out);
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!(
                "the Cloud Build steps failed ({}):\n{text}",
                out.status
            ))
        }
    }
}

/// `bash tests/e2e/engine.sh ACTION`.
fn engine_sh(action: &str) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg("tests/e2e/engine.sh").arg(action);
    cmd
}

impl Drop for DockerEngine {
    fn drop(&mut self) {
        let _ = run(&mut engine_sh("stop"));
    }
}

// ---------------------------------------------------------------------------------------------
// What the deploy attaches, the jobs it runs, and Cloud Run's own variables
// ---------------------------------------------------------------------------------------------

/// The stand-ins for what the deploy attaches to the service and its jobs, alive for one case.
struct Attached {
    postgres: Option<Postgres>,
    storage: Option<StorageEmulator>,
    trap: Option<Trap>,
    /// Test-only variables every container of the case gets (the emulator's address, the
    /// trap's proxy): never part of the generated files.
    env: Vec<(String, String)>,
    mounts: Vec<Mount>,
}

impl Attached {
    fn start(
        o: &mut Outcome,
        case: &Case,
        deploy: &Deploy,
        service: &str,
    ) -> Result<Attached, String> {
        let mut attached = Attached {
            postgres: None,
            storage: None,
            trap: None,
            env: Vec::new(),
            mounts: Vec::new(),
        };
        if !case.database && !case.media {
            return Ok(attached);
        }
        // Anything in the containers that would leave the machine goes to the trap instead.
        let trap = Trap::start()?;
        attached.env.extend(trap.env());
        attached.trap = Some(trap);
        if case.database {
            let want = expected_sql_instance(&case.init_args, service);
            let deployed = deploy.cloudsql.clone();
            o.check(deployed == [want.clone()], || {
                format!("the deploy attaches the Cloud SQL instances {deployed:?}, want [{want:?}] (--add-cloudsql-instances)")
            });
            let instance = deployed.first().cloned().unwrap_or(want);
            let database = service.replace('-', "_");
            let pg = Postgres::start(&instance, &database, &database)?;
            attached.mounts.push(Mount {
                host: pg.cloudsql_dir(),
                container: CLOUDSQL_MOUNT,
            });
            attached.postgres = Some(pg);
        }
        if case.media {
            let bucket = deploy
                .env
                .iter()
                .find(|(k, _)| k == "GS_BUCKET_NAME")
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    format!(
                        "the deploy does not set GS_BUCKET_NAME (--update-env-vars: {:?})",
                        deploy.env
                    )
                })?;
            let log = o.dir.path().join("storage-emulator.log");
            let storage = StorageEmulator::start(&tools_bin()?, &bucket, &log)?;
            // google-cloud-storage sends every request there and uses anonymous
            // credentials when STORAGE_EMULATOR_HOST is set; it takes the project from
            // GOOGLE_CLOUD_PROJECT rather than asking the metadata server.
            attached
                .env
                .push(("STORAGE_EMULATOR_HOST".into(), storage.host()));
            attached
                .env
                .push(("GOOGLE_CLOUD_PROJECT".into(), PROJECT_ID.into()));
            attached.storage = Some(storage);
        }
        Ok(attached)
    }

    /// No container tried to reach a host other than loopback.
    fn check_nothing_left(&self, o: &mut Outcome) {
        if let Some(trap) = &self.trap {
            let seen = trap.seen();
            o.check(seen.is_empty(), || {
                format!("the containers tried to reach hosts off this machine (caught on loopback, never sent):\n{}", seen.join("\n"))
            });
        }
    }
}

/// The running service, for the case's checks.
struct Live<'a> {
    port: u16,
    host: &'a str,
    attached: &'a Attached,
}

/// The built image, for running job tasks of it.
struct Image<'a> {
    engine: Engine,
    service: &'a str,
    tag: &'a str,
    config: &'a ImageConfig,
}

impl Image<'_> {
    fn run_job(
        &self,
        argv: &[String],
        env: &[(String, String)],
        mounts: &[Mount],
    ) -> Result<Output, String> {
        self.engine
            .run_job(self.service, self.tag, self.config, argv, env, mounts)
    }
}

/// `--sql-instance NAME` (or `PROJECT:REGION:NAME`) among the init flags, else `<service>-db`.
fn expected_sql_instance(init_args: &[&str], service: &str) -> String {
    let named = init_args
        .iter()
        .position(|a| *a == "--sql-instance")
        .and_then(|i| init_args.get(i + 1))
        .map(|s| s.to_string())
        .or_else(|| {
            init_args
                .iter()
                .find_map(|a| a.strip_prefix("--sql-instance=").map(str::to_string))
        });
    match named {
        Some(full) if full.contains(':') => full,
        Some(name) => format!("{PROJECT_ID}:{REGION}:{name}"),
        None => format!("{PROJECT_ID}:{REGION}:{service}-db"),
    }
}

fn is_database_url(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    name.contains("DATABASE_URL") || name == "DB_URL" || name.ends_with("_DB_URL")
}

/// A job task's environment: `--set-env-vars`, a test value per `--set-secrets`, and the
/// case's test-only variables.
fn job_env(
    attached: &Attached,
    job: &Job,
    secret_value: &dyn Fn(&str) -> String,
) -> Vec<(String, String)> {
    let mut env = job.env.clone();
    for (name, _secret) in &job.secrets {
        env.push((name.clone(), secret_value(name)));
    }
    env.extend(attached.env.iter().cloned());
    env
}

/// What Cloud Run sets in a job's task (and not PORT or K_SERVICE).
fn cloud_run_job_env(job: &str) -> Vec<(String, String)> {
    [
        ("CLOUD_RUN_JOB", job.to_string()),
        ("CLOUD_RUN_EXECUTION", format!("{job}-x7k2p")),
        ("CLOUD_RUN_TASK_INDEX", "0".to_string()),
        ("CLOUD_RUN_TASK_COUNT", "1".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// What Cloud Run sets in a service's container.
fn cloud_run_service_env(service: &str, port: u16, revision: u32) -> Vec<(String, String)> {
    [
        ("PORT", port.to_string()),
        ("K_SERVICE", service.to_string()),
        ("K_REVISION", format!("{service}-{revision:05}-abc")),
        ("K_CONFIGURATION", service.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The migrate step as the contract says: after the push and before the deploy, the image
/// the deploy gets, the same instance, secrets and env, run once and waited for.
fn check_migrate_step(o: &mut Outcome, deploy: &Deploy, job: &Job) {
    let ids: Vec<&str> = deploy
        .step_ids
        .iter()
        .map(String::as_str)
        .filter(|id| !id.is_empty())
        .collect();
    // The cache steps come first; what matters is that the image is built and pushed before
    // the migrate job, and the job runs before the deploy.
    let want = [
        "pull-cache",
        "build-stage",
        "build",
        "push",
        "migrate",
        "deploy",
    ];
    o.check(ids == want, || {
        format!("cloudbuild.yaml's steps are {ids:?}, want {want:?} in that order")
    });
    o.check(job.name == format!("{}-migrate", deploy.service), || {
        format!(
            "the migrate job is called {:?}, want {:?}",
            job.name,
            format!("{}-migrate", deploy.service)
        )
    });
    let image = format!(
        "{REGION}-docker.pkg.dev/{PROJECT_ID}/cloud-run-source-deploy/{}:{BUILD_ID}",
        deploy.service
    );
    o.check(job.image == image, || {
        format!(
            "the migrate job runs the image {:?}, not the one this build pushed ({image:?})",
            job.image
        )
    });
    o.check(job.cloudsql == deploy.cloudsql, || {
        format!(
            "the migrate job attaches {:?} but the service {:?}",
            job.cloudsql, deploy.cloudsql
        )
    });
    let names = |v: &[(String, String)]| -> Vec<String> {
        let mut n: Vec<String> = v.iter().map(|(k, _)| k.clone()).collect();
        n.sort();
        n
    };
    o.check(names(&job.secrets) == names(&deploy.secrets), || {
        format!(
            "the migrate job's secrets {:?} differ from the service's {:?}",
            job.secrets, deploy.secrets
        )
    });
    o.check(names(&job.env) == names(&deploy.env), || {
        format!(
            "the migrate job's env {:?} differs from the service's {:?}",
            job.env, deploy.env
        )
    });
    o.check(
        job.argv() == ["python", "manage.py", "migrate", "--noinput"],
        || {
            format!(
                "the migrate job runs {:?}, want python manage.py migrate --noinput",
                job.argv()
            )
        },
    );
    for (flag, want) in [
        ("--max-retries", "0"),
        ("--task-timeout", "30m"),
        ("--execute-now", ""),
        ("--wait", ""),
    ] {
        let got = job.flag(flag).map(str::to_string);
        o.check(got.as_deref() == Some(want), || {
            format!("the migrate job's {flag} is {got:?}, want {want:?} (a migration runs once, and the build waits for it)")
        });
    }
}

fn check_tables(o: &mut Outcome, attached: &Attached, want: &[&str]) {
    let Some(pg) = &attached.postgres else { return };
    match pg.tables() {
        Ok(tables) => {
            say!(
                "{}: tables after the migrate job: {}",
                o.name,
                tables.join(", ")
            );
            for table in want {
                o.check(tables.iter().any(|t| t == table), || {
                    format!("the migrate job made no table {table}; the database has {tables:?}")
                });
            }
        }
        Err(e) => o.fail(format!("list the tables the migrate job made: {e}")),
    }
}

/// `manage.py createsuperuser --noinput` as a job of the image, the way djrun's next steps
/// describe it: the migrate job's command, environment and instance, the user's name and
/// email as env vars and the password from a secret.
fn create_superuser(
    o: &mut Outcome,
    image: &Image,
    migrate: &Job,
    attached: &Attached,
    secret_value: &dyn Fn(&str) -> String,
    username: &str,
) {
    let password = random_secret();
    let mut argv = migrate.command.clone();
    argv.extend(["manage.py", "createsuperuser", "--noinput"].map(String::from));
    let mut env = job_env(attached, migrate, secret_value);
    env.extend([
        (
            "DJANGO_SUPERUSER_USERNAME".to_string(),
            username.to_string(),
        ),
        (
            "DJANGO_SUPERUSER_EMAIL".to_string(),
            format!("{username}@example.com"),
        ),
        ("DJANGO_SUPERUSER_PASSWORD".to_string(), password.clone()),
    ]);
    env.extend(cloud_run_job_env(&format!(
        "{}-createsuperuser",
        image.service
    )));
    match image.run_job(&argv, &env, &attached.mounts) {
        Ok(out) => {
            let text = combined(&out);
            o.job_output.push_str(&text);
            say!(
                "{}: createsuperuser exited with {}: {}",
                o.name,
                out.status,
                text.trim()
            );
            o.check(out.status.success(), || {
                format!(
                    "`{}` as a job exited with {}:\n{text}",
                    argv.join(" "),
                    out.status
                )
            });
            if let Some(pg) = &attached.postgres {
                let sql = format!(
                    "SELECT is_superuser, is_staff FROM auth_user WHERE username = '{username}'"
                );
                let rows = pg.query(&sql);
                o.check(matches!(&rows, Ok(r) if r == &["t|t"]), || {
                    format!("after createsuperuser, {sql} gave {rows:?}, want one row t|t")
                });
            }
            o.superuser_password = Some(password);
        }
        Err(e) => o.fail(format!("run createsuperuser as a job: {e}")),
    }
}

/// `manage.py check --deploy` with the service's environment: no issue at all, neither an
/// error nor a warning (the settings block sets HTTPS redirects and HSTS for Cloud Run).
fn manage_check_deploy(o: &mut Outcome, server: &Server) {
    let script = "python manage.py check --deploy";
    match server.exec(script) {
        Ok(out) => {
            let text = combined(&out);
            say!(
                "{}: `{script}` exited with {}:\n{}",
                o.name,
                out.status,
                text.trim_end()
            );
            o.check(
                out.status.success()
                    && !text.contains("ERRORS:")
                    && !text.contains("WARNINGS:")
                    && text.contains("System check identified no issues"),
                || format!("`{script}` reported issues (exit {}):\n{text}", out.status),
            );
        }
        Err(e) => o.fail(format!("running `{script}` in the container: {e}")),
    }
}

/// The admin login form as a browser posts it behind Cloud Run's TLS proxy: the CSRF cookie
/// and token from the form, Origin and Referer of the service URL, X-Forwarded-Proto https.
fn admin_login(o: &mut Outcome, live: &Live, username: &str, password: &str) {
    let origin = format!("https://{}", live.host);
    let form = match http_get(live.port, "/admin/login/?next=/admin/", live.host) {
        Ok(r) => r,
        Err(e) => return o.fail(format!("GET /admin/login/: {e}")),
    };
    let body = String::from_utf8_lossy(&form.body).to_string();
    let token = body
        .split("name=\"csrfmiddlewaretoken\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_string);
    let (Some(cookie), Some(token)) = (form.cookie("csrftoken"), token) else {
        return o.fail(format!(
            "GET /admin/login/ gave no csrftoken cookie or no csrfmiddlewaretoken in the form:\n{}",
            form.describe()
        ));
    };
    let body = format!(
        "csrfmiddlewaretoken={}&username={}&password={}&next=%2Fadmin%2F",
        url_encode(&token),
        url_encode(username),
        url_encode(password)
    );
    let cookie_header = format!("csrftoken={cookie}");
    let referer = format!("{origin}/admin/login/?next=/admin/");
    let headers = [
        ("X-Forwarded-Proto", "https"),
        ("Cookie", cookie_header.as_str()),
        ("Origin", origin.as_str()),
        ("Referer", referer.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    match http_request(
        live.port,
        "POST",
        "/admin/login/?next=/admin/",
        live.host,
        &headers,
        body.as_bytes(),
    ) {
        Ok(r) => {
            let session = r.cookie("sessionid");
            let secure = r
                .headers("set-cookie")
                .iter()
                .any(|c| c.starts_with("sessionid=") && c.to_ascii_lowercase().contains("secure"));
            let ok =
                r.status == 302 && r.header("location") == Some("/admin/") && session.is_some();
            say!(
                "{}: admin login as {username}: {} to {:?}",
                o.name,
                r.status,
                r.header("location")
            );
            o.check(ok, || {
                format!("POST /admin/login/ as the superuser answered {} (want 302 to /admin/ with a sessionid cookie):\n{}", r.status, r.describe())
            });
            o.check(!ok || secure, || {
                format!("the sessionid cookie is not Secure:\n{}", r.describe())
            });
            if let Some(session) = session {
                let cookie = format!("sessionid={session}");
                let r = http_request(
                    live.port,
                    "GET",
                    "/admin/",
                    live.host,
                    &[("X-Forwarded-Proto", "https"), ("Cookie", &cookie)],
                    &[],
                );
                let ok = matches!(&r, Ok(r) if r.status == 200 && String::from_utf8_lossy(&r.body).contains("Site administration"));
                o.check(ok, || {
                    format!(
                        "GET /admin/ with the session did not show the admin index: {}",
                        r.map_or_else(|e| e, |r| r.describe())
                    )
                });
            }
        }
        Err(e) => o.fail(format!("POST /admin/login/: {e}")),
    }
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A multipart/form-data body with text fields and files (name, filename, bytes); returns
/// the Content-Type with its boundary, and the body.
fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = format!("djrun-e2e-{}", &random_secret()[11..27]);
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .into_bytes(),
        );
    }
    for (name, filename, bytes) in files {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .into_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").into_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

// ---------------------------------------------------------------------------------------------
// Container engines
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    Docker,
    Buildah,
}

struct Build {
    ok: bool,
    output: String,
}

#[derive(Debug, Default)]
struct ImageConfig {
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    env: Vec<String>,
    user: String,
    workdir: String,
}

impl ImageConfig {
    fn from_json(config: &Value) -> ImageConfig {
        let strings = |key: &str| -> Vec<String> {
            config[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let string = |key: &str| config[key].as_str().unwrap_or_default().to_string();
        ImageConfig {
            entrypoint: strings("Entrypoint"),
            cmd: strings("Cmd"),
            env: strings("Env"),
            user: string("User"),
            workdir: string("WorkingDir"),
        }
    }

    /// What the container runs: ENTRYPOINT followed by CMD.
    fn argv(&self) -> Vec<String> {
        self.entrypoint.iter().chain(&self.cmd).cloned().collect()
    }
}

impl Engine {
    fn detect() -> Engine {
        let docker_ok = Command::new("docker")
            .arg("info")
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success());
        if docker_ok {
            say!("engine: Docker (`docker info` succeeded)");
            return Engine::Docker;
        }
        let buildah = Command::new("buildah")
            .arg("--version")
            .stdin(Stdio::null())
            .output();
        match buildah {
            Ok(out) if out.status.success() => {
                say!(
                    "engine: {} ({}), since `docker info` failed",
                    Engine::Buildah.describe(),
                    String::from_utf8_lossy(&out.stdout).trim()
                );
                Engine::Buildah
            }
            _ => panic!(
                "no container engine: `docker info` fails (no Docker daemon) and buildah is not \
                 installed. The end-to-end tier needs one of them; {SETUP_HINT}"
            ),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Buildah => {
                "buildah (overlay storage of the tier's own, chroot isolation, --pull-never)"
            }
        }
    }

    fn program(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Buildah => "buildah",
        }
    }

    fn cmd(self) -> Command {
        let mut cmd = Command::new(self.program());
        if self == Engine::Buildah {
            cmd.args(storage_args());
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    /// buildah never pulls here (`--pull-never`): every `FROM` must already be in storage.
    fn require_base_images(self, dockerfile: &str) -> Result<(), String> {
        if self == Engine::Docker {
            return Ok(());
        }
        for image in base_images(dockerfile) {
            let present = self
                .cmd()
                .args(["inspect", "--type", "image", &image])
                .output()
                .is_ok_and(|o| o.status.success());
            if !present {
                return Err(format!(
                    "the Dockerfile's base image {image} is not in the tier's buildah store \
                     ({}) and cannot be pulled here; {SETUP_HINT} (it provides python:3.13 and python:3.13-slim)",
                    storage_root().display()
                ));
            }
        }
        Ok(())
    }

    /// `docker build -f <dockerfile> -t <tag> <context>`, as Cloud Build's build step runs it.
    fn build(self, context: &Path, dockerfile: &Path, tag: &str) -> Build {
        let mut cmd = self.cmd();
        match self {
            Engine::Docker => cmd.arg("build"),
            // --layers: keep intermediate images so a rebuild can use them, as docker does;
            // --force-rm: no working container left behind by a failed step.
            Engine::Buildah => cmd.args([
                "bud",
                "--layers",
                "--force-rm",
                "--isolation",
                "chroot",
                "--pull-never",
            ]),
        };
        cmd.arg("-f").arg(dockerfile).args(["-t", tag]).arg(context);
        let build = build_once(&mut cmd);
        // buildah's chroot isolation runs each RUN from a sealed in-memory copy of itself, and
        // the kernel sometimes refuses the seal under load (EBUSY) before the step's command
        // starts: an engine hiccup, not the Dockerfile's. One retry, from the layers already
        // built; any other failure is the build's.
        if !build.ok && self == Engine::Buildah && build.output.contains(BUILDAH_SEAL_FLAKE) {
            say!("buildah could not start a RUN step ({BUILDAH_SEAL_FLAKE}): building again");
            return build_once(&mut cmd);
        }
        build
    }

    fn inspect_json(self, tag: &str) -> Result<Value, String> {
        let mut cmd = self.cmd();
        match self {
            Engine::Docker => cmd.args(["image", "inspect", tag]),
            Engine::Buildah => cmd.args(["inspect", "--type", "image", tag]),
        };
        let out = run_ok(&mut cmd)?;
        serde_json::from_slice(&out.stdout).map_err(|e| format!("parse inspect output: {e}"))
    }

    /// Everything the engine tells about the image, history included, as text.
    fn inspect_text(self, tag: &str) -> Result<String, String> {
        let mut text = serde_json::to_string_pretty(&self.inspect_json(tag)?).unwrap_or_default();
        if self == Engine::Docker {
            let out = run_ok(self.cmd().args(["history", "--no-trunc", tag]))?;
            text.push_str(&String::from_utf8_lossy(&out.stdout));
        }
        Ok(text)
    }

    fn image_config(self, tag: &str) -> Result<ImageConfig, String> {
        let json = self.inspect_json(tag)?;
        let config = match self {
            Engine::Docker => &json[0]["Config"],
            Engine::Buildah => &json["OCIv1"]["config"],
        };
        if config.is_null() {
            return Err(format!("no image config in inspect output: {json}"));
        }
        Ok(ImageConfig::from_json(config))
    }

    fn image_id(self, tag: &str) -> Result<String, String> {
        let json = self.inspect_json(tag)?;
        let id = match self {
            Engine::Docker => &json[0]["Id"],
            Engine::Buildah => &json["FromImageID"],
        };
        id.as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("no image id for {tag}"))
    }

    /// Starts the image's command in the background, stdout and stderr into `log`, in a
    /// process group of its own so that it can be stopped whole.
    fn serve(
        self,
        service: &str,
        tag: &str,
        config: &ImageConfig,
        (deploy_env, mounts): (&[(String, String)], &[Mount]),
        port: u16,
        log: &Path,
    ) -> Result<Server, String> {
        let marker = format!(
            "DJRUN_E2E_RUN={}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        let prefix = format!("djrun-e2e-{service}-");
        self.remove_stale_containers(&prefix);
        let container = format!("{prefix}{}", std::process::id());
        let mut server = Server {
            engine: self,
            child: None,
            container: String::new(),
            marker: marker.clone(),
            user: config.user.clone(),
            workdir: config.workdir.clone(),
            env: deploy_env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            mounts: mounts.to_vec(),
        };
        let mut cmd = self.cmd();
        match self {
            Engine::Docker => {
                server.container = container.clone();
                cmd.args(["run", "--rm", "--name", &container]);
                if mounts.is_empty() {
                    cmd.args(["-p", &format!("127.0.0.1:{port}:{port}")]);
                } else {
                    // The stand-ins for Google's services listen on the host's loopback.
                    cmd.args(["--network", "host"]);
                }
                for m in mounts {
                    cmd.args(["-v", &m.arg()]);
                }
                for (k, v) in deploy_env {
                    cmd.args(["-e", &format!("{k}={v}")]);
                }
                cmd.args(["-e", &marker, tag]);
            }
            Engine::Buildah => {
                let out =
                    run_ok(
                        self.cmd()
                            .args(["from", "--pull-never", "--name", &container, tag]),
                    )?;
                server.container = String::from_utf8_lossy(&out.stdout).trim().to_string();
                let argv = config.argv();
                if argv.is_empty() {
                    return Err("the image has no CMD to run".to_string());
                }
                cmd.args(["run", "--isolation", "chroot"]);
                if !config.user.is_empty() {
                    cmd.args(["--user", &config.user]);
                }
                if !config.workdir.is_empty() {
                    cmd.args(["--workingdir", &config.workdir]);
                }
                for m in mounts {
                    cmd.args(["--volume", &m.arg()]);
                }
                let env = config
                    .env
                    .iter()
                    .cloned()
                    .chain(deploy_env.iter().map(|(k, v)| format!("{k}={v}")))
                    .chain([marker.clone()]);
                for kv in env {
                    cmd.args(["--env", &kv]);
                }
                cmd.arg(&server.container).arg("--").args(argv);
            }
        }
        let log_file =
            fs::File::create(log).map_err(|e| format!("create {}: {e}", log.display()))?;
        let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
        cmd.stdout(log_file).stderr(log_err).process_group(0);
        say!("{}", show_command(&cmd));
        let child = cmd
            .spawn()
            .map_err(|e| format!("start {}: {e}", show_command(&cmd)))?;
        server.child = Some(child);
        Ok(server)
    }
}

impl Engine {
    /// One task of a Cloud Run job: a fresh container of the image, its USER and WORKDIR, the
    /// image's Env then `env`, `argv` instead of ENTRYPOINT and CMD (`--command`, `--args`),
    /// and the mounts; waits for it to end. The container is removed afterwards.
    fn run_job(
        self,
        service: &str,
        tag: &str,
        config: &ImageConfig,
        argv: &[String],
        env: &[(String, String)],
        mounts: &[Mount],
    ) -> Result<Output, String> {
        let (program, args) = argv.split_first().ok_or("the job has no --command")?;
        let prefix = format!("djrun-e2e-{service}-");
        self.remove_stale_containers(&prefix);
        let name = format!("{prefix}job-{}", std::process::id());
        let mut cmd = self.cmd();
        let created = match self {
            Engine::Docker => {
                cmd.args(["run", "--rm", "--name", &name, "--network", "host"]);
                if !config.user.is_empty() {
                    cmd.args(["--user", &config.user]);
                }
                if !config.workdir.is_empty() {
                    cmd.args(["--workdir", &config.workdir]);
                }
                for (k, v) in env {
                    cmd.args(["-e", &format!("{k}={v}")]);
                }
                for m in mounts {
                    cmd.args(["-v", &m.arg()]);
                }
                cmd.args(["--entrypoint", program, tag]).args(args);
                None
            }
            Engine::Buildah => {
                let out = run_ok(
                    self.cmd()
                        .args(["from", "--pull-never", "--name", &name, tag]),
                )?;
                let ctr = String::from_utf8_lossy(&out.stdout).trim().to_string();
                cmd.args(["run", "--isolation", "chroot"]);
                if !config.user.is_empty() {
                    cmd.args(["--user", &config.user]);
                }
                if !config.workdir.is_empty() {
                    cmd.args(["--workingdir", &config.workdir]);
                }
                for m in mounts {
                    cmd.args(["--volume", &m.arg()]);
                }
                let env = config
                    .env
                    .iter()
                    .cloned()
                    .chain(env.iter().map(|(k, v)| format!("{k}={v}")));
                for kv in env {
                    cmd.args(["--env", &kv]);
                }
                cmd.arg(&ctr).arg("--").arg(program).args(args);
                Some(ctr)
            }
        };
        say!("{}", show_command(&cmd));
        let started = Instant::now();
        let result = run(&mut cmd);
        say!("the job task took {:.1?}", started.elapsed());
        if let Some(ctr) = created {
            let _ = self.cmd().args(["rm", &ctr]).output();
        }
        result
    }

    /// Containers of this service left by a run that was killed before it could clean up.
    fn remove_stale_containers(self, prefix: &str) {
        let mut list = self.cmd();
        match self {
            Engine::Docker => list.args(["ps", "-a", "--format", "{{.Names}}"]),
            Engine::Buildah => list.args([
                "containers",
                "--noheading",
                "--format",
                "{{.ContainerName}}",
            ]),
        };
        let Ok(out) = run(&mut list) else { return };
        for name in String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|n| n.starts_with(prefix))
        {
            say!("removing stale container {name}");
            let mut rm = self.cmd();
            match self {
                Engine::Docker => rm.args(["rm", "-f", name]),
                Engine::Buildah => rm.args(["rm", name]),
            };
            let _ = rm.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
    }

    /// The files of the image (as a fresh container has them) that contain any of `needles`.
    fn files_containing(
        self,
        service: &str,
        tag: &str,
        needles: &[&str],
    ) -> Result<Vec<String>, String> {
        let prefix = format!("djrun-e2e-{service}-");
        self.remove_stale_containers(&prefix);
        let name = format!("{prefix}scan-{}", std::process::id());
        // -r follows no symbolic links; -D skip reads no device or FIFO; -a reads binaries.
        let mut grep = Command::new("grep");
        grep.args(["-r", "-l", "-F", "-a", "-D", "skip"]);
        for needle in needles {
            grep.args(["-e", needle]);
        }
        let result = match self {
            Engine::Buildah => {
                let out = run_ok(
                    self.cmd()
                        .args(["from", "--pull-never", "--name", &name, tag]),
                )?;
                let ctr = String::from_utf8_lossy(&out.stdout).trim().to_string();
                let result = run_ok(self.cmd().args(["mount", &ctr])).and_then(|out| {
                    let root = String::from_utf8_lossy(&out.stdout).trim().to_string();
                    let out = run(grep.arg("--").arg(&root))?;
                    let found: Vec<String> = String::from_utf8_lossy(&out.stdout)
                        .lines()
                        .map(|l| l.strip_prefix(root.as_str()).unwrap_or(l).to_string())
                        .collect();
                    match out.status.code() {
                        Some(0 | 1) => Ok(found),
                        _ => Err(format!(
                            "{} exited with {}:\n{}",
                            show_command(&grep),
                            out.status,
                            combined(&out)
                        )),
                    }
                });
                let _ = self.cmd().args(["umount", &ctr]).output();
                let _ = self.cmd().args(["rm", &ctr]).output();
                result
            }
            Engine::Docker => {
                run_ok(self.cmd().args(["create", "--name", &name, tag]))?;
                let result = (|| {
                    let mut export = self
                        .cmd()
                        .args(["export", &name])
                        .stdout(Stdio::piped())
                        .spawn()
                        .map_err(|e| format!("docker export: {e}"))?;
                    let tar = export.stdout.take().ok_or("docker export has no stdout")?;
                    let out = grep
                        .arg("-")
                        .stdin(tar)
                        .output()
                        .map_err(|e| format!("grep: {e}"))?;
                    let _ = export.wait();
                    match out.status.code() {
                        Some(0) => Ok(vec!["(in `docker export` of the image)".to_string()]),
                        Some(1) => Ok(Vec::new()),
                        _ => Err(format!("grep exited with {}", out.status)),
                    }
                })();
                let _ = self.cmd().args(["rm", "-f", &name]).output();
                result
            }
        };
        result
    }
}

/// The image ids a build printed for its steps (buildah `--> 1a2b..`, docker's legacy
/// builder ` ---> 1a2b..`), in order.
fn intermediate_ids(build_output: &str) -> Vec<String> {
    build_output
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let id = l
                .strip_prefix("--->")
                .or_else(|| l.strip_prefix("-->"))?
                .trim();
            (id.len() >= 10 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_string())
        })
        .collect()
}

/// Removes the images it names when dropped (also on panic), and with them buildah's
/// intermediate layers that nothing else uses.
struct ImageGuard {
    engine: Engine,
    /// The tag and the final images, removed with `rmi -f`.
    refs: Vec<String>,
    /// The images buildah committed for each step (`--layers`), the earlier stages' last
    /// images among them: nothing tags those, so `rmi` of the final image leaves them behind.
    intermediates: Vec<String>,
}

impl ImageGuard {
    fn remove_all(&self) {
        for image in &self.refs {
            let _ = self
                .engine
                .cmd()
                .args(["rmi", "-f", image])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        // Latest first; removing an image removes its unused parents, so most of these are
        // gone already, and an image something else still uses stays (no -f).
        for image in self.intermediates.iter().rev() {
            let _ = self
                .engine
                .cmd()
                .args(["rmi", image])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for ImageGuard {
    fn drop(&mut self) {
        self.remove_all();
    }
}

/// The running image. Dropping it stops the server and removes its container.
struct Server {
    engine: Engine,
    child: Option<Child>,
    container: String,
    /// `NAME=value` put into the server's environment, to find its processes in /proc.
    marker: String,
    user: String,
    workdir: String,
    /// `NAME=value` the deploy and Cloud Run add to the image's Env, for `exec` too.
    env: Vec<String>,
    mounts: Vec<Mount>,
}

/// A host folder mounted into the containers (the Cloud SQL sockets at /cloudsql).
#[derive(Clone, Debug)]
struct Mount {
    host: PathBuf,
    container: &'static str,
}

impl Mount {
    fn arg(&self) -> String {
        format!("{}:{}", self.host.display(), self.container)
    }
}

#[derive(Debug)]
struct ProcInfo {
    pid: u32,
    uid: u32,
    euid: u32,
    cmdline: String,
}

impl Server {
    fn pgid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn wait_ready(&mut self, port: u16, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("the server exited ({status}) before listening"));
                }
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "nothing listened on 127.0.0.1:{port} within {timeout:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Processes of the container (not the engine's own helpers), found by the marker.
    fn server_processes(&self) -> Vec<ProcInfo> {
        let mut found: Vec<ProcInfo> = proc_pids()
            .into_iter()
            .filter(|&pid| proc_has_env(pid, &self.marker))
            .filter(|&pid| {
                let comm = proc_read(pid, "comm");
                !comm.starts_with("buildah") && !comm.starts_with("memfd:buildah")
            })
            .filter_map(proc_info)
            .collect();
        if found.is_empty() && self.engine == Engine::Docker {
            // Without root, /proc/<pid>/environ of the container's user is not readable.
            let pid = run_ok(self.engine.cmd().args([
                "inspect",
                "-f",
                "{{.State.Pid}}",
                &self.container,
            ]))
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse::<u32>()
                    .ok()
            });
            found.extend(pid.and_then(proc_info));
        }
        found
    }

    /// Runs `script` with `sh -c` in the running container, as the image's user, with the
    /// server's environment (as `docker exec` has it).
    fn exec(&self, script: &str) -> Result<Output, String> {
        let mut cmd = self.engine.cmd();
        match self.engine {
            Engine::Docker => cmd.args(["exec", &self.container, "sh", "-c", script]),
            Engine::Buildah => {
                cmd.args(["run", "--isolation", "chroot"]);
                if !self.user.is_empty() {
                    cmd.args(["--user", &self.user]);
                }
                if !self.workdir.is_empty() {
                    cmd.args(["--workingdir", &self.workdir]);
                }
                for kv in &self.env {
                    cmd.args(["--env", kv]);
                }
                for m in &self.mounts {
                    cmd.args(["--volume", &m.arg()]);
                }
                cmd.args([&self.container, "--", "sh", "-c", script])
            }
        };
        run(&mut cmd)
    }

    /// SIGTERM to the whole process group, SIGKILL after a grace period, then SIGKILL to
    /// anything that still carries the marker, and the container removed. Idempotent.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let group = format!("-{}", child.id());
            kill("-TERM", &group);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(100));
            }
            kill("-KILL", &group);
            let _ = child.wait();
        }
        for pid in proc_pids()
            .into_iter()
            .filter(|&pid| proc_has_env(pid, &self.marker))
        {
            kill("-KILL", &pid.to_string());
        }
        if !self.container.is_empty() {
            let mut cmd = self.engine.cmd();
            match self.engine {
                Engine::Docker => cmd.args(["rm", "-f", &self.container]),
                Engine::Buildah => cmd.args(["rm", &self.container]),
            };
            let _ = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
    }

    /// Whatever is still running from this server after `stop`.
    fn leftovers(&self) -> Vec<String> {
        let group = self.pgid();
        let mut left: Vec<String> = proc_pids()
            .into_iter()
            .filter(|&pid| {
                proc_has_env(pid, &self.marker) || (group.is_some() && proc_pgid(pid) == group)
            })
            .map(|pid| format!("pid {pid}: {}", proc_cmdline(pid)))
            .collect();
        let mut cmd = self.engine.cmd();
        match self.engine {
            Engine::Docker => cmd.args([
                "ps",
                "-aq",
                "--filter",
                &format!("name=^{}$", self.container),
            ]),
            Engine::Buildah => cmd.args([
                "containers",
                "--noheading",
                "--format",
                "{{.ContainerName}}",
            ]),
        };
        if let Ok(out) = run(&mut cmd) {
            let listed = String::from_utf8_lossy(&out.stdout).to_string();
            let still = match self.engine {
                Engine::Docker => !listed.trim().is_empty(),
                Engine::Buildah => listed.lines().any(|l| l.trim() == self.container),
            };
            if still {
                left.push(format!("container {} still exists", self.container));
            }
        }
        left
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn kill(signal: &str, target: &str) {
    let _ = Command::new("kill")
        .args([signal, "--", target])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

// ---------------------------------------------------------------------------------------------
// /proc
// ---------------------------------------------------------------------------------------------

fn proc_pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn proc_read(pid: u32, file: &str) -> String {
    fs::read(format!("/proc/{pid}/{file}"))
        .map(|b| String::from_utf8_lossy(&b).trim_end().to_string())
        .unwrap_or_default()
}

fn proc_has_env(pid: u32, marker: &str) -> bool {
    fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|&b| b == 0).any(|kv| kv == marker.as_bytes()))
}

fn proc_pgid(pid: u32) -> Option<u32> {
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    let stat = proc_read(pid, "stat");
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(2)?.parse().ok()
}

fn proc_cmdline(pid: u32) -> String {
    proc_read(pid, "cmdline")
        .replace('\0', " ")
        .trim()
        .to_string()
}

fn proc_info(pid: u32) -> Option<ProcInfo> {
    let status = proc_read(pid, "status");
    let uids: Vec<u32> = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    Some(ProcInfo {
        pid,
        uid: *uids.first()?,
        euid: *uids.get(1)?,
        cmdline: proc_cmdline(pid),
    })
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.0 over std TCP
// ---------------------------------------------------------------------------------------------

struct Response {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Response {
    /// Every value of a header, in order (Set-Cookie comes once per cookie).
    fn headers(&self, name: &str) -> Vec<&str> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then_some(value.trim())
            })
            .collect()
    }

    /// The value of the cookie `name` the response sets.
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers("set-cookie").into_iter().find_map(|c| {
            let (key, value) = c.split(';').next()?.split_once('=')?;
            (key.trim() == name).then(|| value.trim().to_string())
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }

    fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let body: String = body.chars().take(2000).collect();
        format!("{}\n\n{body}", self.head)
    }
}

/// `GET path` as Cloud Run's front end forwards it: the service host, and HTTPS said in
/// X-Forwarded-Proto since TLS ends before the container.
fn http_get(port: u16, path: &str, host: &str) -> Result<Response, String> {
    http_request(
        port,
        "GET",
        path,
        host,
        &[("X-Forwarded-Proto", "https")],
        &[],
    )
}

/// One HTTP/1.0 request to 127.0.0.1:port; a body gets its Content-Length.
fn http_request(
    port: u16,
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: djrun-e2e\r\nAccept: */*\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    stream
        .write_all(&bytes)
        .map_err(|e| format!("send request: {e}"))?;
    // No half-close: an ASGI server (uvicorn) reads the end of the client's side as a
    // disconnect and drops the response; HTTP/1.0 has the server close after it instead.
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("read response: {e}"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("malformed response: {:?}", String::from_utf8_lossy(&raw)))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in response head: {head:?}"))?;
    Ok(Response {
        status,
        head,
        body: raw[split + 4..].to_vec(),
    })
}

fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("find a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------
// Build output
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct Step {
    instruction: String,
    cached: bool,
}

/// A build step's header line: its id (BuildKit's `#N`, else empty) and its instruction.
/// buildah: `STEP 6/10: RUN ...` (multi-stage: `[1/2] STEP 6/10: RUN ...`);
/// docker's legacy builder: `Step 6/10 : RUN ...`; BuildKit plain progress: `#9 [4/6] RUN ...`.
fn step_header(line: &str) -> Option<(String, String)> {
    let line = line.trim();
    let unstaged = match line.strip_prefix('[') {
        Some(rest) if rest.contains("] STEP ") => rest.split_once("] ")?.1,
        _ => line,
    };
    if let Some(rest) = unstaged.strip_prefix("STEP ") {
        return Some((String::new(), rest.split_once(": ")?.1.to_string()));
    }
    if let Some(rest) = unstaged.strip_prefix("Step ") {
        return Some((String::new(), rest.split_once(" : ")?.1.to_string()));
    }
    let (id, rest) = line.split_once(' ')?;
    let digits = id.strip_prefix('#')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (stage, instruction) = rest.strip_prefix('[')?.split_once("] ")?;
    if !stage.contains('/') {
        return None; // [internal] steps
    }
    Some((id.to_string(), instruction.to_string()))
}

/// One run of an image build command, timed.
fn build_once(cmd: &mut Command) -> Build {
    say!("{}", show_command(cmd));
    let started = Instant::now();
    let result = run(cmd);
    say!("build took {:.0?}", started.elapsed());
    match result {
        Ok(out) => Build {
            ok: out.status.success(),
            output: combined(&out),
        },
        Err(e) => Build {
            ok: false,
            output: e,
        },
    }
}

/// The first step whose instruction matches, and whether the builder took it from its cache.
fn find_step(output: &str, matches: fn(&str) -> bool) -> Option<Step> {
    let lines: Vec<&str> = output.lines().collect();
    let (index, id, instruction) = lines.iter().enumerate().find_map(|(i, l)| {
        let (id, instruction) = step_header(l)?;
        matches(&instruction).then_some((i, id, instruction))
    })?;
    let cached = if id.is_empty() {
        lines[index + 1..]
            .iter()
            .take_while(|l| step_header(l).is_none())
            .any(|l| l.contains("Using cache"))
    } else {
        let done = format!("{id} CACHED");
        lines.iter().any(|l| l.trim() == done)
    };
    Some(Step {
        instruction,
        cached,
    })
}

fn is_dependency_step(instruction: &str) -> bool {
    instruction.starts_with("RUN ")
        && [
            "pip install",
            "pip --python /venv/bin/python install",
            "uv sync",
            "poetry install",
            "uv pip install",
        ]
        .iter()
        .any(|tool| instruction.contains(tool))
}

/// `COPY . <dest>`, with any `--flag`s.
fn is_copy_all_step(instruction: &str) -> bool {
    let words: Vec<&str> = instruction
        .split_whitespace()
        .filter(|w| !w.starts_with("--"))
        .collect();
    words.len() == 3 && words[0] == "COPY" && matches!(words[1], "." | "./")
}

/// The images a Dockerfile builds from, with `ARG` defaults filled in and stage names skipped.
fn base_images(dockerfile: &str) -> Vec<String> {
    let mut args: Vec<(String, String)> = Vec::new();
    let mut stages: Vec<String> = Vec::new();
    let mut images = Vec::new();
    for line in dockerfile.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        let keyword = words.next().unwrap_or_default().to_ascii_uppercase();
        if keyword == "ARG" {
            if let Some((name, value)) = words.next().and_then(|w| w.split_once('=')) {
                args.push((name.to_string(), value.trim_matches('"').to_string()));
            }
        } else if keyword == "FROM" {
            let rest: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
            let Some(image) = rest.first() else { continue };
            let mut image = image.to_string();
            for (name, value) in &args {
                image = image
                    .replace(&format!("${{{name}}}"), value)
                    .replace(&format!("${name}"), value);
            }
            if !stages.contains(&image) && image != "scratch" {
                images.push(image);
            }
            if rest.len() >= 3 && rest[1].eq_ignore_ascii_case("as") {
                stages.push(rest[2].to_string());
            }
        }
    }
    images
}

// ---------------------------------------------------------------------------------------------
// cloudbuild.yaml: what the build step builds and what the deploy step passes
// ---------------------------------------------------------------------------------------------

/// The parts of the generated cloudbuild.yaml the harness reproduces, substitutions applied.
#[derive(Clone, Debug, PartialEq)]
struct Deploy {
    /// The build step's context, relative to the folder `gcloud builds submit` runs in.
    context: String,
    /// The build step's `-f`/`--file`, relative to that folder, when it names one.
    dockerfile: Option<String>,
    service: String,
    region: String,
    /// `--update-env-vars` / `--set-env-vars`.
    env: Vec<(String, String)>,
    /// `--update-secrets` / `--set-secrets`: the variable and `secret:version`.
    secrets: Vec<(String, String)>,
    /// `--add-cloudsql-instances` / `--set-cloudsql-instances`: `PROJECT:REGION:INSTANCE`.
    cloudsql: Vec<String>,
    /// The steps' `id:`s in order (empty for a step without one).
    step_ids: Vec<String>,
    /// The `gcloud run jobs deploy ... --execute-now --wait` step that migrates before the
    /// deploy, when there is one.
    migrate: Option<Job>,
}

/// A Cloud Run job a build step deploys and runs, substitutions applied.
#[derive(Clone, Debug, PartialEq)]
struct Job {
    name: String,
    image: String,
    /// `--set-env-vars`: a job's whole environment besides the image's and Cloud Run's.
    env: Vec<(String, String)>,
    secrets: Vec<(String, String)>,
    cloudsql: Vec<String>,
    /// `--command` and `--args`: what runs instead of the image's ENTRYPOINT and CMD.
    command: Vec<String>,
    args: Vec<String>,
    /// Every `--flag[=value]` as given, for the checks of retries, waiting and timeouts.
    flags: Vec<(String, String)>,
}

impl Job {
    fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, v)| v.as_str())
    }

    /// What the job's task runs: `--command` then `--args`.
    fn argv(&self) -> Vec<String> {
        self.command.iter().chain(&self.args).cloned().collect()
    }
}

/// YAML to JSON with PyYAML, the parser setup.sh installs next to uv: a hand-made parser
/// for a subset of YAML would read some valid file differently from Cloud Build.
const YAML_TO_JSON: &str = "import json, sys, yaml\n\
                            with open(sys.argv[1], encoding='utf-8') as f:\n    \
                            json.dump(yaml.safe_load(f), sys.stdout)\n";

fn read_cloudbuild(path: &Path) -> Result<Deploy, String> {
    let python = tools_bin()?.join("python");
    let out = run_ok(Command::new(&python).args(["-c", YAML_TO_JSON]).arg(path))
        .map_err(|e| format!("parse {} as YAML: {e}", path.display()))?;
    let doc: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("read PyYAML's JSON for {}: {e}", path.display()))?;
    parse_cloudbuild(&doc).map_err(|e| format!("{}: {e}", path.display()))
}

fn parse_cloudbuild(doc: &Value) -> Result<Deploy, String> {
    let vars = substitutions(doc)?;
    let steps = doc["steps"].as_array().ok_or("no `steps:` list")?;
    let raw_args = |step: &Value| -> Vec<String> {
        step["args"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let args_of = |step: &Value| -> Result<Vec<String>, String> {
        raw_args(step)
            .iter()
            .map(|a| substitute(a, &vars))
            .collect()
    };

    // The build step: a docker builder running `build ... CONTEXT`.
    let build = steps
        .iter()
        .find(|s| {
            s["name"].as_str().is_some_and(|n| n.contains("docker"))
                && raw_args(s).first().is_some_and(|a| a == "build")
        })
        .ok_or("no step runs `docker build` (a docker builder with args starting with `build`)")?;
    let build_args = args_of(build)?;
    let context = build_args
        .last()
        .filter(|a| !a.starts_with('-') && build_args.len() > 1)
        .ok_or_else(|| format!("the build step's last arg is not a context: {build_args:?}"))?
        .clone();
    let mut dockerfile = None;
    for (i, arg) in build_args.iter().enumerate() {
        if let Some(file) = arg
            .strip_prefix("--file=")
            .or_else(|| arg.strip_prefix("-f="))
        {
            dockerfile = Some(file.to_string());
        } else if arg == "-f" || arg == "--file" {
            dockerfile = build_args.get(i + 1).cloned();
        }
    }

    // The deploy step: `gcloud run deploy SERVICE --flag=value ...`.
    let deploy = steps
        .iter()
        .find(|s| {
            raw_args(s)
                .windows(2)
                .any(|w| w[0] == "run" && w[1] == "deploy")
        })
        .ok_or("no step runs `gcloud run deploy` with its arguments as a list")?;
    let args = args_of(deploy)?;
    let at = args.iter().position(|a| a == "deploy").unwrap_or_default();
    let service = args
        .get(at + 1)
        .filter(|a| !a.starts_with('-'))
        .ok_or("`gcloud run deploy` names no service")?
        .clone();
    let flags = gcloud_flags(&args[at + 2..])?;
    let mut region = None;
    let mut env = Vec::new();
    let mut secrets = Vec::new();
    let mut cloudsql = Vec::new();
    for (flag, value) in &flags {
        match flag.as_str() {
            "--region" => region = Some(value.clone()),
            "--update-env-vars" | "--set-env-vars" => env.extend(gcloud_dict(value)?),
            "--update-secrets" | "--set-secrets" => secrets.extend(env_secrets(value)?),
            "--add-cloudsql-instances" | "--set-cloudsql-instances" => {
                cloudsql.extend(gcloud_list(value))
            }
            "--env-vars-file" => {
                return Err("the deploy reads --env-vars-file, which the harness does not".into())
            }
            _ => {}
        }
    }

    // The migrate step: `gcloud run jobs deploy JOB ... --execute-now --wait`, by its id.
    let migrate = match steps.iter().find(|s| s["id"] == "migrate") {
        None => {
            if let Some(job) = steps.iter().find(|s| {
                raw_args(s)
                    .windows(2)
                    .any(|w| w[0] == "run" && w[1] == "jobs")
            }) {
                return Err(format!(
                    "a step runs a Cloud Run job but none has `id: migrate`: {job}"
                ));
            }
            None
        }
        Some(step) => {
            let args = args_of(step)?;
            if args.len() < 4 || args[..3] != ["run", "jobs", "deploy"] {
                return Err(format!(
                    "the migrate step does not run `gcloud run jobs deploy JOB`: {args:?}"
                ));
            }
            let name = args[3].clone();
            let flags = gcloud_flags(&args[4..])?;
            let mut job = Job {
                name,
                image: String::new(),
                env: Vec::new(),
                secrets: Vec::new(),
                cloudsql: Vec::new(),
                command: Vec::new(),
                args: Vec::new(),
                flags: flags.clone(),
            };
            for (flag, value) in &flags {
                match flag.as_str() {
                    "--image" => job.image = value.clone(),
                    "--set-env-vars" | "--update-env-vars" => job.env.extend(gcloud_dict(value)?),
                    "--set-secrets" | "--update-secrets" => job.secrets.extend(env_secrets(value)?),
                    "--set-cloudsql-instances" | "--add-cloudsql-instances" => {
                        job.cloudsql.extend(gcloud_list(value))
                    }
                    "--command" => job.command = gcloud_list(value),
                    "--args" => job.args = gcloud_list(value),
                    "--env-vars-file" => {
                        return Err(
                            "the migrate job reads --env-vars-file, which the harness does not"
                                .into(),
                        )
                    }
                    _ => {}
                }
            }
            Some(job)
        }
    };
    Ok(Deploy {
        context,
        dockerfile,
        service,
        region: region.ok_or("`gcloud run deploy` has no --region")?,
        env,
        secrets,
        cloudsql,
        step_ids: steps
            .iter()
            .map(|s| s["id"].as_str().unwrap_or_default().to_string())
            .collect(),
        migrate,
    })
}

/// `--flag=value`, `--flag value` (for the flags known to take one) and `--switch`, in order.
fn gcloud_flags(args: &[String]) -> Result<Vec<(String, String)>, String> {
    const TAKES_VALUE: &[&str] = &[
        "--region",
        "--image",
        "--update-env-vars",
        "--set-env-vars",
        "--update-secrets",
        "--set-secrets",
        "--add-cloudsql-instances",
        "--set-cloudsql-instances",
        "--service-account",
        "--command",
        "--args",
        "--max-retries",
        "--task-timeout",
        "--concurrency",
        "--max-instances",
    ];
    let mut flags = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                flags.push((flag.to_string(), value.to_string()))
            }
            _ if TAKES_VALUE.contains(&arg.as_str()) => {
                i += 1;
                let value = args.get(i).ok_or_else(|| format!("{arg} has no value"))?;
                flags.push((arg.clone(), value.clone()));
            }
            _ => flags.push((arg.clone(), String::new())),
        }
        i += 1;
    }
    Ok(flags)
}

/// `--update-secrets`'s `VAR=SECRET:VERSION,...`; a secret mounted as a file is refused.
fn env_secrets(value: &str) -> Result<Vec<(String, String)>, String> {
    let mut secrets = Vec::new();
    for (name, secret) in gcloud_dict(value)? {
        if name.starts_with('/') {
            return Err(format!(
                "the deploy mounts the secret {secret} as the file {name}; the harness only gives secrets as environment variables"
            ));
        }
        secrets.push((name, secret));
    }
    Ok(secrets)
}

/// gcloud's list flag value: `a,b,c`, or `^DELIM^a DELIM b` for items with commas.
fn gcloud_list(value: &str) -> Vec<String> {
    let (delimiter, body) = match value.strip_prefix('^').and_then(|r| r.split_once('^')) {
        Some((d, body)) if !d.is_empty() => (d, body),
        _ => (",", value),
    };
    body.split(delimiter)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

/// Cloud Build's built-in substitutions as a manual `gcloud builds submit` has them, then the
/// file's `substitutions:`, expanded in terms of each other under `dynamicSubstitutions`.
fn substitutions(doc: &Value) -> Result<Vec<(String, String)>, String> {
    let mut vars: Vec<(String, String)> = [
        ("PROJECT_ID", PROJECT_ID),
        ("PROJECT_NUMBER", PROJECT_NUMBER),
        ("BUILD_ID", BUILD_ID),
        ("LOCATION", "global"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let user: Vec<(String, String)> = doc["substitutions"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some((bad, _)) = user.iter().find(|(k, _)| !k.starts_with('_')) {
        return Err(format!(
            "the substitution {bad} does not start with `_`, which Cloud Build requires"
        ));
    }
    vars.extend(user);
    if doc["options"]["dynamicSubstitutions"] == Value::Bool(true) {
        for _pass in 0..8 {
            let before = vars.clone();
            for (_, value) in &mut vars {
                *value = substitute(value, &before)?;
            }
            if vars == before {
                break;
            }
        }
    }
    Ok(vars)
}

/// `$NAME`, `${NAME}` and `$$` as Cloud Build expands them; an unknown name is an error, as it
/// is for Cloud Build.
fn substitute(text: &str, vars: &[(String, String)]) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let (name, tail) = match after.strip_prefix('{') {
            Some(inner) => {
                let end = inner
                    .find('}')
                    .ok_or_else(|| format!("an unclosed `${{` in {text:?}"))?;
                (&inner[..end], &inner[end + 1..])
            }
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                after.split_at(end)
            }
        };
        let value = vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .ok_or_else(|| {
                format!(
                    "{text:?} uses `${name}`, which is neither built in nor in `substitutions:`"
                )
            })?;
        out.push_str(value);
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

/// gcloud's `KEY=VALUE,KEY=VALUE` flag value, with its `^DELIM^` form for values with commas.
fn gcloud_dict(value: &str) -> Result<Vec<(String, String)>, String> {
    let (delimiter, body) = match value.strip_prefix('^').and_then(|r| r.split_once('^')) {
        Some((d, body)) if !d.is_empty() => (d, body),
        _ => (",", value),
    };
    body.split(delimiter)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("{item:?} in {value:?} is not KEY=VALUE"))
        })
        .collect()
}

/// The test value for a secret the deploy passes: a random secret key, which must then be
/// nowhere in the image; a database URL the settings can open; anything else a marker.
fn secret_test_value(name: &str, secret_key: &str) -> String {
    let name = name.to_ascii_uppercase();
    if name.contains("SECRET_KEY") {
        secret_key.to_string()
    } else if name.contains("DATABASE_URL") || name == "DB_URL" || name.ends_with("_DB_URL") {
        DATABASE_URL_VALUE.to_string()
    } else {
        OTHER_SECRET_VALUE.to_string()
    }
}

fn random_secret() -> String {
    let mut bytes = [0u8; 24];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("e2e-secret-{hex}")
}

// ---------------------------------------------------------------------------------------------
// Tools setup.sh installs
// ---------------------------------------------------------------------------------------------

/// The folder setup.sh caches the stand-in and the tools in.
fn e2e_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DJRUN_E2E_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/djrun-e2e")
}

/// buildah's store for the tier: the overlay driver (vfs copies the whole root filesystem
/// for every layer, about four times slower) in a root of its own, so that it never meets a
/// store another driver made. setup.sh imports the stand-in base image into the same store.
fn storage_root() -> PathBuf {
    e2e_cache_dir().join("storage").join("root")
}

fn storage_args() -> Vec<OsString> {
    let runroot = e2e_cache_dir().join("storage").join("runroot");
    vec![
        "--storage-driver".into(),
        "overlay".into(),
        "--root".into(),
        storage_root().into(),
        "--runroot".into(),
        runroot.into(),
    ]
}

/// The bin folder of setup.sh's tools venv: uv (pinned) and a Python with PyYAML.
fn tools_bin() -> Result<PathBuf, String> {
    let bin = e2e_cache_dir().join("tools").join("bin");
    for tool in ["uv", "python"] {
        if !bin.join(tool).is_file() {
            return Err(format!("{} has no {tool}; {SETUP_HINT}", bin.display()));
        }
    }
    Ok(bin)
}

/// A relative path from cloudbuild.yaml without its `.` parts (`.` itself becomes empty).
fn relative(path: &str) -> PathBuf {
    Path::new(path)
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// `base` joined with `rel`, and `base` itself (no trailing `/`) when `rel` is empty.
fn under(base: &Path, rel: &Path) -> PathBuf {
    if rel.as_os_str().is_empty() {
        base.to_path_buf()
    } else {
        base.join(rel)
    }
}

/// PATH with `dir` first.
fn path_with(dir: &Path) -> OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&path));
    std::env::join_paths(dirs).expect("PATH entries without ':'")
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/// Cloud Run service names: lowercase letters, digits and hyphens.
fn service_name(folder: &str) -> String {
    folder
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// The project's `urls.py` next to its `wsgi.py`, else `manage.py`: a file that is code and
/// is copied by `COPY . .`, not by the dependency layer.
fn file_to_touch(project: &Path) -> PathBuf {
    let mut dirs = vec![project.to_path_buf()];
    for _depth in 0..3 {
        let mut next = Vec::new();
        for dir in &dirs {
            if dir.join("wsgi.py").is_file() && dir.join("urls.py").is_file() {
                return dir.join("urls.py");
            }
            if let Ok(entries) = fs::read_dir(dir) {
                let mut subdirs: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_dir())
                    .collect();
                subdirs.sort();
                next.extend(subdirs);
            }
        }
        dirs = next;
    }
    project.join("manage.py")
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            if entry.file_name() == "__pycache__" {
                continue;
            }
            copy_tree(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    fs::OpenOptions::new()
        .append(true)
        .open(path)?
        .write_all(text.as_bytes())
}

/// The djrun the tier runs: this crate's, or another build named by DJRUN_E2E_DJRUN.
fn djrun_bin() -> OsString {
    std::env::var_os("DJRUN_E2E_DJRUN").unwrap_or_else(|| env!("CARGO_BIN_EXE_djrun").into())
}

fn run(cmd: &mut Command) -> Result<Output, String> {
    cmd.stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run {}: {e}", show_command(cmd)))
}

fn run_ok(cmd: &mut Command) -> Result<Output, String> {
    let out = run(cmd)?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{} exited with {}:\n{}",
            show_command(cmd),
            out.status,
            combined(&out)
        ))
    }
}

fn combined(out: &Output) -> String {
    let mut text = String::from_utf8_lossy(&out.stdout).to_string();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text
}

fn show_command(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The harness's own parsing (no engine needed, but part of the tier like everything here)
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn step_cache_is_read_from_buildah_output() {
    let out = "STEP 5/10: COPY requirements.txt requirements.txt\n--> Using cache 75f4\n--> 75f4\n\
               STEP 6/10: RUN pip install --no-cache-dir -r requirements.txt\n--> Using cache 842f\n--> 842f\n\
               STEP 7/10: COPY . .\n--> d838\nSTEP 8/10: RUN python manage.py collectstatic --noinput\n\n\
               127 static files copied, Using cache nowhere near a header\n";
    let deps = find_step(out, is_dependency_step).expect("dependency step");
    assert!(deps.cached, "{deps:?}");
    let copy = find_step(out, is_copy_all_step).expect("copy step");
    assert!(!copy.cached, "{copy:?}");
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn step_cache_is_read_from_docker_output() {
    let legacy = "Step 5/9 : RUN pip install -r requirements.txt\n ---> Using cache\n ---> 1a2b\n\
                  Step 6/9 : COPY . .\n ---> 3c4d\n";
    assert!(find_step(legacy, is_dependency_step).unwrap().cached);
    assert!(!find_step(legacy, is_copy_all_step).unwrap().cached);
    let buildkit = "#7 [3/6] COPY requirements.txt ./\n#7 CACHED\n\n\
                    #8 [4/6] RUN pip install --no-cache-dir -r requirements.txt\n#8 CACHED\n\n\
                    #9 [5/6] COPY --chown=app . /app/\n#9 DONE 0.1s\n";
    assert!(find_step(buildkit, is_dependency_step).unwrap().cached);
    let copy = find_step(buildkit, is_copy_all_step).unwrap();
    assert_eq!(copy.instruction, "COPY --chown=app . /app/");
    assert!(!copy.cached);
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn base_images_fill_args_and_skip_stages() {
    let dockerfile = "ARG PYTHON_VERSION=3.13\nFROM python:${PYTHON_VERSION}-slim AS builder\n\
                      RUN true\nFROM --platform=linux/amd64 python:$PYTHON_VERSION-slim\n\
                      COPY --from=builder /app /app\nFROM builder AS again\n";
    assert_eq!(
        base_images(dockerfile),
        ["python:3.13-slim", "python:3.13-slim"]
    );
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn http_response_headers_are_case_insensitive() {
    let r = Response {
        status: 200,
        head: "HTTP/1.1 200 OK\r\nContent-Type: text/css; charset=utf-8".to_string(),
        body: Vec::new(),
    };
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(r.header("x-missing"), None);
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn cloudbuild_deploy_is_read_with_substitutions() {
    let doc = serde_json::json!({
        "steps": [
            {"name": "gcr.io/cloud-builders/docker",
             "args": ["build", "--tag", "${_IMAGE}:$BUILD_ID", "-f", "backend/Dockerfile.prod", "backend"]},
            {"name": "gcr.io/cloud-builders/docker", "args": ["push", "${_IMAGE}:$BUILD_ID"]},
            {"name": "gcr.io/google.com/cloudsdktool/google-cloud-cli:stable",
             "entrypoint": "gcloud",
             "args": ["run", "deploy", "${_SERVICE}", "--image=${_IMAGE}:$BUILD_ID",
                      "--region", "${_REGION}",
                      "--update-env-vars=URLS=https://${_SERVICE}-$PROJECT_NUMBER.${_REGION}.run.app,PRICE=$$5",
                      "--update-secrets=DJANGO_SECRET_KEY=${_KEY}:latest,DATABASE_URL=db-url:3",
                      "--set-env-vars=^@^LIST=a,b@EMPTY=", "--quiet"]}
        ],
        "substitutions": {
            "_REGION": "europe-west1", "_SERVICE": "shop", "_KEY": "shop-key",
            "_IMAGE": "${_REGION}-docker.pkg.dev/${PROJECT_ID}/repo/${_SERVICE}"
        },
        "options": {"dynamicSubstitutions": true}
    });
    let deploy = parse_cloudbuild(&doc).expect("parses");
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        deploy,
        Deploy {
            context: "backend".to_string(),
            dockerfile: Some("backend/Dockerfile.prod".to_string()),
            service: "shop".to_string(),
            region: "europe-west1".to_string(),
            env: pairs(&[
                ("URLS", "https://shop-123456789012.europe-west1.run.app"),
                ("PRICE", "$5"),
                ("LIST", "a,b"),
                ("EMPTY", ""),
            ]),
            secrets: pairs(&[
                ("DJANGO_SECRET_KEY", "shop-key:latest"),
                ("DATABASE_URL", "db-url:3")
            ]),
            cloudsql: Vec::new(),
            step_ids: vec![String::new(); 3],
            migrate: None,
        }
    );
    let vars = substitutions(&doc).unwrap();
    assert_eq!(
        substitute("${_IMAGE}:$BUILD_ID", &vars).unwrap(),
        "europe-west1-docker.pkg.dev/demo-project-123/repo/shop:e2e-build-0001"
    );
    let err = substitute("$COMMIT_SHA", &vars).unwrap_err();
    assert!(err.contains("COMMIT_SHA"), "{err}");
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn secrets_get_test_values_by_kind() {
    assert_eq!(secret_test_value("DJANGO_SECRET_KEY", "k"), "k");
    assert_eq!(secret_test_value("DATABASE_URL", "k"), DATABASE_URL_VALUE);
    assert_eq!(
        secret_test_value("DJANGO_ADMIN_URL", "k"),
        OTHER_SECRET_VALUE
    );
    let a = random_secret();
    assert_ne!(a, random_secret());
    assert!(a.len() > 40, "{a}");
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn intermediate_image_ids_are_read_from_build_output() {
    let buildah = "[1/2] STEP 2/3: RUN python -m venv /venv\n--> 461b6dc6a30\n\
                   [2/2] COMMIT localhost/smoke:test\n--> 9f14bf1d938\n\
                   Successfully tagged localhost/smoke:test\n";
    assert_eq!(intermediate_ids(buildah), ["461b6dc6a30", "9f14bf1d938"]);
    let docker = "Step 2/3 : RUN true\n ---> Running in 0a1b2c3d4e5f\n ---> 3c4d5e6f7a8b\n";
    assert_eq!(intermediate_ids(docker), ["3c4d5e6f7a8b"]);
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn cloudbuild_migrate_job_is_read_with_its_command() {
    let doc = serde_json::json!({
        "steps": [
            {"id": "build", "name": "gcr.io/cloud-builders/docker", "args": ["build", "--tag", "${_IMAGE}:$BUILD_ID", "."]},
            {"id": "push", "name": "gcr.io/cloud-builders/docker", "args": ["push", "${_IMAGE}:$BUILD_ID"]},
            {"id": "migrate", "entrypoint": "gcloud",
             "args": ["run", "jobs", "deploy", "${_SERVICE}-migrate", "--image=${_IMAGE}:$BUILD_ID",
                      "--region=${_REGION}", "--set-cloudsql-instances=${_SQL_INSTANCE}",
                      "--set-env-vars=GS_BUCKET_NAME=b", "--set-secrets=DATABASE_URL=db:${_DATABASE_URL_VERSION}",
                      "--command=python", "--args=manage.py,migrate,--noinput", "--max-retries=0",
                      "--execute-now", "--wait", "--quiet"]},
            {"id": "deploy", "entrypoint": "gcloud",
             "args": ["run", "deploy", "${_SERVICE}", "--region=${_REGION}",
                      "--add-cloudsql-instances=${_SQL_INSTANCE}", "--update-env-vars=GS_BUCKET_NAME=b",
                      "--update-secrets=DATABASE_URL=db:${_DATABASE_URL_VERSION}"]}
        ],
        "substitutions": {
            "_REGION": "europe-west1", "_SERVICE": "notes", "_SQL_INSTANCE": "p:europe-west1:notes-db",
            "_DATABASE_URL_VERSION": "latest",
            "_IMAGE": "${_REGION}-docker.pkg.dev/${PROJECT_ID}/repo/${_SERVICE}"
        },
        "options": {"dynamicSubstitutions": true}
    });
    let deploy = parse_cloudbuild(&doc).expect("parses");
    assert_eq!(deploy.step_ids, ["build", "push", "migrate", "deploy"]);
    assert_eq!(deploy.cloudsql, ["p:europe-west1:notes-db"]);
    let job = deploy.migrate.expect("a migrate job");
    assert_eq!(job.name, "notes-migrate");
    assert_eq!(job.argv(), ["python", "manage.py", "migrate", "--noinput"]);
    assert_eq!(job.cloudsql, ["p:europe-west1:notes-db"]);
    assert_eq!(
        job.secrets,
        [("DATABASE_URL".to_string(), "db:latest".to_string())]
    );
    assert_eq!(job.flag("--max-retries"), Some("0"));
    assert_eq!(job.flag("--wait"), Some(""));
    assert_eq!(
        expected_sql_instance(&["--sql-instance", "main"], "notes"),
        "demo-project-123:europe-west1:main"
    );
    assert_eq!(
        expected_sql_instance(&[], "notes"),
        "demo-project-123:europe-west1:notes-db"
    );
}

#[test]
#[ignore = "end-to-end: needs buildah (run tests/e2e/setup.sh)"]
fn the_trap_records_what_would_leave_the_machine() {
    let trap = Trap::start().expect("trap");
    let proxy = trap.env().into_iter().find(|(k, _)| k == "HTTPS_PROXY");
    assert_eq!(
        proxy.map(|(_, v)| v),
        Some(format!("http://127.0.0.1:{}", trap.port))
    );
    let r = http_request(
        trap.port,
        "CONNECT",
        "storage.googleapis.com:443",
        "storage.googleapis.com:443",
        &[],
        &[],
    )
    .expect("the trap answers");
    assert_eq!(r.status, 403);
    assert_eq!(trap.seen(), ["CONNECT storage.googleapis.com:443 HTTP/1.0"]);
}
