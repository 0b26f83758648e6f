//! Requirements that come from somewhere other than a package index: version control
//! (which the build fetches with git, unless the repository is private), and local paths
//! (which the build installs after copying their code).

use serde::Serialize;

/// A dependency fetched from version control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VcsRequirement {
    /// The file that asks for it, relative to the root.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// The normalised project name, where the file gives one.
    pub name: Option<String>,
    /// The URL, with any credentials replaced by `***`.
    pub url: String,
    /// Why the image build cannot fetch it: `ssh` (an SSH URL: the build has no key),
    /// `credentials` (a token or password in the URL, committed with the code), `variable`
    /// (a `${VAR}` placeholder the build does not set), `file` (a repository on the
    /// developer's machine, `git+file://`); `null` when nothing says so.
    pub private: Option<&'static str>,
}

/// A dependency installed from a path inside the project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalRequirement {
    /// The file that asks for it, relative to the root.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// The path, relative to the project folder, `/`-separated (`.` for the folder itself).
    pub path: String,
    /// Whether the path is an archive (a wheel or an sdist) rather than a folder.
    pub archive: bool,
    /// Whether the file asks for an editable install.
    pub editable: bool,
    /// The last physical line of the requirement (after `\` continuations).
    #[serde(skip)]
    pub last_line: usize,
    /// The extras it asks for (`[dev]`), or empty.
    #[serde(skip)]
    pub extras: String,
}

/// Where a requirement's target points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A version-control URL (`git+https://...`, `git@host:path`).
    Vcs,
    /// A path inside the project folder, folded (`pkg`, `.`, `wheels/x.whl`).
    Local(String),
    /// A path outside the build context (the folder with the dependency files), or absolute, as written.
    Outside,
    /// Anything else (an archive URL, an index name).
    Other,
}

/// What a URL or path given in a requirement points at.
pub fn classify(target: &str) -> Target {
    let t = target.trim();
    let lower = t.to_ascii_lowercase();
    if ["git+", "hg+", "svn+", "bzr+", "git://", "ssh://"]
        .iter()
        .any(|p| lower.starts_with(p))
        || scp_like(t)
    {
        return Target::Vcs;
    }
    let path = if let Some(rest) = strip_prefix_ci(t, "file:") {
        // PDM writes paths inside the project as `file:///${PROJECT_ROOT}/pkg`.
        let rest = rest
            .strip_prefix("///${PROJECT_ROOT}")
            .or_else(|| rest.strip_prefix("//${PROJECT_ROOT}"))
            .map(|r| format!(".{r}"))
            .unwrap_or_else(|| rest.to_string());
        if rest.starts_with('/') {
            return Target::Outside;
        }
        rest
    } else if t.contains("://") {
        return Target::Other;
    } else {
        t.to_string()
    };
    let windows_drive = path.as_bytes().get(1) == Some(&b':');
    if path.starts_with('/') || path.starts_with('\\') || windows_drive || path.starts_with('~') {
        return Target::Outside;
    }
    match fold(&path.replace('\\', "/")) {
        Some(folded) => Target::Local(folded),
        None => Target::Outside,
    }
}

/// Whether a path names an archive pip installs as a file (wheel or sdist).
pub fn is_archive(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [
        ".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar",
    ]
    .iter()
    .any(|ext| lower.ends_with(ext))
}

/// `a/./b/../c` -> `a/c`; `None` when the path leaves its folder. The folder itself is `.`.
fn fold(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    })
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &s[prefix.len()..])
}

/// `git@github.com:acme/lib.git` (scp-like SSH syntax), with or without a `git+` prefix.
fn scp_like(url: &str) -> bool {
    let url = strip_prefix_ci(url, "git+").unwrap_or(url);
    if url.contains("://") {
        return false;
    }
    match (url.find('@'), url.find(':')) {
        (Some(at), Some(colon)) => {
            at > 0
                && at < colon
                && url[..at]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        }
        _ => false,
    }
}

/// The part of a URL between `scheme://` and the first `/` after it, and where it starts.
fn authority(url: &str) -> Option<(usize, &str)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some((start, &rest[..end]))
}

/// The `user:password` part of a URL, and where it starts.
fn userinfo(url: &str) -> Option<(usize, &str)> {
    let (start, auth) = authority(url)?;
    let at = auth.rfind('@')?;
    Some((start, &auth[..at]))
}

/// The first `${NAME}` or `$NAME` in `url`.
pub fn variable(url: &str) -> Option<String> {
    let bytes = url.as_bytes();
    let name_at = |from: usize| -> usize {
        let mut end = from;
        while end < bytes.len()
            && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_')
            && !(end == from && bytes[end].is_ascii_digit())
        {
            end += 1;
        }
        end
    };
    for (i, _) in url.match_indices('$') {
        if url[i + 1..].starts_with('{') {
            let end = name_at(i + 2);
            if end > i + 2 && url[end..].starts_with('}') {
                return Some(url[i + 2..end].to_string());
            }
        } else {
            let end = name_at(i + 1);
            if end > i + 1 {
                return Some(url[i + 1..end].to_string());
            }
        }
    }
    None
}

