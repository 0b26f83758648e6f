//! `djrun deploy`: resolve the choices as `init` does, refuse when the deployment files
//! drifted, check in Google Cloud what exists (read-only), show the plan, ask, make what is
//! missing, pin the secrets, build and deploy, then read back the URL and call it once.
//!
//! Every command comes from [`crate::steps::steps`]; this module only runs them.

use crate::deployment::Deployment;
use crate::gcloud::GcloudDefaults;
use crate::gcloud_run::{self, classify, Failure, Output};
use crate::init::{self, InitRequest};
use crate::prompt::{Prompter, Question};
use crate::steps::{self, shell_line, with_project, Input, Step};
use crate::{Error, Result};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Set while `deploy` changes the project: Ctrl-C then stops after the current step.
pub static ACTING: AtomicBool = AtomicBool::new(false);
/// Set by Ctrl-C while [`ACTING`].
pub static STOP: AtomicBool = AtomicBool::new(false);

/// What the user asked `djrun deploy` for.
#[derive(Debug, Clone, Default)]
pub struct DeployRequest {
    /// The choices, as `init` takes them (`yes` and `interactive` included).
    pub init: InitRequest,
    /// `--dry-run`: show the plan, run only read-only commands.
    pub dry_run: bool,
    /// Show a live spinner for long steps (stderr is a terminal).
    pub progress: bool,
}

/// How `deploy` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The build ran and the service answered (or was read back).
    Deployed,
    /// `--dry-run` showed the plan.
    DryRun,
    /// The user answered no.
    Declined,
    /// Ctrl-C stopped it between steps.
    Interrupted,
}

impl Outcome {
    /// The process exit code.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Interrupted => 130,
            _ => 0,
        }
    }
}

/// Resets [`ACTING`] however the run ends.
struct Acting;

impl Acting {
    fn start() -> Acting {
        ACTING.store(true, Ordering::SeqCst);
        Acting
    }
}

impl Drop for Acting {
    fn drop(&mut self) {
        ACTING.store(false, Ordering::SeqCst);
    }
}

