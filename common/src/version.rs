//! The one version every service reports (internal `/healthz`, heartbeat rows on the dashboard,
//! `admin --version`): `<package version>+<short commit>`, the commit taken at compile time from
//! `VGOODS_GIT_COMMIT` (the Docker build sets it from its `GIT_COMMIT` argument), or the package
//! version alone when that is unset or empty.

use std::sync::LazyLock;

/// Length of the commit kept in the version: the heartbeat's `version` column is VARCHAR(32).
const SHORT_COMMIT: usize = 12;

static VERSION: LazyLock<&'static str> = LazyLock::new(|| {
    let v = compose(env!("CARGO_PKG_VERSION"), option_env!("VGOODS_GIT_COMMIT"));
    Box::leak(v.into_boxed_str())
});

/// `<CARGO_PKG_VERSION>+<commit>` or `<CARGO_PKG_VERSION>`, at most 32 characters.
pub fn version() -> &'static str {
    &VERSION
}

fn compose(package: &str, commit: Option<&str>) -> String {
    let commit: String = commit
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(SHORT_COMMIT)
        .collect();
    if commit.is_empty() {
        package.to_owned()
    } else {
        format!("{package}+{commit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_version_with_a_short_commit() {
        assert_eq!(compose("0.1.0", None), "0.1.0");
        assert_eq!(compose("0.1.0", Some("  ")), "0.1.0");
        assert_eq!(
            compose("0.1.0", Some("4030b53c1f2e9a8b7c6d5e4f3a2b1c0d9e8f7a6b")),
            "0.1.0+4030b53c1f2e"
        );
        assert_eq!(compose("0.1.0", Some("4030b53")), "0.1.0+4030b53");
        assert!(version().starts_with(env!("CARGO_PKG_VERSION")));
        assert!(version().len() <= 32);
    }
}
