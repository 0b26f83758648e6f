//! Parse the command line, call the library, print the error, set the exit code.

use clap::Parser;
use djrun::cli::{ChoiceArgs, Cli, Command};
use djrun::deploy::DeployRequest;
use djrun::init::InitRequest;
use djrun::prompt::{NoTerminal, Prompter, Terminal};
use std::io::IsTerminal;
use std::sync::atomic::Ordering;

fn main() {
    let cli = Cli::parse();
    // Ctrl-C: before the writes nothing has changed, so stop at once (showing the cursor a
    // question may have hidden); during the writes, let them finish or roll back whole.
    // During a deploy's changes, stop after the current step (its gcloud runs on, in a
    // process group of its own).
    let _ = ctrlc::set_handler(|| {
        if djrun::apply::WRITING.load(Ordering::SeqCst) {
            djrun::apply::INTERRUPTED.store(true, Ordering::SeqCst);
        } else if djrun::deploy::ACTING.load(Ordering::SeqCst) {
            if !djrun::deploy::STOP.swap(true, Ordering::SeqCst) {
                eprintln!("\ninterrupted: stopping after the current step");
            }
        } else {
            if std::io::stderr().is_terminal() {
                eprint!("\x1b[?25h");
            }
            eprintln!("\ninterrupted; nothing was changed");
            std::process::exit(130);
        }
    });
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let code = match run(cli, color) {
        Ok(code) => code,
        Err(e) => {
            let (red, bold, reset) = if color && std::io::stderr().is_terminal() {
                ("\x1b[31m", "\x1b[1m", "\x1b[0m")
            } else {
                ("", "", "")
            };
            eprintln!("{red}{bold}error{reset}: {e}");
            if let Some(hint) = e.hint() {
                eprintln!("\n{bold}hint{reset}: {hint}");
            }
            e.exit_code()
        }
    };
    std::process::exit(code);
}

fn run(cli: Cli, color: bool) -> djrun::Result<i32> {
    match cli.command {
        Command::Init(args) => {
            let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
            let request = InitRequest {
                yes: args.yes,
                dry_run: args.dry_run,
                check: args.check,
                force: args.force,
                allow_dirty: args.allow_dirty,
                ..choices(args.choices, color, interactive)
            };
            let gcloud = djrun::gcloud::defaults_from_env();
            let mut terminal = Terminal::new();
            let mut no_terminal = NoTerminal;
            let prompter: &mut dyn Prompter = if interactive {
                &mut terminal
            } else {
                &mut no_terminal
            };
            let outcome = djrun::init::run(
                &request,
                &gcloud,
                prompter,
                &mut std::io::stdout(),
                &mut std::io::stderr(),
            )?;
            Ok(outcome.exit_code())
        }
        Command::Deploy(args) => {
            let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
            let request = DeployRequest {
                init: InitRequest {
                    yes: args.yes,
                    ..choices(args.choices, color, interactive)
                },
                dry_run: args.dry_run,
                progress: std::io::stderr().is_terminal(),
            };
            let gcloud = djrun::gcloud::defaults_from_env();
            let mut terminal = Terminal::new();
            let mut no_terminal = NoTerminal;
            let prompter: &mut dyn Prompter = if interactive {
                &mut terminal
            } else {
                &mut no_terminal
            };
            let outcome = djrun::deploy::run(
                &request,
                &gcloud,
                prompter,
                &mut std::io::stdout(),
                &mut std::io::stderr(),
            )?;
            Ok(outcome.exit_code())
        }
        Command::Inspect(args) => {
            let options = djrun::inspect::InspectOptions {
                project_dir: args.project_dir.as_deref(),
                settings: args.settings.as_deref(),
                allow_unknown: true,
            };
            let facts = djrun::inspect::inspect_with(&args.path, &options)?;
            if args.json {
                emit(format!("{}\n", djrun::report::json(&facts)).as_bytes())?;
            } else {
                emit(djrun::report::human(&facts).as_bytes())?;
            }
            Ok(0)
        }
        Command::Completions(args) => {
            let mut script = Vec::new();
            djrun::docs::completions(args.shell, &mut script);
            emit(&script)?;
            Ok(0)
        }
        Command::Man(args) => {
            match args.dir {
                Some(dir) => {
                    for path in djrun::docs::write_man_pages(&dir)? {
                        eprintln!("wrote `{}`", path.display());
                    }
                }
                None => {
                    let mut page = Vec::new();
                    djrun::docs::man_page(&mut page)
                        .map_err(|e| djrun::Error::io("render the manual page for", "stdout", e))?;
                    emit(&page)?;
                }
            }
            Ok(0)
        }
    }
}

/// The request the shared choice flags make.
fn choices(args: ChoiceArgs, color: bool, interactive: bool) -> InitRequest {
    InitRequest {
        root: args.path,
        project_dir: args.project_dir,
        project: args.project,
        region: args.region,
        service: args.service,
        python: args.python,
        public: if args.private {
            Some(false)
        } else if args.public {
            Some(true)
        } else {
            None
        },
        domains: (!args.domains.is_empty()).then_some(args.domains),
        ci: args.ci,
        github_repo: args.github_repo,
        settings: args.settings,
        capacity: djrun::deployment::CapacityChoices {
            cpu: args.cpu,
            memory: args.memory,
            min_instances: args.min_instances,
            max_instances: args.max_instances,
            db_max_connections: args.db_max_connections,
        },
        env: args.env,
        secrets: args.secrets,
        database: args.database,
        sql_instance: args.sql_instance,
        media: args.media,
        bucket: args.bucket,
        public_media: if args.public_media {
            Some(true)
        } else if args.private_media {
            Some(false)
        } else {
            None
        },
        color: color && std::io::stdout().is_terminal(),
        interactive,
        ..InitRequest::default()
    }
}

/// Write data to stdout. A reader that stops early (`djrun inspect --json | head`) closes the
/// pipe: that ends djrun quietly, as it ends any filter, rather than as an error.
fn emit(bytes: &[u8]) -> djrun::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(djrun::Error::io("write to", "stdout", e)),
    }
}