/// Run `djrun deploy`. The plan and the result go to `out`, progress and messages to `err`.
pub fn run(
    request: &DeployRequest,
    gcloud: &GcloudDefaults,
    prompter: &mut dyn Prompter,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Outcome> {
    let r = &request.init;
    if !r.yes && !request.dry_run && !r.interactive {
        return Err(Error::input_hint(
            "`djrun deploy` changes your Google Cloud project, and there is no terminal to confirm on",
            "pass `--yes` to deploy without asking, or `--dry-run` to see the plan",
        ));
    }
    let init::Prepared {
        facts,
        options,
        plan,
        lock,
        ..
    } = init::prepare(r, gcloud, prompter, err)?;
    if !plan.is_empty() {
        let paths: Vec<String> = plan
            .changes
            .iter()
            .map(|c| format!("`{}`", c.path))
            .collect();
        return Err(Error::refused(
            format!(
                "the deployment files do not match the project: `djrun init --check` reports {} to change",
                paths.join(", ")
            ),
            "run `djrun init` to see the diff and write it, commit, then `djrun deploy`",
        ));
    }
    if let Some(stale) = lock.stale_message() {
        return Err(Error::refused(stale, lock.hint()));
    }
    let d = Deployment::new(&facts, &options)?;
    let root = facts.root.as_path();

    let (account, number) = preflight(&d, root, err)?;
    let list = steps::with_project_number(steps::steps(&d, &[]), &number);
    let mut done = Vec::with_capacity(list.len());
    for step in &list {
        done.push(is_done(step, &d, root, &account)?);
    }
    let previous = previous_revision(&d, root);
    let _ = write!(out, "{}", show_plan(&d, &list, &done));
    let _ = out.flush();

    if request.dry_run {
        let _ = writeln!(
            err,
            "Dry run: only read-only gcloud commands ran; nothing was changed."
        );
        return Ok(Outcome::DryRun);
    }
    if !r.yes {
        let question = Question {
            prompt: "Set up what is missing, then build and deploy?",
            flag: "--yes",
        };
        if !prompter.confirm(&question, true)? {
            let _ = writeln!(err, "Nothing was changed.");
            return Ok(Outcome::Declined);
        }
    }

    // Every secret value is made or read now, before the first change.
    let todo: Vec<bool> = list
        .iter()
        .zip(&done)
        .map(|(s, d)| s.every_deploy || !d)
        .collect();
    let mut inputs = Vec::new();
    for (step, todo) in list.iter().zip(&todo) {
        inputs.push(if *todo {
            step_inputs(step, prompter)?
        } else {
            Vec::new()
        });
    }

    let _acting = Acting::start();
    let mut completed: Vec<&str> = Vec::new();
    for (i, step) in list.iter().enumerate() {
        if !todo[i] {
            continue;
        }
        if STOP.load(Ordering::SeqCst) {
            let _ = writeln!(
                err,
                "\nInterrupted before: {}. {}\nRun `djrun deploy` again to resume: it skips what exists.",
                step.title,
                done_so_far(&completed)
            );
            return Ok(Outcome::Interrupted);
        }
        let step = if step.every_deploy {
            let versions = pin_versions(&d, root)?;
            steps::with_project_number(steps::steps(&d, &versions), &number)
                .into_iter()
                .find(|s| s.id == step.id)
                .unwrap_or_else(|| step.clone())
        } else {
            step.clone()
        };
        run_step(
            &step,
            &inputs[i],
            &d,
            root,
            &account,
            &completed,
            request.progress,
            err,
        )?;
        completed.push(&list[i].title);
    }
    drop(_acting);

    let url = service_url(&d, root)?;
    let answer = match http_status(&url) {
        Ok(status) => format!("answered HTTP {status}"),
        Err(why) => format!("did not answer: {why}"),
    };
    let _ = writeln!(out, "\nDeployed `{}`: {url} {answer}", d.service);
    let _ = writeln!(
        out,
        "Logs:      gcloud run services logs read {} --region {} --project {}",
        d.service, d.region, d.project
    );
    match previous {
        Some(rev) => {
            let _ = writeln!(
                out,
                "Roll back: gcloud run services update-traffic {} --to-revisions={rev}=100 --region {} --project {}",
                d.service, d.region, d.project
            );
        }
        None => {
            let _ = writeln!(
                out,
                "Roll back: this is the service's first revision; there is none to go back to"
            );
        }
    }
    if let Some(gh) = &d.github {
        let _ = writeln!(
            out,
            "CI:        the workflow authenticates through the provider this repository variable names; set it once:\n           gh variable set GCP_WORKLOAD_IDENTITY_PROVIDER --repo {} --body projects/{number}/locations/global/workloadIdentityPools/{}/providers/{}",
            gh.repository,
            crate::deployment::WIF_POOL,
            gh.provider()
        );
    }
    for domain in &d.domains {
        if !crate::deployment::domain_mapping_region(&d.region) {
            let _ = writeln!(
                out,
                "Domain:    `{domain}` needs a load balancer in front of the service: Cloud Run maps domains itself only in {}",
                crate::deployment::DOMAIN_MAPPING_REGIONS.join(", ")
            );
            continue;
        }
        let records = gcloud_run::run(&dns_args(&d, domain), None, root)?;
        let text = records.stdout.trim();
        if records.success && !text.is_empty() {
            let _ = writeln!(
                out,
                "Domain:    create these DNS records for `{domain}` (type, name, value); the certificate follows once they resolve:\n{}",
                text.lines()
                    .map(|l| format!("           {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        } else {
            let _ = writeln!(
                out,
                "Domain:    `{domain}` is mapped; `{}` lists the DNS records to create",
                shell_line(&dns_args(&d, domain))
            );
        }
    }
    Ok(Outcome::Deployed)
}

/// The DNS records a domain mapping asks for, one `type name value` line each.
pub fn dns_args(d: &Deployment, domain: &str) -> Vec<String> {
    with_project(
        vec![
            "beta".into(),
            "run".into(),
            "domain-mappings".into(),
            "describe".into(),
            format!("--domain={domain}"),
            format!("--region={}", d.region),
            "--flatten=status.resourceRecords".into(),
            "--format=value(status.resourceRecords.type,status.resourceRecords.name,status.resourceRecords.rrdata)".into(),
        ],
        &d.project,
    )
}

fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// `gcloud auth list`: the active account.
pub fn auth_args() -> Vec<String> {
    args(&[
        "auth",
        "list",
        "--filter=status:ACTIVE",
        "--format=value(account)",
    ])
}

/// `gcloud projects describe`: whether the account can open the project.
pub fn project_args(project: &str) -> Vec<String> {
    args(&[
        "projects",
        "describe",
        project,
        "--format=value(projectNumber)",
    ])
}

/// `gcloud billing projects describe`: whether billing is on.
pub fn billing_args(project: &str) -> Vec<String> {
    args(&[
        "billing",
        "projects",
        "describe",
        project,
        "--format=value(billingEnabled)",
    ])
}

/// The newest enabled version of `secret`.
pub fn version_args(secret: &str, project: &str) -> Vec<String> {
    with_project(
        args(&[
            "secrets",
            "versions",
            "list",
            secret,
            "--filter=state:enabled",
            "--sort-by=~createTime",
            "--limit=1",
            "--format=value(name.basename())",
        ]),
        project,
    )
}

/// The service's newest revision, the one to go back to after this deploy.
pub fn revisions_args(d: &Deployment) -> Vec<String> {
    with_project(
        vec![
            "run".into(),
            "revisions".into(),
            "list".into(),
            format!("--service={}", d.service),
            format!("--region={}", d.region),
            "--sort-by=~metadata.creationTimestamp".into(),
            "--limit=1".into(),
            "--format=value(metadata.name)".into(),
        ],
        &d.project,
    )
}

/// The service's URL.
pub fn url_args(d: &Deployment) -> Vec<String> {
    with_project(
        vec![
            "run".into(),
            "services".into(),
            "describe".into(),
            d.service.clone(),
            format!("--region={}", d.region),
            "--format=value(status.url)".into(),
        ],
        &d.project,
    )
}

/// Every gcloud command `deploy` may run for `d`, read-only ones and changes alike (with
/// each action's fallback), for tests that hold them against gcloud's own parser.
pub fn every_command(d: &Deployment) -> Vec<Vec<String>> {
    let mut all = vec![
        auth_args(),
        project_args(&d.project),
        billing_args(&d.project),
        revisions_args(d),
    ];
    for domain in &d.domains {
        all.push(dns_args(d, domain));
    }
    let pinned: Vec<(String, String)> = d
        .secrets
        .iter()
        .map(|s| (s.var.clone(), "1".to_string()))
        .collect();
    for step in steps::with_project_number(steps::steps(d, &pinned), "123456789012") {
        all.extend(step.check.map(|c| c.args));
        for a in step.actions {
            all.push(a.args);
            all.extend(a.if_exists);
        }
    }
    all.extend(
        d.secrets
            .iter()
            .map(|s| version_args(&s.secret, &d.project)),
    );
    all.push(url_args(d));
    all
}

/// gcloud is there, logged in, can open the project, and the project has billing. Returns
/// the active account.
/// The active account and the project's number, before anything changes.
fn preflight(d: &Deployment, root: &Path, err: &mut dyn Write) -> Result<(String, String)> {
    let p = &d.project;
    let auth = gcloud_run::run(&auth_args(), None, root)?;
    let account = auth
        .stdout
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string);
    let Some(account) = account.filter(|_| auth.success) else {
        let said = if auth.success {
            String::new()
        } else {
            format!(":\n{}", auth.message())
        };
        return Err(Error::cloud(
            format!("gcloud has no active account{said}"),
            "run `gcloud auth login`, then `djrun deploy` again",
        ));
    };
    let project = gcloud_run::run(&project_args(p), None, root)?;
    if !project.success {
        return Err(Error::cloud(
            format!(
                "`{account}` cannot open the project `{p}`:\n{}",
                project.message()
            ),
            format!(
                "check the id (`gcloud projects list` shows the projects `{account}` can see), or ask an owner of `{p}` to grant `{account}` the Owner role (`roles/owner`)"
            ),
        ));
    }
    let number = project.stdout.trim().to_string();
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::cloud(
            format!("gcloud did not say the number of the project `{p}` (it answered `{number}`)"),
            format!("check `gcloud projects describe {p}`, then run `djrun deploy` again"),
        ));
    }
    let billing = gcloud_run::run(&billing_args(p), None, root)?;
    if billing.success {
        if billing.stdout.trim().eq_ignore_ascii_case("false") {
            return Err(Error::cloud(
                format!("billing is not enabled on `{p}`; Cloud Run, Cloud Build and Artifact Registry need it"),
                format!("link a billing account: `gcloud billing projects link {p} --billing-account=ACCOUNT_ID` (`gcloud billing accounts list` shows yours), then run `djrun deploy` again"),
            ));
        }
    } else {
        let said = billing.message();
        let first = said.lines().next().unwrap_or("");
        let _ = writeln!(
            err,
            "warning: cannot read whether billing is enabled on `{p}` ({first}); going on: a step that needs billing will say so"
        );
    }
    Ok((account, number))
}

/// The member string for the active account.
fn member_of(account: &str) -> String {
    if account.ends_with(".gserviceaccount.com") {
        format!("serviceAccount:{account}")
    } else {
        format!("user:{account}")
    }
}

/// The predefined role that covers a command.
fn role_for(args: &[String]) -> &'static str {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["services", ..] => "roles/serviceusage.serviceUsageAdmin",
        ["artifacts", ..] => "roles/artifactregistry.admin",
        ["iam", "service-accounts", "create" | "describe", ..] => "roles/iam.serviceAccountAdmin",
        ["iam", ..] => "roles/iam.serviceAccountAdmin",
        ["projects", ..] => "roles/resourcemanager.projectIamAdmin",
        ["sql", ..] => "roles/cloudsql.admin",
        ["secrets", ..] => "roles/secretmanager.admin",
        ["storage", ..] => "roles/storage.admin",
        ["builds", ..] => "roles/cloudbuild.builds.editor",
        ["run", ..] => "roles/run.admin",
        _ => "roles/owner",
    }
}

