//! Name, namespace and label syntax, as the API machinery checks it.

/// Checks a DNS-1123 subdomain (object names): at most 253 characters of
/// lower-case letters, digits, '-' and '.', starting and ending alphanumeric.
pub(crate) fn dns_subdomain(name: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err(format!(
            "{} characters; at most 253 are allowed",
            name.len()
        ));
    }
    if name.split('.').all(|part| label_chars(part).is_ok()) {
        Ok(())
    } else {
        Err("must consist of lower-case letters, digits, '-' and '.', and start and end with a letter or digit".into())
    }
}

/// Checks a DNS-1123 label (namespaces, container names): at most 63
/// characters of lower-case letters, digits and '-', alphanumeric at both ends.
pub(crate) fn dns_label(name: &str) -> Result<(), String> {
    if name.len() > 63 {
        return Err(format!("{} characters; at most 63 are allowed", name.len()));
    }
    label_chars(name).map_err(|()| {
        "must consist of lower-case letters, digits and '-', and start and end with a letter or digit".into()
    })
}

fn label_chars(s: &str) -> Result<(), ()> {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = !b.is_empty()
        && alnum(&b[0])
        && alnum(&b[b.len() - 1])
        && b.iter().all(|c| alnum(c) || *c == b'-');
    if ok { Ok(()) } else { Err(()) }
}

/// Checks a label or annotation key: an optional DNS subdomain prefix and
/// '/', then a name of at most 63 characters of letters, digits, '-', '_' and
/// '.', alphanumeric at both ends.
pub(crate) fn qualified_name(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            return Err("the prefix before '/' is empty".into());
        }
        dns_subdomain(prefix).map_err(|e| format!("prefix {prefix:?}: {e}"))?;
    }
    if name.is_empty() {
        return Err("the name part is empty".into());
    }
    label_value(name).map_err(|e| format!("name part {name:?}: {e}"))
}

/// Checks a label value: empty, or at most 63 characters of letters, digits,
/// '-', '_' and '.', alphanumeric at both ends.
pub(crate) fn label_value(value: &str) -> Result<(), String> {
    if value.len() > 63 {
        return Err(format!(
            "{} characters; at most 63 are allowed",
            value.len()
        ));
    }
    let b = value.as_bytes();
    let ok = b.is_empty()
        || (b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c)));
    if ok {
        Ok(())
    } else {
        Err("must consist of letters, digits, '-', '_' and '.', and start and end with a letter or digit".into())
    }
}

/// Checks a port name (an IANA service name): at most 15 characters of
/// lower-case letters, digits and '-', at least one letter, no '-' at
/// either end and no "--".
pub(crate) fn port_name(name: &str) -> Result<(), String> {
    if name.len() > 15 {
        return Err(format!("{} characters; at most 15 are allowed", name.len()));
    }
    let b = name.as_bytes();
    if b.is_empty()
        || !b
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
    {
        return Err("must contain only lower-case letters, digits and '-'".into());
    }
    if !b.iter().any(u8::is_ascii_lowercase) {
        return Err("must contain at least one letter (a number is a port, not a name)".into());
    }
    if name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        return Err("must not begin or end with '-', nor contain \"--\"".into());
    }
    Ok(())
}

/// Checks a port number: 1 to 65535.
pub(crate) fn port_number(port: i64) -> Result<(), String> {
    if (1..=65535).contains(&port) {
        Ok(())
    } else {
        Err(format!(
            "{port} is not a port number: it must be between 1 and 65535, inclusive"
        ))
    }
}

/// Checks a ConfigMap or Secret key: at most 253 characters of letters,
/// digits, '-', '_' and '.', and not "." or "..", nor starting with ".."
/// (apimachinery's `IsConfigMapKey`: it becomes a file name in a volume).
pub(crate) fn config_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("must not be empty".into());
    }
    if key.len() > 253 {
        return Err(format!("{} characters; at most 253 are allowed", key.len()));
    }
    if key == "." || key == ".." {
        return Err(format!("must not be {key:?}"));
    }
    if key.starts_with("..") {
        return Err("must not start with '..'".into());
    }
    if !key
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c))
    {
        return Err("must consist of letters, digits, '-', '_' or '.'".into());
    }
    Ok(())
}

/// Checks a sysctl name: segments of lower-case letters, digits, '-' and
/// '_' (alphanumeric at both ends) joined by '.' or '/', at most 253
/// characters.
pub(crate) fn sysctl(name: &str) -> Result<(), String> {
    let segment_ok = |s: &str| {
        let b = s.as_bytes();
        let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !b.is_empty()
            && alnum(&b[0])
            && alnum(&b[b.len() - 1])
            && b.iter().all(|c| alnum(c) || *c == b'-' || *c == b'_')
    };
    if name.len() > 253 || !name.split(['.', '/']).all(segment_ok) {
        return Err("must have at most 253 characters and be segments of lower-case letters, digits, '-' and '_' joined by '.' or '/'".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dns_rules() {
        assert!(dns_subdomain("nightly-backup.v2").is_ok());
        assert!(dns_subdomain("Nightly").is_err());
        assert!(dns_subdomain("-a").is_err());
        assert!(dns_subdomain("a..b").is_err());
        assert!(dns_subdomain(&"a".repeat(254)).is_err());
        assert!(dns_label("default").is_ok());
        assert!(dns_label("a.b").is_err());
        assert!(dns_label(&"a".repeat(64)).is_err());
    }

    #[test]
    fn label_keys_and_values() {
        assert!(qualified_name("app.kubernetes.io/name").is_ok());
        assert!(qualified_name("tier").is_ok());
        assert!(qualified_name("/x").is_err());
        assert!(qualified_name("a/b/c").is_err());
        assert!(qualified_name("Example.com/x").is_err());
        assert!(label_value("").is_ok());
        assert!(label_value("v1.2_3-x").is_ok());
        assert!(label_value("-x").is_err());
        assert!(label_value(&"x".repeat(64)).is_err());
    }

    #[test]
    fn ports_keys_and_sysctls() {
        for ok in [
            "http",
            "metrics",
            "http-alt",
            "h2c",
            "web1",
            "abcdefghijklmno",
        ] {
            assert!(port_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "8080",
            "Http",
            "http_alt",
            "-http",
            "http-",
            "a--b",
            "abcdefghijklmnop",
            "",
        ] {
            assert!(port_name(bad).is_err(), "{bad}");
        }
        assert!(
            port_number(65535).is_ok() && port_number(0).is_err() && port_number(65536).is_err()
        );
        assert!(config_key("a_b-c.d").is_ok() && config_key(".env").is_ok());
        assert!(config_key("..").is_err() && config_key("a/b").is_err() && config_key("").is_err());
        assert!(config_key("..data").is_err() && config_key(".data").is_ok());
        assert!(
            sysctl("net.ipv4.ip_local_port_range").is_ok()
                && sysctl("net/ipv4/tcp_syncookies").is_ok()
        );
        assert!(sysctl("Net.IPv4").is_err() && sysctl("a..b").is_err() && sysctl("").is_err());
    }
}
