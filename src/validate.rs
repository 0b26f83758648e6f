//! Rules for the values djrun writes into generated YAML, Dockerfiles and shell commands.
//!
//! Every value that reaches a generated file passes one of these checks first. The rules
//! are Google Cloud's own naming rules, and each of them also guarantees that a value is
//! plain ASCII with no whitespace, quote, `$`, newline or other character that could end
//! a line or a string in the file it lands in.
//!
//! The checks return `Err(String)` with one sentence a person can act on; callers wrap it
//! in [`crate::Error`] together with the flag or file the value came from.

/// The Cloud Run regions djrun knows about, sorted.
///
/// Taken from the "Cloud Run locations" list on Google's deploying page. The list grows
/// over time, so [`region`] only warns about a well-formed region that is missing here.
pub const REGIONS: &[&str] = &[
    "africa-south1",
    "asia-east1",
    "asia-east2",
    "asia-northeast1",
    "asia-northeast2",
    "asia-northeast3",
    "asia-south1",
    "asia-south2",
    "asia-southeast1",
    "asia-southeast2",
    "asia-southeast3",
    "australia-southeast1",
    "australia-southeast2",
    "europe-central2",
    "europe-north1",
    "europe-north2",
    "europe-southwest1",
    "europe-west1",
    "europe-west10",
    "europe-west12",
    "europe-west2",
    "europe-west3",
    "europe-west4",
    "europe-west6",
    "europe-west8",
    "europe-west9",
    "me-central1",
    "me-central2",
    "me-west1",
    "northamerica-northeast1",
    "northamerica-northeast2",
    "northamerica-south1",
    "southamerica-east1",
    "southamerica-west1",
    "us-central1",
    "us-east1",
    "us-east4",
    "us-east5",
    "us-south1",
    "us-west1",
    "us-west2",
    "us-west3",
    "us-west4",
];

/// The longest Cloud Run service name, in characters.
const SERVICE_NAME_MAX: usize = 49;

/// The longest DNS label, which bounds the first part of a `run.app` host name.
const DNS_LABEL_MAX: usize = 63;

/// The number of digits in a Google Cloud project number.
const PROJECT_NUMBER_DIGITS: usize = 12;

/// Words Google does not allow anywhere in a project id.
const RESTRICTED_PROJECT_WORDS: &[&str] = &["google", "null", "undefined", "ssl"];

/// Shows a value inside backticks with control characters, quotes and backslashes
/// escaped, so a bad value cannot break the message that reports it.
fn shown(value: &str) -> String {
    format!("`{}`", value.escape_debug())
}

/// Whether `c` is a lowercase ASCII letter, an ASCII digit or a hyphen.
fn is_name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

/// The first character of `value` that is not a lowercase letter, digit or hyphen.
fn first_bad_char(value: &str) -> Option<char> {
    value.chars().find(|&c| !is_name_char(c))
}

/// Describes a character for a message: printable characters in backticks, the rest by
/// their escape.
fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".to_string(),
        '\n' => "a line break".to_string(),
        '\t' => "a tab".to_string(),
        c if c.is_ascii_uppercase() => format!("the uppercase letter `{c}`"),
        c => format!("`{}`", c.escape_debug()),
    }
}

/// Checks a Google Cloud project id.
///
/// A project id has 6 to 30 characters: lowercase ASCII letters, digits and hyphens. It
/// starts with a letter, does not end with a hyphen and does not contain the restricted
/// words `google`, `null`, `undefined` or `ssl`. Legacy domain-scoped ids such as
/// `example.com:my-proj` are rejected, because the colon cannot appear in an Artifact
/// Registry image path.
///
/// The error is one sentence naming the rule the value breaks.
pub fn project_id(value: &str) -> Result<(), String> {
    const RULE: &str = "use 6 to 30 lowercase letters, digits and hyphens, starting with a letter";
    if value.is_empty() {
        return Err(format!("The project id is empty: {RULE}."));
    }
    let v = shown(value);
    if value.contains(':') {
        return Err(format!(
            "{v} is a legacy domain-scoped project id, which djrun does not support: \
             Artifact Registry image paths cannot hold its colon, so deploy from a project \
             whose id has only lowercase letters, digits and hyphens."
        ));
    }
    if let Some(c) = first_bad_char(value) {
        return Err(format!(
            "{v} is not a valid project id: it contains {}; {RULE}.",
            describe_char(c)
        ));
    }
    if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!(
            "{v} is not a valid project id: it must start with a lowercase letter."
        ));
    }
    let len = value.len();
    if !(6..=30).contains(&len) {
        return Err(format!(
            "{v} is not a valid project id: it has {len} characters, and a project id has 6 to 30."
        ));
    }
    if value.ends_with('-') {
        return Err(format!(
            "{v} is not a valid project id: it must not end with a hyphen."
        ));
    }
    if let Some(word) = RESTRICTED_PROJECT_WORDS.iter().find(|w| value.contains(*w)) {
        return Err(format!(
            "{v} is not a valid project id: Google does not allow the word `{word}` in one."
        ));
    }
    Ok(())
}