fn permission_hint(args: &[String], d: &Deployment, account: &str) -> String {
    let role = role_for(args);
    let also = if args.first().is_some_and(|a| a == "builds") {
        format!(
            ", and `roles/iam.serviceAccountUser` on `{}` to build as it",
            d.deployer_email()
        )
    } else {
        String::new()
    };
    format!(
        "ask an owner of `{p}` to grant `{account}` the role `{role}`{also} (`gcloud projects add-iam-policy-binding {p} --member={member} --role={role}`), then run `djrun deploy` again: it skips what exists",
        p = d.project,
        member = member_of(account),
    )
}

/// Whether `step` is done, by its read-only check. A denied check stops the run before
/// anything changes.
fn is_done(step: &Step, d: &Deployment, root: &Path, account: &str) -> Result<bool> {
    let Some(check) = &step.check else {
        return Ok(false);
    };
    let o = gcloud_run::run(&check.args, None, root)?;
    if o.success {
        return Ok(check.done.reads(&o.stdout));
    }
    match classify(&o.message()) {
        Failure::PermissionDenied => Err(Error::cloud(
            format!(
                "djrun cannot tell whether `{}` is done: `{}` was denied; nothing was changed:\n{}",
                step.title,
                shell_line(&check.args),
                o.message()
            ),
            permission_hint(&check.args, d, account),
        )),
        // Missing, or its API is still off (the first step enables it).
        _ => Ok(false),
    }
}

