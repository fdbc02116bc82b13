//! Security contexts of the pod and of its containers: user and group
//! ids, seccomp profiles, /proc masking, sysctls, and privilege settings
//! that contradict each other.

use k8s_openapi::api::core::v1::{AppArmorProfile, PodSpec, SeccompProfile, SecurityContext};

use super::super::{Findings, names};

/// The largest user or group id Kubernetes takes.
const MAX_ID: i64 = i32::MAX as i64;

/// The pod's `securityContext`, at `base` (the pod spec).
pub(super) fn pod(f: &mut Findings<'_>, spec: &PodSpec, base: &str) {
    let Some(sc) = &spec.security_context else {
        return;
    };
    let at = format!("{base}.securityContext");
    id(f, sc.run_as_user, &format!("{at}.runAsUser"), "user");
    id(f, sc.run_as_group, &format!("{at}.runAsGroup"), "group");
    id(f, sc.fs_group, &format!("{at}.fsGroup"), "group");
    for (i, g) in sc.supplemental_groups.iter().flatten().enumerate() {
        id(
            f,
            Some(*g),
            &format!("{at}.supplementalGroups[{i}]"),
            "group",
        );
    }
    seccomp(
        f,
        sc.seccomp_profile.as_ref(),
        &format!("{at}.seccompProfile"),
    );
    app_armor(
        f,
        sc.app_armor_profile.as_ref(),
        &format!("{at}.appArmorProfile"),
    );
    f.one_of(
        format!("{at}.fsGroupChangePolicy"),
        sc.fs_group_change_policy.as_deref(),
        &["OnRootMismatch", "Always"],
    );
    for (i, sysctl) in sc.sysctls.iter().flatten().enumerate() {
        let at = format!("{at}.sysctls[{i}].name");
        if sysctl.name.is_empty() {
            f.error(&at, "required field is missing", None);
        } else if let Err(e) = names::sysctl(&sysctl.name) {
            f.error(&at, format!("invalid sysctl {:?}: {e}", sysctl.name), None);
        }
    }
}

/// A container's `securityContext` at `at`.
pub(super) fn container(f: &mut Findings<'_>, sc: &SecurityContext, at: &str) {
    id(f, sc.run_as_user, &format!("{at}.runAsUser"), "user");
    id(f, sc.run_as_group, &format!("{at}.runAsGroup"), "group");
    match sc.proc_mount.as_deref() {
        None | Some("Default") => {}
        Some("Unmasked") => f.error(
            format!("{at}.procMount"),
            "Unmasked needs the pod's hostUsers: false",
            None,
        ),
        Some(other) => f.error(
            format!("{at}.procMount"),
            format!("unsupported value {other:?}"),
            Some("use one of: Default, Unmasked"),
        ),
    }
    seccomp(
        f,
        sc.seccomp_profile.as_ref(),
        &format!("{at}.seccompProfile"),
    );
    app_armor(
        f,
        sc.app_armor_profile.as_ref(),
        &format!("{at}.appArmorProfile"),
    );
    if sc.allow_privilege_escalation == Some(false) {
        if sc.privileged == Some(true) {
            f.error(
                at,
                "cannot set allowPrivilegeEscalation to false and privileged to true",
                Some("a privileged container can always escalate; drop one of them"),
            );
        }
        let adds_sys_admin = sc
            .capabilities
            .as_ref()
            .and_then(|c| c.add.as_ref())
            .is_some_and(|add| add.iter().any(|cap| cap == "CAP_SYS_ADMIN"));
        if adds_sys_admin {
            f.error(
                at,
                "cannot set allowPrivilegeEscalation to false and add the capability CAP_SYS_ADMIN",
                None,
            );
        }
    }
}

/// A user or group id: 0 to 2147483647.
fn id(f: &mut Findings<'_>, value: Option<i64>, at: &str, what: &str) {
    if let Some(v) = value.filter(|v| !(0..=MAX_ID).contains(v)) {
        f.error(
            at,
            format!("{v} is not a valid {what} id: it must be between 0 and 2147483647, inclusive"),
            None,
        );
    }
}

fn seccomp(f: &mut Findings<'_>, profile: Option<&SeccompProfile>, at: &str) {
    let Some(p) = profile else { return };
    let localhost = p.localhost_profile.as_deref();
    match p.type_.as_str() {
        "Localhost" if localhost.is_none_or(str::is_empty) => f.error(
            format!("{at}.localhostProfile"),
            "must be set when seccomp type is Localhost",
            None,
        ),
        "Localhost" => {}
        "RuntimeDefault" | "Unconfined" if localhost.is_some() => f.error(
            format!("{at}.localhostProfile"),
            "can only be set when seccomp type is Localhost",
            None,
        ),
        "RuntimeDefault" | "Unconfined" => {}
        "" => f.error(format!("{at}.type"), "required field is missing", None),
        other => f.error(
            format!("{at}.type"),
            format!("unsupported value {other:?}"),
            Some("use one of: RuntimeDefault, Unconfined, Localhost"),
        ),
    }
}

fn app_armor(f: &mut Findings<'_>, profile: Option<&AppArmorProfile>, at: &str) {
    let Some(p) = profile else { return };
    let localhost = p.localhost_profile.as_deref();
    match p.type_.as_str() {
        "Localhost" => match localhost {
            None => f.error(
                format!("{at}.localhostProfile"),
                "must be set when AppArmor type is Localhost",
                None,
            ),
            Some(name) if name.trim() != name => f.error(
                format!("{at}.localhostProfile"),
                format!("{name:?} must not be padded with whitespace"),
                None,
            ),
            Some("") => f.error(
                format!("{at}.localhostProfile"),
                "must be set when AppArmor type is Localhost",
                None,
            ),
            Some(name) if name.len() > 4095 => f.error(
                format!("{at}.localhostProfile"),
                "may have at most 4095 characters",
                None,
            ),
            Some(_) => {}
        },
        "RuntimeDefault" | "Unconfined" if localhost.is_some() => f.error(
            format!("{at}.localhostProfile"),
            "can only be set when AppArmor type is Localhost",
            None,
        ),
        "RuntimeDefault" | "Unconfined" => {}
        "" => f.error(
            format!("{at}.type"),
            "type is required when appArmorProfile is set",
            None,
        ),
        other => f.error(
            format!("{at}.type"),
            format!("unsupported value {other:?}"),
            Some("use one of: RuntimeDefault, Unconfined, Localhost"),
        ),
    }
}
