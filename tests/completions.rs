//! `djrun completions SHELL` and `djrun man`: every shell's script and the manual pages name
//! every subcommand and every long flag of `djrun init`, as clap's own definition lists them.

use clap::{CommandFactory, ValueEnum};
use clap_complete::Shell;
use djrun::cli::Cli;

/// The visible subcommands, from clap's definition.
fn subcommands() -> Vec<String> {
    let names: Vec<String> = Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect();
    assert!(
        names.len() >= 4,
        "init, inspect, completions, man: {names:?}"
    );
    names
}

/// The visible long flags of `djrun init`, from clap's definition.
fn init_long_flags() -> Vec<String> {
    let cmd = Cli::command();
    let init = cmd.find_subcommand("init").expect("an init subcommand");
    let flags: Vec<String> = init
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect();
    assert!(flags.len() >= 10, "init's long flags: {flags:?}");
    flags
}

fn run(args: &[&str]) -> String {
    let out = assert_cmd::Command::cargo_bin("djrun")
        .unwrap()
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

/// `word` occurs in `text` with no identifier character (or `-`) on either side.
fn has_word(text: &str, word: &str) -> bool {
    let part = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

#[test]
fn every_shell_completes_every_subcommand_and_every_init_flag() {
    let shells = Shell::value_variants();
    assert_eq!(shells.len(), 5, "bash, elvish, fish, powershell, zsh");
    for shell in shells {
        let name = shell.to_possible_value().unwrap().get_name().to_string();
        let script = run(&["completions", &name]);
        assert!(script.contains("djrun"), "{name}: {script}");
        for sub in subcommands() {
            assert!(has_word(&script, &sub), "{name} completion lacks `{sub}`");
        }
        for flag in init_long_flags() {
            // fish spells a long option `-l project-dir`; the others `--project-dir`.
            let spelled = match shell {
                Shell::Fish => format!("-l {flag}"),
                _ => format!("--{flag}"),
            };
            assert!(
                has_word(&script, &spelled),
                "{name} completion lacks `{spelled}`"
            );
        }
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error_listing_the_shells() {
    let out = assert_cmd::Command::cargo_bin("djrun")
        .unwrap()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8(out).unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        assert!(stderr.contains(shell), "{stderr}");
    }
}

/// roff escapes `-` as `\-`.
fn roff(s: &str) -> String {
    s.replace('-', "\\-")
}

#[test]
fn the_man_page_names_every_subcommand() {
    let page = run(&["man"]);
    assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{page}");
    assert!(page.contains(".TH djrun 1"), "{page}");
    for sub in subcommands() {
        assert!(
            page.contains(&format!("djrun\\-{sub}(1)")),
            "lacks {sub}: {page}"
        );
    }
    // Every page it names is one `djrun man DIR` writes: none for clap's `help`.
    assert!(!page.contains("djrun\\-help(1)"), "{page}");
}

#[test]
fn man_with_a_folder_writes_a_page_per_command_with_every_init_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man1");
    assert_cmd::Command::cargo_bin("djrun")
        .unwrap()
        .arg("man")
        .arg(&dir)
        .assert()
        .success();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut expected: Vec<String> = subcommands()
        .iter()
        .map(|s| format!("djrun-{s}.1"))
        .chain(["djrun.1".to_string()])
        .collect();
    expected.sort();
    assert_eq!(files, expected);
    let init = std::fs::read_to_string(dir.join("djrun-init.1")).unwrap();
    for flag in init_long_flags() {
        assert!(
            init.contains(&roff(&format!("--{flag}"))),
            "djrun-init.1 lacks --{flag}"
        );
    }
}

#[test]
fn the_bash_script_loads_and_registers_djrun() {
    let script = run(&["completions", "bash"]);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("djrun.bash");
    std::fs::write(&file, script).unwrap();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(". '{}' && complete -p djrun", file.display()))
        .output()
        .expect("bash is installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("-F _djrun") && stdout.ends_with("djrun\n"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