/// The newest revision, when the service exists.
fn previous_revision(d: &Deployment, root: &Path) -> Option<String> {
    let o = gcloud_run::run(&revisions_args(d), None, root).ok()?;
    if !o.success {
        return None;
    }
    o.stdout
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

/// How a step's command reads as a plan line, with what it reads on stdin (never the value).
fn plan_command(args: &[String], input: Option<&Input>) -> String {
    let line = shell_line(args);
    match input {
        None => line,
        Some(Input::SecretKey) => format!("{line}  (stdin: a new random key)"),
        Some(Input::PasswordFlags) => format!("{line}  (stdin: a new random password)"),
        Some(Input::DatabaseUrl(_)) => {
            format!("{line}  (stdin: the database URL with that password)")
        }
        Some(Input::FromUser(var)) => format!("{line}  (stdin: `${var}`, else asked)"),
    }
}

/// The plan: each step, ok or what it will do, with its commands and cost.
fn show_plan(d: &Deployment, list: &[Step], done: &[bool]) -> String {
    let mut text = format!(
        "Deploy `{}` to project `{}`, region `{}`:\n",
        d.service, d.project, d.region
    );
    let mut todo = 0;
    for (step, done) in list.iter().zip(done) {
        let label = if step.every_deploy {
            "deploy"
        } else if *done {
            "ok"
        } else if step
            .actions
            .first()
            .is_some_and(|a| a.args.iter().any(|w| w == "create" || w == "enable"))
        {
            "create"
        } else {
            "change"
        };
        text.push_str(&format!("  {label:<7} {}\n", step.title));
        if step.every_deploy || !done {
            if !step.every_deploy {
                todo += 1;
            }
            for a in &step.actions {
                text.push_str(&format!(
                    "            {}\n",
                    plan_command(&a.args, a.input.as_ref())
                ));
            }
            if step.every_deploy && !d.secrets.is_empty() {
                text.push_str("            (each secret pinned to its newest enabled version)\n");
            }
        }
        if let Some(cost) = &step.cost {
            text.push_str(&format!("            cost: {cost}\n"));
        }
    }
    let ok = list
        .iter()
        .zip(done)
        .filter(|(s, d)| **d && !s.every_deploy)
        .count();
    text.push_str(&format!(
        "{todo} step(s) to set up, {ok} already in place, then the build.\n"
    ));
    text
}

/// `n` characters from the URL-safe base64 alphabet, from the operating system's CSPRNG.
pub fn random_token(n: usize) -> Result<String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::input(format!(
            "the operating system gave no random numbers for a secret: {e}"
        ))
    })?;
    // 256 is a multiple of 64: every character is equally likely.
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[(b & 63) as usize] as char)
        .collect())
}

