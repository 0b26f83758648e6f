//! The default project and region from gcloud's own configuration files.
//!
//! djrun reads the files directly instead of running `gcloud config get`, which takes
//! about a second and may not be installed. The layout it reads:
//!
//! - `<dir>/active_config` holds the name of the active configuration (missing or empty
//!   means `default`);
//! - `<dir>/configurations/config_<name>` is an INI file with `[core] project`,
//!   `[run] region` and `[compute] region`.
//!
//! Nothing here fails: a missing or unreadable file just means no default. Nothing here
//! validates either; the caller checks the values with [`crate::validate`] before use.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The defaults gcloud would use for a deploy, as far as djrun can tell.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcloudDefaults {
    /// The `[core] project` property (or `CLOUDSDK_CORE_PROJECT`), not validated.
    pub project: Option<String>,
    /// The `[run] region` property, else `[compute] region` (or their environment
    /// variables), not validated.
    pub region: Option<String>,
    /// The configuration file at least one of the values came from; `None` when nothing
    /// was found in a file.
    pub source: Option<PathBuf>,
}

/// The name gcloud uses when no configuration is marked active.
const DEFAULT_CONFIG_NAME: &str = "default";

/// gcloud's reserved configuration that holds no properties.
const NO_CONFIG_NAME: &str = "NONE";

/// More than any real configuration file; a bigger file is read only this far.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The configuration folder.
///
/// `CLOUDSDK_CONFIG` if set and non-empty, else `$HOME/.config/gcloud` (on Windows
/// `%APPDATA%\gcloud`: pass the `APPDATA` folder as `home` there). `None` when neither is
/// known.
pub fn config_dir(cloudsdk_config: Option<&OsStr>, home: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = cloudsdk_config.filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let home = home.filter(|h| !h.as_os_str().is_empty())?;
    if cfg!(windows) {
        Some(home.join("gcloud"))
    } else {
        Some(home.join(".config").join("gcloud"))
    }
}

/// Reads the active configuration's `[core] project` and `[run] region` (else
/// `[compute] region`) from the configuration folder `dir`.
///
/// `active_override` is the value of `CLOUDSDK_ACTIVE_CONFIG_NAME` if set; when it is
/// empty the `active_config` file decides, as in gcloud. Missing, unreadable or garbled
/// files give empty defaults, never an error. A configuration name that gcloud would
/// not accept (it must match `[a-z][-a-z0-9]*`) is never turned into a path: from the
/// `active_config` file it falls back to `default` as gcloud does, from the override it
/// gives empty defaults.
pub fn read_defaults(dir: &Path, active_override: Option<&str>) -> GcloudDefaults {
    let Some(name) = active_config_name(dir, active_override) else {
        return GcloudDefaults::default();
    };
    let path = dir.join("configurations").join(format!("config_{name}"));
    let Some(text) = read_small(&path) else {
        return GcloudDefaults::default();
    };
    let ini = Ini::parse(&text);
    let project = ini.get("core", "project");
    let region = ini
        .get("run", "region")
        .or_else(|| ini.get("compute", "region"));
    let source = (project.is_some() || region.is_some()).then_some(path);
    GcloudDefaults {
        project,
        region,
        source,
    }
}

/// Applies gcloud's environment variables on top of the defaults read from a file.
///
/// `core_project`, `run_region` and `compute_region` are the values of
/// `CLOUDSDK_CORE_PROJECT`, `CLOUDSDK_RUN_REGION` and `CLOUDSDK_COMPUTE_REGION`; empty or
/// blank values count as unset. The project from the environment beats the file. For the
/// region the order is `CLOUDSDK_RUN_REGION`, then the file's region, then
/// `CLOUDSDK_COMPUTE_REGION`: `gcloud run` reads only the run region, so a compute region
/// is a last hint. (If the file's region came from `[compute]`, gcloud would let the
/// compute variable win over it; `defaults` does not record the section, and both are
/// only hints for `gcloud run`.) `source` is kept while a value still comes from the file.
pub fn apply_env_overrides(
    defaults: GcloudDefaults,
    core_project: Option<String>,
    run_region: Option<String>,
    compute_region: Option<String>,
) -> GcloudDefaults {
    let core_project = non_blank(core_project);
    let run_region = non_blank(run_region);
    let compute_region = non_blank(compute_region);

    let project_from_file = core_project.is_none() && defaults.project.is_some();
    let region_from_file = run_region.is_none() && defaults.region.is_some();

    let project = core_project.or(defaults.project);
    let region = run_region.or(defaults.region).or(compute_region);
    let source = defaults
        .source
        .filter(|_| project_from_file || region_from_file);
    GcloudDefaults {
        project,
        region,
        source,
    }
}