fn is_ssh(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("git+ssh://") || lower.starts_with("ssh://") || scp_like(url)
}

/// Why the image build cannot fetch a VCS URL, if the URL says so.
pub fn private(url: &str) -> Option<&'static str> {
    let lower = url.to_ascii_lowercase();
    if is_ssh(url) {
        Some("ssh")
    } else if lower.contains("+file:") || lower.starts_with("file:") {
        Some("file")
    } else if variable(url).is_some() {
        Some("variable")
    } else if userinfo(url).is_some_and(|(_, u)| !u.is_empty()) {
        Some("credentials")
    } else {
        None
    }
}

/// The URL with every literal credential replaced by `***`: a token (`https://TOKEN@host`),
/// a password (`https://user:PASS@host`, in SSH URLs too). `${VAR}` placeholders and the
/// user of an SSH URL are names, not secrets, and stay.
pub fn redact(url: &str) -> String {
    let Some((start, info)) = userinfo(url) else {
        return url.to_string();
    };
    let ssh = is_ssh(url);
    let placeholder = |part: &str| {
        variable(part).is_some_and(|v| part == format!("${{{v}}}") || part == format!("${v}"))
    };
    let parts: Vec<String> = info
        .splitn(2, ':')
        .enumerate()
        .map(|(i, part)| {
            if placeholder(part) || (ssh && i == 0) || part.is_empty() {
                part.to_string()
            } else {
                "***".to_string()
            }
        })
        .collect();
    format!(
        "{}{}{}",
        &url[..start],
        parts.join(":"),
        &url[start + info.len()..]
    )
}

/// A line of text with the credentials of every URL in it replaced as [`redact`] does: for
/// showing a user's file (a diff) without the tokens it holds.
pub fn redact_line(line: &str) -> String {
    if !line.contains("://") {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len());
    let mut done = 0;
    for (i, _) in line.match_indices("://") {
        if i < done {
            continue;
        }
        let scheme_start = line[done..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || "+.-".contains(c)))
            .map_or(done, |j| done + j + 1);
        let rest = &line[i + 3..];
        let end = i
            + 3
            + rest
                .find(|c: char| {
                    c == '/' || c == '?' || c == '#' || c.is_whitespace() || "\"'`<>".contains(c)
                })
                .unwrap_or(rest.len());
        out.push_str(&line[done..scheme_start]);
        out.push_str(&redact(&line[scheme_start..end]));
        done = end;
    }
    out.push_str(&line[done..]);
    out
}

/// What djrun says about a VCS requirement the image build cannot fetch: the reason and the
/// fixes that put no token into the image. `None` when nothing says it is private.
pub fn private_message(req: &VcsRequirement) -> Option<String> {
    let what = req
        .name
        .as_ref()
        .map(|n| format!("`{n}`"))
        .unwrap_or_else(|| "a package".to_string());
    let why = match req.private? {
        "ssh" => "it is fetched over SSH, and the image build has no SSH key".to_string(),
        "file" => "it is a repository on this machine, which the image build cannot see".to_string(),
        "variable" => format!(
            "its URL reads `${{{}}}`, which the image build does not set (and should not: a token given to the build stays in its layers)",
            variable(&req.url).unwrap_or_default()
        ),
        _ => "its URL holds a credential, which is committed with the code and copied into the image: revoke it".to_string(),
    };
    Some(format!(
        "`{}` line {} installs {what} from a private repository (`{}`): {why}. Build its wheel, commit it (`wheels/`) and require it by path (`./wheels/NAME-VERSION-py3-none-any.whl`), which the image installs with the other dependencies; or publish the wheel to an Artifact Registry Python repository and install it from there, once the build can read that repository. Neither puts a token into the image",
        req.file, req.line, req.url
    ))
}