/// The values a step's actions read on stdin: made here, read from djrun's environment or
/// asked without echo. One password per step, shared by the user and its URL.
fn step_inputs(step: &Step, prompter: &mut dyn Prompter) -> Result<Vec<Option<String>>> {
    let mut password: Option<String> = None;
    let mut values = Vec::new();
    for action in &step.actions {
        values.push(match &action.input {
            None => None,
            Some(Input::SecretKey) => Some(random_token(50)?),
            Some(Input::PasswordFlags) => Some(format!(
                "--password: \"{}\"\n",
                step_password(&mut password)?
            )),
            Some(Input::DatabaseUrl(template)) => {
                Some(template.replace("{password}", &step_password(&mut password)?))
            }
            Some(Input::FromUser(var)) => Some(match std::env::var(var) {
                Ok(v) if !v.is_empty() => v,
                _ => {
                    let prompt = format!("Value of `{var}` for Secret Manager (not shown)");
                    prompter.secret(&Question {
                        prompt: &prompt,
                        flag: var,
                    })?
                }
            }),
        });
    }
    Ok(values)
}

/// The step's one generated password, made on first use.
fn step_password(slot: &mut Option<String>) -> Result<String> {
    if slot.is_none() {
        *slot = Some(random_token(32)?);
    }
    Ok(slot.clone().unwrap_or_default())
}