/// Reads gcloud's defaults for this process: the folder from `CLOUDSDK_CONFIG` or the
/// home folder (`HOME`; on Windows `APPDATA`, else `USERPROFILE\AppData\Roaming`), the
/// configuration named by `CLOUDSDK_ACTIVE_CONFIG_NAME` or `active_config`, then the
/// overrides `CLOUDSDK_CORE_PROJECT`, `CLOUDSDK_RUN_REGION` and `CLOUDSDK_COMPUTE_REGION`,
/// which beat the files as they do in gcloud.
pub fn defaults_from_env() -> GcloudDefaults {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let text = |name: &str| var(name).map(|v| v.to_string_lossy().into_owned());

    let home = if cfg!(windows) {
        var("APPDATA").map(PathBuf::from).or_else(|| {
            var("USERPROFILE").map(|p| PathBuf::from(p).join("AppData").join("Roaming"))
        })
    } else {
        var("HOME").map(PathBuf::from)
    };
    let file_defaults = config_dir(var("CLOUDSDK_CONFIG").as_deref(), home.as_deref())
        .map(|dir| read_defaults(&dir, text("CLOUDSDK_ACTIVE_CONFIG_NAME").as_deref()))
        .unwrap_or_default();
    apply_env_overrides(
        file_defaults,
        text("CLOUDSDK_CORE_PROJECT"),
        text("CLOUDSDK_RUN_REGION"),
        text("CLOUDSDK_COMPUTE_REGION"),
    )
}

/// The active configuration's name, or `None` when no properties should be read.
fn active_config_name(dir: &Path, active_override: Option<&str>) -> Option<String> {
    let chosen = match active_override.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => valid_config_name(name).then(|| name.to_string())?,
        None => read_small(&dir.join("active_config"))
            .map(|text| text.trim().to_string())
            .filter(|name| valid_config_name(name))
            .unwrap_or_else(|| DEFAULT_CONFIG_NAME.to_string()),
    };
    (chosen != NO_CONFIG_NAME).then_some(chosen)
}