/// What djrun says about a path outside the folder the image is built from.
pub fn outside_message(file: &str, line: usize, target: &str) -> String {
    format!(
        "`{file}` line {line} installs `{target}`, outside the folder the image is built from (the one with the dependency files), so the build cannot see it: move the package into that folder and require it by a relative path, or publish it as a wheel"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_control_urls_in_every_spelling() {
        for url in [
            "git+https://github.com/acme/lib.git@v1",
            "GIT+SSH://git@github.com/acme/lib.git",
            "git+git@github.com:acme/lib.git",
            "git@github.com:acme/lib.git",
            "hg+https://hg.example.com/lib",
            "ssh://git@example.com/lib.git",
        ] {
            assert_eq!(classify(url), Target::Vcs, "{url}");
        }
        assert_eq!(
            classify("https://example.com/lib-1.0.tar.gz"),
            Target::Other
        );
    }

    #[test]
    fn local_paths_fold_and_stay_inside() {
        assert_eq!(classify("."), Target::Local(".".into()));
        assert_eq!(classify("./pkg/"), Target::Local("pkg".into()));
        assert_eq!(classify("packages/x"), Target::Local("packages/x".into()));
        assert_eq!(classify("file:./pkg"), Target::Local("pkg".into()));
        assert_eq!(
            classify("file:///${PROJECT_ROOT}/libs/util"),
            Target::Local("libs/util".into())
        );
        assert_eq!(
            classify("./wheels/lib-1.0-py3-none-any.whl"),
            Target::Local("wheels/lib-1.0-py3-none-any.whl".into())
        );
        for outside in [
            "../shared",
            "pkg/../../x",
            "/opt/pkg",
            "file:///home/me/pkg",
            "C:\\pkg",
            "~/pkg",
        ] {
            assert_eq!(classify(outside), Target::Outside, "{outside}");
        }
        assert!(is_archive("wheels/Lib-1.0-py3-none-any.WHL"));
        assert!(is_archive("dist/lib-1.0.tar.gz"));
        assert!(!is_archive("packages/lib"));
    }

    #[test]
    fn private_repositories_are_told_apart() {
        assert_eq!(
            private("git+ssh://git@github.com/acme/lib.git"),
            Some("ssh")
        );
        assert_eq!(private("git+git@github.com:acme/lib.git"), Some("ssh"));
        assert_eq!(
            private("git+https://${GITHUB_TOKEN}@github.com/acme/lib.git"),
            Some("variable")
        );
        assert_eq!(
            private("git+https://oauth2:$CI_JOB_TOKEN@gitlab.com/acme/lib.git"),
            Some("variable")
        );
        assert_eq!(
            private("git+https://ghp_abc123@github.com/acme/lib.git"),
            Some("credentials")
        );
        assert_eq!(
            private("git+https://user:s3cret@example.com/lib.git"),
            Some("credentials")
        );
        assert_eq!(private("git+https://github.com/acme/lib.git@v1"), None);
        assert_eq!(private("git+file:///home/me/src/lib"), Some("file"));
        // An `@` after the host is a revision, not a user.
        assert_eq!(private("git+https://github.com/acme/lib.git@main"), None);
    }

    #[test]
    fn credentials_never_survive_redaction() {
        for (url, shown) in [
            (
                "git+https://ghp_abc123@github.com/acme/lib.git@v1",
                "git+https://***@github.com/acme/lib.git@v1",
            ),
            (
                "git+https://user:s3cret@example.com/lib.git",
                "git+https://***:***@example.com/lib.git",
            ),
            (
                "git+https://oauth2:${TOKEN}@gitlab.com/lib.git",
                "git+https://***:${TOKEN}@gitlab.com/lib.git",
            ),
            (
                "git+ssh://git:pw@example.com/lib.git",
                "git+ssh://git:***@example.com/lib.git",
            ),
            (
                "git+ssh://git@github.com/acme/lib.git",
                "git+ssh://git@github.com/acme/lib.git",
            ),
            (
                "git+https://github.com/acme/lib.git@main",
                "git+https://github.com/acme/lib.git@main",
            ),
        ] {
            assert_eq!(redact(url), shown, "{url}");
            assert!(!redact(url).contains("s3cret") && !redact(url).contains("ghp_"));
        }
    }

    #[test]
    fn lines_lose_the_credentials_of_every_url_in_them() {
        assert_eq!(
            redact_line("a git+https://deploy:tok@host/x.git#egg=x and https://t0k@h/y ok"),
            "a git+https://***:***@host/x.git#egg=x and https://***@h/y ok"
        );
        assert_eq!(
            redact_line("DB = \"postgres://app:pw@localhost:5432/db\""),
            "DB = \"postgres://***:***@localhost:5432/db\""
        );
        for same in [
            "no url here",
            "https://github.com/a/b.git@v1",
            "x://",
            "://@",
        ] {
            assert_eq!(redact_line(same), same);
        }
    }

    #[test]
    fn the_message_names_the_file_the_line_and_both_fixes() {
        let req = VcsRequirement {
            file: "requirements.txt".into(),
            line: 3,
            name: Some("acme-lib".into()),
            url: "git+ssh://git@github.com/acme/lib.git".into(),
            private: Some("ssh"),
        };
        let m = private_message(&req).unwrap();
        assert!(
            m.starts_with("`requirements.txt` line 3 installs `acme-lib`"),
            "{m}"
        );
        assert!(
            m.contains("Artifact Registry") && m.contains("./wheels/"),
            "{m}"
        );
        let public = VcsRequirement {
            private: None,
            ..req
        };
        assert!(private_message(&public).is_none());
    }

    #[test]
    fn variables_are_read_by_name() {
        assert_eq!(variable("https://${TOKEN}@x").as_deref(), Some("TOKEN"));
        assert_eq!(variable("https://a:$PASS_1@x").as_deref(), Some("PASS_1"));
        assert_eq!(variable("https://x/$1"), None);
        assert_eq!(variable("https://x/${"), None);
    }
}
