//! Objects named on the command line as kubectl names them: `KIND NAME`, or
//! one or more `KIND/NAME`, with kubectl's spellings of the kinds (`job`,
//! `jobs`, `job.batch`; `cronjob`, `cronjobs`, `cj`, `cronjob.batch`;
//! `configmap`, `configmaps`, `cm`).

use anyhow::bail;

use crate::manifest::Kind;

/// The kind a word names, as kubectl reads it.
fn kind(word: &str) -> Option<Kind> {
    match word.to_ascii_lowercase().as_str() {
        "job" | "jobs" | "job.batch" | "jobs.batch" => Some(Kind::Job),
        "cronjob" | "cronjobs" | "cj" | "cronjob.batch" | "cronjobs.batch" => Some(Kind::CronJob),
        "configmap" | "configmaps" | "cm" => Some(Kind::ConfigMap),
        _ => None,
    }
}

fn known_kind(word: &str) -> anyhow::Result<Kind> {
    kind(word).ok_or_else(|| {
        anyhow::anyhow!(
            "{word:?} is not a kind jobcd manages: name a `job`, a `cronjob` or a `configmap` (as `job/NAME` or `job NAME`)"
        )
    })
}

/// `KIND NAME` or `KIND/NAME…`.
pub(crate) fn objects(words: &[String]) -> anyhow::Result<Vec<(Kind, String)>> {
    match words {
        [kind, name] if !kind.contains('/') && !name.contains('/') => {
            Ok(vec![(known_kind(kind)?, name.clone())])
        }
        [] => bail!("name an object: `job/NAME`, `cronjob/NAME`, or `job NAME`"),
        _ => words.iter().map(|w| slashed(w)).collect(),
    }
}

/// `KIND/NAME`.
fn slashed(word: &str) -> anyhow::Result<(Kind, String)> {
    match word.split_once('/') {
        Some((kind, name)) if !name.is_empty() && !name.contains('/') => {
            Ok((known_kind(kind)?, name.to_owned()))
        }
        _ => bail!("{word:?}: name one object as `KIND/NAME` (e.g. `job/pi`), or give `KIND NAME`"),
    }
}

/// A name, or `KIND/NAME` whose kind is `expected`.
pub(crate) fn name_of(word: &str, expected: Kind) -> anyhow::Result<String> {
    if !word.contains('/') {
        return Ok(word.to_owned());
    }
    let (kind, name) = slashed(word)?;
    if kind != expected {
        bail!("{word:?} names a {kind}; this command takes a {expected}");
    }
    Ok(name)
}

/// A name, or `KIND/NAME` of either kind.
pub(crate) fn any_name(word: &str) -> anyhow::Result<String> {
    if word.contains('/') {
        return slashed(word).map(|(_, name)| name);
    }
    Ok(word.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn kubectl_spellings() {
        assert_eq!(
            objects(&words(&["job", "pi"])).unwrap(),
            vec![(Kind::Job, "pi".to_owned())]
        );
        assert_eq!(
            objects(&words(&["cj/hello", "jobs.batch/pi"])).unwrap(),
            vec![
                (Kind::CronJob, "hello".to_owned()),
                (Kind::Job, "pi".to_owned())
            ]
        );
        assert_eq!(objects(&words(&["CronJob/x"])).unwrap()[0].0, Kind::CronJob);
    }

    #[test]
    fn mistakes_say_what_to_write() {
        let e = objects(&words(&["deployment/web"]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"deployment\" is not a kind jobcd manages"),
            "{e}"
        );
        let e = objects(&words(&["pi"])).unwrap_err().to_string();
        assert!(e.contains("as `KIND/NAME`"), "{e}");
        let e = objects(&words(&["job", "a", "b"])).unwrap_err().to_string();
        assert!(e.contains("\"job\""), "{e}");
        let e = name_of("job/pi", Kind::CronJob).unwrap_err().to_string();
        assert!(
            e.contains("names a Job; this command takes a CronJob"),
            "{e}"
        );
        assert_eq!(name_of("cronjob/hello", Kind::CronJob).unwrap(), "hello");
        assert_eq!(any_name("job/pi").unwrap(), "pi");
        assert!(any_name("job/").is_err());
    }
}