/// Checks a Cloud Run region such as `europe-west1`.
///
/// The value must look like a region: lowercase letters, a hyphen, lowercase letters,
/// then digits (`^[a-z]+-[a-z]+[0-9]+$`). A malformed value is an error. A well-formed
/// region that is not in [`REGIONS`] returns `Ok(Some(warning))`, since Google adds
/// regions over time; a known region returns `Ok(None)`.
pub fn region(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() {
        return Err(
            "The region is empty: name a Cloud Run region such as `europe-west1`.".to_string(),
        );
    }
    if !region_shaped(value) {
        return Err(format!(
            "{} is not a valid region: a region is lowercase letters, a hyphen, lowercase \
             letters and a number, such as `europe-west1` or `us-central1`.",
            shown(value)
        ));
    }
    if REGIONS.binary_search(&value).is_ok() {
        Ok(None)
    } else {
        Ok(Some(format!(
            "`{value}` is not a Cloud Run region djrun knows about; if the deploy fails, \
             check the name against `gcloud run regions list`."
        )))
    }
}

/// Whether `value` matches `^[a-z]+-[a-z]+[0-9]+$`.
fn region_shaped(value: &str) -> bool {
    let Some((area, rest)) = value.split_once('-') else {
        return false;
    };
    let letters_end = rest
        .find(|c: char| !c.is_ascii_lowercase())
        .unwrap_or(rest.len());
    let (place, number) = rest.split_at(letters_end);
    !area.is_empty()
        && area.chars().all(|c| c.is_ascii_lowercase())
        && !place.is_empty()
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
}

/// Checks a Cloud Run service name.
///
/// A service name has 1 to 49 characters: lowercase ASCII letters, digits and hyphens,
/// starting with a letter and not ending with a hyphen
/// (`^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$`).
pub fn service_name(value: &str) -> Result<(), String> {
    const RULE: &str = "use up to 49 lowercase letters, digits and hyphens, starting with a letter";
    if value.is_empty() {
        return Err(format!("The service name is empty: {RULE}."));
    }
    let v = shown(value);
    if let Some(c) = first_bad_char(value) {
        return Err(format!(
            "{v} is not a valid Cloud Run service name: it contains {}; {RULE}.",
            describe_char(c)
        ));
    }
    if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!(
            "{v} is not a valid Cloud Run service name: it must start with a lowercase letter."
        ));
    }
    if value.ends_with('-') {
        return Err(format!(
            "{v} is not a valid Cloud Run service name: it must not end with a hyphen."
        ));
    }
    let len = value.len();
    if len > SERVICE_NAME_MAX {
        return Err(format!(
            "{v} is not a valid Cloud Run service name: it has {len} characters, and the \
             limit is {SERVICE_NAME_MAX}."
        ));
    }
    Ok(())
}

/// Checks a Cloud SQL instance name: lowercase letters, digits and hyphens, starting with a
/// letter and not ending with a hyphen, and with `project:` in front at most 98 characters.
pub fn sql_instance_name(value: &str, project: &str) -> Result<(), String> {
    const RULE: &str = "use lowercase letters, digits and hyphens, starting with a letter";
    if value.is_empty() {
        return Err(format!("The Cloud SQL instance name is empty: {RULE}."));
    }
    let v = shown(value);
    if let Some(c) = first_bad_char(value) {
        return Err(format!(
            "{v} is not a valid Cloud SQL instance name: it contains {}; {RULE}.",
            describe_char(c)
        ));
    }
    if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!(
            "{v} is not a valid Cloud SQL instance name: it must start with a lowercase letter."
        ));
    }
    if value.ends_with('-') {
        return Err(format!(
            "{v} is not a valid Cloud SQL instance name: it must not end with a hyphen."
        ));
    }
    let total = project.len() + 1 + value.len();
    if total > 98 {
        return Err(format!(
            "{v} is too long: `{project}:{value}` has {total} characters, and Cloud SQL allows 98."
        ));
    }
    Ok(())
}