/// Run one step's actions, with its start line, a spinner on a terminal, and its outcome.
#[allow(clippy::too_many_arguments)]
fn run_step(
    step: &Step,
    inputs: &[Option<String>],
    d: &Deployment,
    root: &Path,
    account: &str,
    completed: &[&str],
    progress: bool,
    err: &mut dyn Write,
) -> Result<()> {
    let _ = writeln!(err, "==> {}", step.title);
    let started = Instant::now();
    for (i, action) in step.actions.iter().enumerate() {
        let input = inputs.get(i).and_then(|v| v.as_deref()).map(str::as_bytes);
        let mut o = if step.every_deploy {
            gcloud_run::stream(&action.args, root, err)?
        } else {
            with_spinner(progress, &step.title, started, || {
                gcloud_run::run(&action.args, input, root)
            })?
        };
        let mut args = &action.args;
        if !o.success && classify(&o.message()) == Failure::AlreadyExists {
            if let Some(alt) = &action.if_exists {
                o = gcloud_run::run(alt, input, root)?;
                args = alt;
            }
        }
        if !o.success {
            let _ = writeln!(err, "    failed after {}", elapsed(started));
            return Err(step_failure(step, args, &o, d, account, completed));
        }
    }
    let _ = writeln!(err, "    done in {}", elapsed(started));
    Ok(())
}

fn done_so_far(completed: &[&str]) -> String {
    if completed.is_empty() {
        "Nothing was changed in this run.".to_string()
    } else {
        format!("Done in this run: {}.", completed.join("; "))
    }
}

fn step_failure(
    step: &Step,
    args: &[String],
    o: &Output,
    d: &Deployment,
    account: &str,
    completed: &[&str],
) -> Error {
    let message = o.message();
    let again = "then run `djrun deploy` again: it skips what exists";
    let hint = match classify(&message) {
        Failure::PermissionDenied => permission_hint(args, d, account),
        _ if step.id == "apis" => format!(
            "an API that cannot be enabled usually means billing is off (`gcloud billing projects describe {p}`) or an organization policy restricts the service; fix that, {again}",
            p = d.project
        ),
        Failure::ApiDisabled => match gcloud_run::api_named(&message) {
            Some(api) => format!(
                "enable it: `gcloud services enable {api} --project={}`, {again}",
                d.project
            ),
            None => format!("enable the API gcloud names above, {again}"),
        },
        _ => format!("fix what gcloud reports above, {again}"),
    };
    Error::cloud(
        format!(
            "{} failed:\n    {}\n{message}\n{}",
            step.title,
            shell_line(args),
            done_so_far(completed)
        ),
        hint,
    )
}

fn elapsed(since: Instant) -> String {
    let s = since.elapsed().as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else {
        format!("{}m{:02}s", (s as u64) / 60, (s as u64) % 60)
    }
}