/// Whether gcloud accepts `name` as a configuration name: `[a-z][-a-z0-9]*`, or the
/// reserved `NONE`. Such a name can never leave the `configurations` folder.
fn valid_config_name(name: &str) -> bool {
    name == NO_CONFIG_NAME
        || (name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
}

/// Reads up to [`MAX_CONFIG_BYTES`] of a file as text, replacing bytes that are not
/// UTF-8. `None` if the file cannot be opened or read.
fn read_small(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Blank strings count as unset; others are trimmed.
fn non_blank(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The few INI rules gcloud's property files use.
///
/// Lines are `[section]`, `key = value` (or `key: value`), blank, or comments starting
/// with `#` or `;`. Keys are matched without regard to case, as Python's `configparser`
/// does; sections are matched exactly. Surrounding whitespace and a trailing `\r` are
/// ignored, as are malformed lines and keys before the first section. A later value for
/// the same key wins.
struct Ini {
    entries: Vec<(String, String, String)>,
}

impl Ini {
    fn parse(text: &str) -> Ini {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut entries = Vec::new();
        let mut section: Option<String> = None;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                section = rest.strip_suffix(']').map(|s| s.trim().to_string());
                continue;
            }
            let Some(section) = &section else { continue };
            let Some(split) = line.find(['=', ':']) else {
                continue;
            };
            let key = line[..split].trim();
            if key.is_empty() {
                continue;
            }
            let value = line[split + 1..].trim();
            entries.push((section.clone(), key.to_ascii_lowercase(), value.to_string()));
        }
        Ini { entries }
    }

    /// The last value of `key` in `section`; `None` if there is none or it is empty.
    fn get(&self, section: &str, key: &str) -> Option<String> {
        self.entries
            .iter()
            .rev()
            .find(|(s, k, _)| s == section && k == key)
            .map(|(_, _, v)| v.clone())
            .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A gcloud folder with the given `active_config` and configurations.
    fn gcloud_dir(active: Option<&[u8]>, configs: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        if let Some(active) = active {
            fs::write(dir.path().join("active_config"), active).unwrap();
        }
        let configurations = dir.path().join("configurations");
        fs::create_dir(&configurations).unwrap();
        for (name, text) in configs {
            fs::write(configurations.join(format!("config_{name}")), text).unwrap();
        }
        dir
    }

    fn config_path(dir: &tempfile::TempDir, name: &str) -> Option<PathBuf> {
        Some(
            dir.path()
                .join("configurations")
                .join(format!("config_{name}")),
        )
    }

    const DEFAULT: &[u8] =
        b"[core]\nproject = my-proj\naccount = x@y\n\n[compute]\nregion = europe-west1\n";
    const WORK: &[u8] = b"[core]\nproject=work-proj\n[run]\nregion=us-central1\n";

    #[test]
    fn config_dir_prefers_cloudsdk_config() {
        let home = Path::new("/home/me");
        assert_eq!(
            config_dir(Some(OsStr::new("/etc/gc")), Some(home)),
            Some(PathBuf::from("/etc/gc"))
        );
        let expected = if cfg!(windows) {
            home.join("gcloud")
        } else {
            home.join(".config").join("gcloud")
        };
        assert_eq!(
            config_dir(Some(OsStr::new("")), Some(home)),
            Some(expected.clone())
        );
        assert_eq!(config_dir(None, Some(home)), Some(expected));
        assert_eq!(config_dir(None, None), None);
        assert_eq!(config_dir(None, Some(Path::new(""))), None);
    }

    #[test]
    fn no_active_config_file_reads_default() {
        let dir = gcloud_dir(None, &[("default", DEFAULT), ("work", WORK)]);
        assert_eq!(
            read_defaults(dir.path(), None),
            GcloudDefaults {
                project: Some("my-proj".into()),
                region: Some("europe-west1".into()),
                source: config_path(&dir, "default"),
            }
        );
    }

    #[test]
    fn active_config_file_selects_named_config() {
        let dir = gcloud_dir(Some(b"work\n"), &[("default", DEFAULT), ("work", WORK)]);
        assert_eq!(
            read_defaults(dir.path(), None),
            GcloudDefaults {
                project: Some("work-proj".into()),
                region: Some("us-central1".into()),
                source: config_path(&dir, "work"),
            }
        );
    }

    #[test]
    fn override_beats_active_config_file() {
        let dir = gcloud_dir(Some(b"work"), &[("default", DEFAULT), ("work", WORK)]);
        let got = read_defaults(dir.path(), Some("default"));
        assert_eq!(got.project.as_deref(), Some("my-proj"));
        assert_eq!(got.source, config_path(&dir, "default"));
        // An empty override is ignored, as gcloud does.
        let got = read_defaults(dir.path(), Some(""));
        assert_eq!(got.project.as_deref(), Some("work-proj"));
        // A missing named config gives nothing.
        assert_eq!(
            read_defaults(dir.path(), Some("other")),
            GcloudDefaults::default()
        );
    }

    #[test]
    fn invalid_config_names_never_become_paths() {
        let dir = gcloud_dir(Some(b"../../etc"), &[("default", DEFAULT)]);
        // A corrupt active_config falls back to default, as gcloud does.
        assert_eq!(
            read_defaults(dir.path(), None).project.as_deref(),
            Some("my-proj")
        );
        assert_eq!(
            read_defaults(dir.path(), Some("../default")),
            GcloudDefaults::default()
        );
        assert_eq!(
            read_defaults(dir.path(), Some("NONE")),
            GcloudDefaults::default()
        );
    }

    #[test]
    fn run_region_beats_compute_region() {
        let text = b"[compute]\nregion = europe-west1\n[run]\nregion = europe-west4\n";
        let dir = gcloud_dir(None, &[("default", text)]);
        let got = read_defaults(dir.path(), None);
        assert_eq!(got.region.as_deref(), Some("europe-west4"));
        assert_eq!(got.project, None);
        assert_eq!(got.source, config_path(&dir, "default"));
    }

    #[test]
    fn crlf_comments_and_whitespace() {
        let text = b"\xef\xbb\xbf# gcloud config\r\n; another\r\n  [core]  \r\n  PROJECT   =   crlf-proj  \r\n\
                     garbage line\r\n= no key\r\n\r\n[run]\r\nregion:us-east1\r\n";
        let dir = gcloud_dir(Some(b"default\r\n"), &[("default", text)]);
        let got = read_defaults(dir.path(), None);
        assert_eq!(got.project.as_deref(), Some("crlf-proj"));
        assert_eq!(got.region.as_deref(), Some("us-east1"));
    }

    #[test]
    fn empty_values_are_none() {
        let text = b"[core]\nproject =\n[run]\nregion = \n[compute]\nregion = asia-east1\n";
        let dir = gcloud_dir(None, &[("default", text)]);
        let got = read_defaults(dir.path(), None);
        assert_eq!(got.project, None);
        assert_eq!(got.region.as_deref(), Some("asia-east1"));

        let dir = gcloud_dir(None, &[("default", b"[core]\naccount = x@y\n")]);
        assert_eq!(read_defaults(dir.path(), None), GcloudDefaults::default());
    }

    #[test]
    fn keys_outside_their_section_are_ignored() {
        let text = b"project = loose\n[compute]\nproject = wrong\n[core]\nregion = wrong\n";
        let dir = gcloud_dir(None, &[("default", text)]);
        assert_eq!(read_defaults(dir.path(), None), GcloudDefaults::default());
    }

    #[test]
    fn missing_dir_gives_empty_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        assert_eq!(read_defaults(&missing, None), GcloudDefaults::default());
        assert_eq!(
            read_defaults(&missing, Some("work")),
            GcloudDefaults::default()
        );
        // A directory where the file should be is unreadable, not a panic.
        let dir = gcloud_dir(None, &[]);
        fs::create_dir(dir.path().join("configurations").join("config_default")).unwrap();
        assert_eq!(read_defaults(dir.path(), None), GcloudDefaults::default());
    }

    #[test]
    fn garbage_bytes_do_not_panic() {
        let garbage: &[u8] = b"\xff\xfe\x00[core\xc3]\nproject = \xff\xfe\n[\n]\n=\n\x80\x81";
        let dir = gcloud_dir(Some(b"\xff\xfe\x00"), &[("default", garbage)]);
        let got = read_defaults(dir.path(), None);
        assert_eq!(got.region, None);
        assert_eq!(got.project, None);

        let text = b"[core]\nproject = caf\xe9\n";
        let dir = gcloud_dir(None, &[("default", text)]);
        let got = read_defaults(dir.path(), None);
        assert_eq!(got.project.as_deref(), Some("caf\u{fffd}"));
    }

    #[test]
    fn env_overrides_beat_files() {
        let file = GcloudDefaults {
            project: Some("file-proj".into()),
            region: Some("europe-west1".into()),
            source: Some(PathBuf::from("/g/configurations/config_default")),
        };
        let s = |v: &str| Some(v.to_string());

        assert_eq!(apply_env_overrides(file.clone(), None, None, None), file);

        let got = apply_env_overrides(file.clone(), s("env-proj"), None, None);
        assert_eq!(got.project.as_deref(), Some("env-proj"));
        assert_eq!(got.region.as_deref(), Some("europe-west1"));
        assert_eq!(got.source, file.source);

        let got = apply_env_overrides(file.clone(), s("env-proj"), s("us-east1"), None);
        assert_eq!(got.region.as_deref(), Some("us-east1"));
        assert_eq!(got.source, None, "nothing left from the file");

        // The file's region beats CLOUDSDK_COMPUTE_REGION, which is a last hint.
        let got = apply_env_overrides(file.clone(), None, None, s("asia-east1"));
        assert_eq!(got.region.as_deref(), Some("europe-west1"));
        let got = apply_env_overrides(GcloudDefaults::default(), None, None, s("asia-east1"));
        assert_eq!(got.region.as_deref(), Some("asia-east1"));
        assert_eq!(got.source, None);

        // Blank values count as unset.
        let got = apply_env_overrides(file.clone(), s(""), s("  "), None);
        assert_eq!(got, file);
        let got = apply_env_overrides(GcloudDefaults::default(), s(" p-proj \n"), None, None);
        assert_eq!(got.project.as_deref(), Some("p-proj"));
    }
}