/// Checks a Cloud Storage bucket name: 3 to 63 lowercase letters, digits, hyphens and
/// underscores, starting and ending with a letter or digit, not starting with `goog` and
/// without `google`. Dotted names need a verified domain, so djrun does not take them.
pub fn bucket_name(value: &str) -> Result<(), String> {
    const RULE: &str = "use 3 to 63 lowercase letters, digits, hyphens and underscores";
    let v = shown(value);
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "{v} is not a bucket name djrun takes: it contains {}; {RULE}.",
            describe_char(c)
        ));
    }
    let len = value.len();
    if !(3..=63).contains(&len) {
        return Err(format!(
            "{v} is not a valid bucket name: it has {len} characters; {RULE}."
        ));
    }
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !value.starts_with(alnum) || !value.ends_with(alnum) {
        return Err(format!(
            "{v} is not a valid bucket name: it must start and end with a letter or digit."
        ));
    }
    if value.starts_with("goog") || value.contains("google") {
        return Err(format!(
            "{v} is not a valid bucket name: Cloud Storage does not allow `goog` at the start or `google` in it."
        ));
    }
    Ok(())
}

/// Checks a custom domain: a host name of lowercase letters, digits and hyphens in dotted
/// labels, with at least one dot, no scheme, port or path, at most 253 characters.
pub fn domain(value: &str) -> Result<(), String> {
    let v = shown(value);
    if value.contains("://") || value.contains('/') || value.contains(':') {
        return Err(format!(
            "{v} is not a host name: give the host alone, such as `www.example.com`."
        ));
    }
    if value.len() > 253 || !value.contains('.') {
        return Err(format!(
            "{v} is not a host name: it needs a dot and at most 253 characters, such as `www.example.com`."
        ));
    }
    for label in value.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "{v} is not a host name: each part between dots is 1 to 63 lowercase letters, digits and inner hyphens."
            ));
        }
    }
    Ok(())
}

/// Checks a dotted Python module name such as `config.settings.production`.
pub fn module_name(value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.split('.').all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not a Python module name: dotted identifiers, such as `config.settings.production`",
            shown(value)
        ))
    }
}

/// Checks a Python version written as `3.Y`, such as `3.12`.
///
/// The major version is 3 and the minor version is 8 to 99, both plain digits with no
/// leading zero and no patch part (`3.12.1` is rejected; the Docker image tag picks the
/// patch release).
pub fn python_version(value: &str) -> Result<(), String> {
    let bad = |why: &str| {
        if value.is_empty() {
            format!("The Python version is empty: {why}.")
        } else {
            format!(
                "{} is not a Python version djrun can use: {why}.",
                shown(value)
            )
        }
    };
    const FORMAT: &str = "write it as `3.Y`, such as `3.12`";
    let Some((major, minor)) = value.split_once('.') else {
        return Err(bad(FORMAT));
    };
    let number = |part: &str| -> Option<u32> {
        let plain = !part.is_empty()
            && part.len() <= 2
            && part.chars().all(|c| c.is_ascii_digit())
            && !(part.len() > 1 && part.starts_with('0'));
        if plain {
            part.parse().ok()
        } else {
            None
        }
    };
    let (Some(major), Some(minor)) = (number(major), number(minor)) else {
        return Err(bad(FORMAT));
    };
    if major != 3 {
        return Err(bad("djrun supports Python 3 only, written as `3.Y`"));
    }
    if minor < 8 {
        return Err(bad("djrun needs Python 3.8 or newer"));
    }
    Ok(())
}

/// An environment variable's name, as `--env` and `--secret` take it: letters, digits and
/// underscores, not starting with a digit (what Cloud Run and a shell accept).
pub fn env_name(value: &str) -> Result<(), String> {
    let ok = value.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{value}` is not a variable name: use letters, digits and underscores, not starting with a digit"
        ))
    }
}

/// A plain value `--env` sets: one line that cloudbuild.yaml carries unquoted and gcloud's
/// `--update-env-vars` splits correctly.
pub fn env_value(value: &str) -> Result<(), String> {
    let why = if value.contains(['\n', '\r']) {
        "holds a line break"
    } else if value.contains(": ") || value.contains(" #") || value.ends_with(':') {
        "holds `: `, ` #` or a final `:`, which cloudbuild.yaml would read as YAML"
    } else if value.contains(',') && value.contains(';') {
        "holds both `,` and `;`, so gcloud cannot tell where it ends"
    } else {
        return Ok(());
    };
    Err(format!("the value {why}"))
}