/// Run `f` under a live spinner with the elapsed time when `progress`, else plainly.
fn with_spinner<T>(progress: bool, title: &str, started: Instant, f: impl FnOnce() -> T) -> T {
    if !progress {
        return f();
    }
    let bar = indicatif::ProgressBar::new_spinner().with_elapsed(started.elapsed());
    if let Ok(style) = indicatif::ProgressStyle::with_template("    {spinner} {msg} {elapsed}") {
        bar.set_style(style);
    }
    bar.set_message(title.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    let value = f();
    bar.finish_and_clear();
    value
}

/// Pin each secret to its newest enabled version for the build.
fn pin_versions(d: &Deployment, root: &Path) -> Result<Vec<(String, String)>> {
    let mut versions = Vec::new();
    for s in &d.secrets {
        let o = gcloud_run::run(&version_args(&s.secret, &d.project), None, root)?;
        let version = o
            .stdout
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .filter(|v| v.chars().all(|c| c.is_ascii_digit()));
        match version {
            Some(v) if o.success => versions.push((s.var.clone(), v.to_string())),
            _ => {
                let said = if o.success {
                    String::new()
                } else {
                    format!(":\n{}", o.message())
                };
                return Err(Error::cloud(
                    format!(
                        "the secret `{}` has no enabled version to deploy{said}",
                        s.secret
                    ),
                    format!(
                        "add one: `printf '%s' \"${}\" | gcloud secrets versions add {} --data-file=- --project={}`, then run `djrun deploy` again",
                        s.var, s.secret, d.project
                    ),
                ));
            }
        }
    }
    Ok(versions)
}

/// The deployed service's URL, read back from Cloud Run.
fn service_url(d: &Deployment, root: &Path) -> Result<String> {
    let o = gcloud_run::run(&url_args(d), None, root)?;
    let url = o.stdout.trim().to_string();
    if !o.success || !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(Error::cloud(
            format!(
                "the build finished but Cloud Run gave no URL for `{}`:\n{}",
                d.service,
                o.message()
            ),
            format!(
                "see the build's log above and `gcloud run services describe {} --region {} --project {}`",
                d.service, d.region, d.project
            ),
        ));
    }
    Ok(url)
}

/// One GET to `url`: the status line's code and reason. Plain `http://` is read here;
/// `https://` goes through curl, which every machine with gcloud has, rather than a TLS
/// stack in djrun for one request.
pub fn http_status(url: &str) -> std::result::Result<String, String> {
    if let Some(rest) = url.strip_prefix("http://") {
        return plain_get(rest);
    }
    let Some(curl) = init::find_on_path("curl") else {
        return Err(
            "curl is not installed, so djrun cannot call an https:// URL; open it in a browser"
                .into(),
        );
    };
    let null = if cfg!(windows) { "NUL" } else { "/dev/null" };
    let o = std::process::Command::new(curl)
        .args([
            "-sS",
            "-o",
            null,
            "-w",
            "%{http_code}",
            "--max-time",
            "30",
            url,
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let code = String::from_utf8_lossy(&o.stdout).trim().to_string();
    if code.is_empty() || code == "000" {
        Err(String::from_utf8_lossy(&o.stderr).trim().to_string())
    } else {
        Ok(code)
    }
}

fn plain_get(rest: &str) -> std::result::Result<String, String> {
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let address = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    use std::net::ToSocketAddrs;
    let target = address
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| format!("`{authority}` has no address"))?;
    let timeout = Duration::from_secs(30);
    let mut stream =
        std::net::TcpStream::connect_timeout(&target, timeout).map_err(|e| e.to_string())?;
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: djrun\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while head.len() < 1024 && !head.ends_with(b"\r\n") {
        match stream.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => head.push(byte[0]),
            Err(e) => return Err(e.to_string()),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let mut parts = line.trim().splitn(3, ' ');
    match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") && code.len() == 3 => Ok(code.to_string()),
        _ => Err(format!("not an HTTP answer: `{}`", line.trim())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_url_safe_and_differ() {
        let a = random_token(50).unwrap();
        let b = random_token(50).unwrap();
        assert_eq!(a.len(), 50);
        assert_ne!(a, b);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn plain_http_reads_the_status() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            s.write_all(b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n")
                .unwrap();
        });
        assert_eq!(
            http_status(&format!("http://127.0.0.1:{port}/")).unwrap(),
            "302"
        );
        server.join().unwrap();
    }

    #[test]
    fn roles_name_what_a_command_needs() {
        let a = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            role_for(&a("sql instances create x")),
            "roles/cloudsql.admin"
        );
        assert_eq!(
            role_for(&a("services enable run.googleapis.com")),
            "roles/serviceusage.serviceUsageAdmin"
        );
    }
}
