//! Who may look at the dashboard: anyone who reaches `listen` (the
//! default; the chart keeps it inside the cluster), or only a request with
//! the configured bearer token or basic-auth user and password. Compared
//! in constant time; never logged or shown.

use axum::http::{HeaderMap, header};
use base64::Engine;

use crate::daemon::webhook::constant_time_eq;
use crate::source::Secret;

/// The credentials the dashboard asks for, if any.
#[derive(Debug, Default)]
pub struct Auth {
    /// `Authorization: Bearer <token>`.
    pub token: Option<Secret>,
    /// `Authorization: Basic <user:password>`.
    pub basic: Option<(String, Secret)>,
}

impl Auth {
    /// Ok when the request may look; otherwise the challenge to answer
    /// with (`WWW-Authenticate`).
    pub fn check(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        if self.token.is_none() && self.basic.is_none() {
            return Ok(());
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let (scheme, value) = given.split_once(' ').unwrap_or((given, ""));
        let value = value.trim();
        let allowed = match (
            scheme.to_ascii_lowercase().as_str(),
            &self.token,
            &self.basic,
        ) {
            ("bearer", Some(token), _) => {
                constant_time_eq(value.as_bytes(), token.expose().as_bytes())
            }
            ("basic", _, Some((user, password))) => base64::engine::general_purpose::STANDARD
                .decode(value)
                .ok()
                .and_then(|decoded| String::from_utf8(decoded).ok())
                .and_then(|pair| {
                    let (u, p) = pair.split_once(':')?;
                    // Both compared, whatever the first says.
                    let user_ok = constant_time_eq(u.as_bytes(), user.as_bytes());
                    let password_ok = constant_time_eq(p.as_bytes(), password.expose().as_bytes());
                    Some(user_ok & password_ok)
                })
                .unwrap_or(false),
            _ => false,
        };
        match (allowed, &self.basic) {
            (true, _) => Ok(()),
            // A browser asks for a user and password on this challenge.
            (false, Some(_)) => Err("Basic realm=\"jobcd\", charset=\"UTF-8\""),
            (false, None) => Err("Bearer realm=\"jobcd\""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(authorization: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, authorization.parse().unwrap());
        h
    }

    fn basic(pair: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    #[test]
    fn open_without_credentials_configured() {
        assert_eq!(Auth::default().check(&HeaderMap::new()), Ok(()));
    }

    #[test]
    fn a_token_is_asked_for_and_checked() {
        let auth = Auth {
            token: Some(Secret::new("t0ken")),
            basic: None,
        };
        assert_eq!(auth.check(&with("Bearer t0ken")), Ok(()));
        assert_eq!(auth.check(&with("bearer  t0ken")), Ok(()));
        assert_eq!(
            auth.check(&with("Bearer t0ke")),
            Err("Bearer realm=\"jobcd\"")
        );
        assert!(auth.check(&HeaderMap::new()).is_err());
        // Basic is not accepted when only a token is set.
        assert!(auth.check(&with(&basic("x:t0ken"))).is_err());
    }

    #[test]
    fn basic_auth_checks_user_and_password_and_asks_a_browser() {
        let auth = Auth {
            token: Some(Secret::new("t0ken")),
            basic: Some(("ops".into(), Secret::new("pa:ss"))),
        };
        assert_eq!(auth.check(&with(&basic("ops:pa:ss"))), Ok(()));
        assert_eq!(auth.check(&with("Bearer t0ken")), Ok(()));
        for wrong in ["ops:pass", "dev:pa:ss", "ops", ""] {
            assert!(auth.check(&with(&basic(wrong))).is_err(), "{wrong}");
        }
        assert!(auth.check(&with("Basic !!!")).is_err());
        assert_eq!(
            auth.check(&HeaderMap::new()),
            Err("Basic realm=\"jobcd\", charset=\"UTF-8\"")
        );
    }
}