/// Derives a valid Cloud Run service name from a project or folder name.
///
/// Letters are lowercased; `_`, whitespace and `.` become `-`; any other character that
/// is not an ASCII letter, digit or hyphen is dropped. Runs of hyphens collapse to one and
/// hyphens at either end are trimmed. A result that is empty or does not start with a
/// letter gets the prefix `django-` (an empty result becomes `django`). The result is cut
/// to 49 characters without a trailing hyphen, so it always passes [`service_name`].
pub fn service_name_from(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let mapped = match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' => c.to_ascii_lowercase(),
            '-' | '_' | '.' => '-',
            c if c.is_whitespace() => '-',
            _ => continue,
        };
        if mapped == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(mapped);
    }
    let trimmed = out.trim_end_matches('-');
    let mut service = if trimmed.is_empty() {
        "django".to_string()
    } else if trimmed.starts_with(|c: char| c.is_ascii_lowercase()) {
        trimmed.to_string()
    } else {
        format!("django-{trimmed}")
    };
    // Everything is ASCII here, so cutting at a byte index is cutting at a character.
    service.truncate(SERVICE_NAME_MAX);
    let kept = service.trim_end_matches('-').len();
    service.truncate(kept);
    service
}

/// Whether Cloud Run's deterministic URL exists for `service`.
///
/// That URL is `https://SERVICE-PROJECTNUMBER.REGION.run.app`, and its first label,
/// `SERVICE-PROJECTNUMBER`, must fit in a 63-character DNS label; project numbers have
/// 12 digits. With the 49-character service name limit this always holds (49 + 1 + 12 =
/// 62), but djrun checks it rather than rely on that arithmetic staying true.
pub fn deterministic_url_fits(service: &str) -> bool {
    service.len() + 1 + PROJECT_NUMBER_DIGITS <= DNS_LABEL_MAX
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ways to sneak something into a generated file, appended to a valid base.
    const INJECTIONS: &[&str] = &[
        "\n", "\r", "\"", "'", " ", "$", "`", "\\", ";", "#", ":", "/", "é", "\u{0}", "\t", "{",
        "}", "_", ".",
    ];

    #[test]
    fn regions_are_sorted_unique_and_well_formed() {
        assert_eq!(REGIONS.len(), 43);
        assert!(
            REGIONS.windows(2).all(|w| w[0] < w[1]),
            "REGIONS not sorted"
        );
        for r in REGIONS {
            assert!(region_shaped(r), "{r}");
            assert_eq!(region(r), Ok(None), "{r}");
        }
    }

    #[test]
    fn project_id_accepts_valid_ids() {
        for ok in [
            "my-project",
            "abcdef",
            "a12345",
            "my-proj-123456",
            "a-b-c-d-e",
            &"a".repeat(30),
        ] {
            assert_eq!(project_id(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn project_id_rejects_each_broken_rule() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("abcde", "has 5 characters"),
            (&"a".repeat(31), "has 31 characters"),
            ("1abcdef", "start with a lowercase letter"),
            ("-abcdef", "start with a lowercase letter"),
            ("abcdef-", "end with a hyphen"),
            ("My_Project", "uppercase letter `M`"),
            ("my_project", "contains `_`"),
            ("my project", "a space"),
            ("my-google-app", "`google`"),
            ("nullable-app", "`null`"),
            ("undefined-app", "`undefined`"),
            ("my-ssl-app", "`ssl`"),
            ("example.com:my-proj", "Artifact Registry"),
            ("my-projet\u{e9}", "contains `\u{e9}`"),
        ];
        for (bad, expect) in cases {
            let err = project_id(bad).unwrap_err();
            assert!(err.contains(expect), "{bad:?}: {err}");
        }
        assert_eq!(
            project_id("My_Project").unwrap_err(),
            "`My_Project` is not a valid project id: it contains the uppercase letter `M`; use 6 \
             to 30 lowercase letters, digits and hyphens, starting with a letter."
        );
    }

    #[test]
    fn project_id_rejects_injection_characters() {
        for bad in INJECTIONS {
            for value in [format!("my-project{bad}"), format!("my{bad}project")] {
                let err = project_id(&value).unwrap_err();
                assert!(!err.contains('\n'), "message holds a raw newline: {err:?}");
            }
        }
    }

    #[test]
    fn region_accepts_known_and_warns_on_unknown() {
        assert_eq!(region("europe-west1"), Ok(None));
        assert_eq!(region("northamerica-northeast2"), Ok(None));
        let warning = region("mars-north1").unwrap().unwrap();
        assert!(warning.contains("gcloud run regions list"), "{warning}");
        assert!(region("europe-west99").unwrap().is_some());
    }

    #[test]
    fn region_rejects_malformed() {
        for bad in [
            "",
            "europe",
            "europe-west",
            "europe-1",
            "-west1",
            "Europe-west1",
            "europe-West1",
            "europe_west1",
            "europe-west1a",
            "europe-west-1",
            "europe-we1st",
            "europe--west1",
            "eu-rope-west1",
            " europe-west1",
            "europe-west1 ",
        ] {
            assert!(region(bad).is_err(), "{bad:?}");
        }
        for bad in INJECTIONS {
            assert!(region(&format!("europe-west1{bad}")).is_err(), "{bad:?}");
            assert!(region(&format!("europe{bad}west1")).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn service_name_accepts_valid_names() {
        for ok in [
            "a",
            "mysite",
            "my-site",
            "a1",
            "site-2-prod",
            &"a".repeat(49),
        ] {
            assert_eq!(service_name(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn service_name_rejects_each_broken_rule() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            (&"a".repeat(50), "has 50 characters"),
            ("1site", "start with a lowercase letter"),
            ("-site", "start with a lowercase letter"),
            ("site-", "end with a hyphen"),
            ("MySite", "uppercase letter `M`"),
            ("my_site", "`_`"),
            ("my site", "a space"),
            ("my\nsite", "a line break"),
            ("my\"site", "`\\\"`"),
            ("my$site", "`$`"),
            ("caf\u{e9}", "`\u{e9}`"),
        ];
        for (bad, expect) in cases {
            let err = service_name(bad).unwrap_err();
            assert!(err.contains(expect), "{bad:?}: {err}");
            assert!(!err.contains('\n'), "message holds a raw newline: {err:?}");
        }
        for bad in INJECTIONS {
            assert!(service_name(&format!("site{bad}")).is_err(), "{bad:?}");
            assert!(service_name(&format!("my{bad}site")).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn python_version_accepts_supported() {
        for ok in ["3.8", "3.9", "3.10", "3.12", "3.13", "3.99"] {
            assert_eq!(python_version(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn python_version_rejects_others() {
        for bad in [
            "",
            "3",
            "3.",
            ".12",
            "3.7",
            "3.0",
            "2.7",
            "4.0",
            "03.12",
            "3.08",
            "3.012",
            "3.100",
            "3.12.1",
            "3.12 ",
            " 3.12",
            "3,12",
            "3.1a",
            "3.12\n",
            "3.12\"",
            "3.$1",
            "3.\u{661}2",
            "+3.12",
            "3.+12",
            "v3.12",
            "python3.12",
        ] {
            assert!(python_version(bad).is_err(), "{bad:?}");
        }
        assert!(python_version("3.7").unwrap_err().contains("3.8 or newer"));
        assert!(python_version("2.7").unwrap_err().contains("Python 3"));
    }

    #[test]
    fn service_name_from_always_validates() {
        let long = "a".repeat(80);
        let long_dashes = format!("{}-{}", "a".repeat(48), "b".repeat(10));
        let inputs = [
            "My Site",
            "123",
            "_",
            long.as_str(),
            "\u{c4}\u{d6}",
            "mysite.prod",
            "",
            "---",
            "  spaced  out  ",
            "a\nb",
            "9lives",
            "$(rm -rf /)",
            "\"quoted\"",
            long_dashes.as_str(),
            "x_________________________________________________y",
        ];
        for input in inputs {
            let service = service_name_from(input);
            assert_eq!(service_name(&service), Ok(()), "{input:?} -> {service:?}");
            assert!(deterministic_url_fits(&service), "{service}");
        }
    }

    #[test]
    fn service_name_from_examples() {
        assert_eq!(service_name_from("My Site"), "my-site");
        assert_eq!(service_name_from("mysite.prod"), "mysite-prod");
        assert_eq!(service_name_from("my__site"), "my-site");
        assert_eq!(service_name_from("123"), "django-123");
        assert_eq!(service_name_from("_"), "django");
        assert_eq!(service_name_from(""), "django");
        assert_eq!(service_name_from("\u{c4}\u{d6}"), "django");
        assert_eq!(service_name_from("Caf\u{e9} Bar"), "caf-bar");
        assert_eq!(service_name_from(&"a".repeat(80)), "a".repeat(49));
        let long_dashes = format!("{}-{}", "a".repeat(48), "b".repeat(10));
        assert_eq!(service_name_from(&long_dashes), "a".repeat(48));
    }

    #[test]
    fn deterministic_url_check() {
        assert!(deterministic_url_fits(&"a".repeat(49)));
        assert!(deterministic_url_fits(&"a".repeat(50)));
        assert!(!deterministic_url_fits(&"a".repeat(51)));
    }
}
