//! Probes and lifecycle handlers: exactly one handler each, ports that are
//! numbers or port names, non-negative timings, and a liveness or startup
//! probe that succeeds after one success.

use k8s_openapi::api::core::v1::{
    Container, ExecAction, GRPCAction, HTTPGetAction, LifecycleHandler, Probe, SleepAction,
    TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::super::{At, Findings, names};

/// The probes and lifecycle of container `c` at `at`; `grace` is the pod's
/// termination grace period.
pub(super) fn container(f: &mut Findings<'_>, c: &Container, grace: i64, at: &str) {
    for (field, probe) in [
        ("livenessProbe", &c.liveness_probe),
        ("readinessProbe", &c.readiness_probe),
        ("startupProbe", &c.startup_probe),
    ] {
        let Some(probe) = probe else { continue };
        let at = format!("{at}.{field}");
        check(f, probe, &at);
        if field != "readinessProbe" && probe.success_threshold.is_some_and(|t| t != 1 && t != 0) {
            f.error(
                format!("{at}.successThreshold"),
                "must be 1",
                Some("a liveness or startup probe passes after one success"),
            );
        }
        if field == "readinessProbe" && probe.termination_grace_period_seconds.is_some() {
            f.error(
                format!("{at}.terminationGracePeriodSeconds"),
                "must not be set for readinessProbes",
                None,
            );
        }
    }
    if let Some(lifecycle) = &c.lifecycle {
        for (field, handler) in [
            ("postStart", &lifecycle.post_start),
            ("preStop", &lifecycle.pre_stop),
        ] {
            if let Some(h) = handler {
                lifecycle_handler(f, h, grace, &format!("{at}.lifecycle.{field}"));
            }
        }
    }
}

fn check(f: &mut Findings<'_>, p: &Probe, at: &str) {
    handler(
        f,
        Handlers {
            exec: p.exec.as_ref(),
            http_get: p.http_get.as_ref(),
            tcp_socket: p.tcp_socket.as_ref(),
            grpc: p.grpc.as_ref(),
            sleep: None,
        },
        0,
        at,
    );
    for (field, value) in [
        ("initialDelaySeconds", p.initial_delay_seconds),
        ("timeoutSeconds", p.timeout_seconds),
        ("periodSeconds", p.period_seconds),
        ("successThreshold", p.success_threshold),
        ("failureThreshold", p.failure_threshold),
    ] {
        f.non_negative(At(at, field), value.map(i64::from));
    }
    if let Some(t) = p.termination_grace_period_seconds.filter(|t| *t <= 0) {
        f.error(
            format!("{at}.terminationGracePeriodSeconds"),
            format!("must be greater than 0, not {t}"),
            None,
        );
    }
}

fn lifecycle_handler(f: &mut Findings<'_>, h: &LifecycleHandler, grace: i64, at: &str) {
    handler(
        f,
        Handlers {
            exec: h.exec.as_ref(),
            http_get: h.http_get.as_ref(),
            tcp_socket: h.tcp_socket.as_ref(),
            grpc: None,
            sleep: h.sleep.as_ref(),
        },
        grace,
        at,
    );
}

/// The handlers a probe or lifecycle hook may have.
struct Handlers<'a> {
    exec: Option<&'a ExecAction>,
    http_get: Option<&'a HTTPGetAction>,
    tcp_socket: Option<&'a TCPSocketAction>,
    grpc: Option<&'a GRPCAction>,
    sleep: Option<&'a SleepAction>,
}

fn handler(f: &mut Findings<'_>, h: Handlers<'_>, grace: i64, at: &str) {
    let given: Vec<&str> = [
        ("exec", h.exec.is_some()),
        ("httpGet", h.http_get.is_some()),
        ("tcpSocket", h.tcp_socket.is_some()),
        ("grpc", h.grpc.is_some()),
        ("sleep", h.sleep.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    match given.as_slice() {
        [] => {
            f.error(
                at,
                "must specify a handler type",
                Some("give one of exec, httpGet, tcpSocket or grpc"),
            );
            return;
        }
        [_] => {}
        [_, second, ..] => {
            f.error(
                format!("{at}.{second}"),
                "may not specify more than 1 handler type",
                None,
            );
            return;
        }
    }
    if let Some(exec) = h.exec
        && exec.command.as_deref().is_none_or(<[String]>::is_empty)
    {
        f.error(
            format!("{at}.exec.command"),
            "required field is missing",
            None,
        );
    }
    if let Some(get) = h.http_get {
        port(f, &get.port, &format!("{at}.httpGet.port"));
        f.one_of(
            At(&format!("{at}.httpGet"), "scheme"),
            get.scheme.as_deref(),
            &["HTTP", "HTTPS"],
        );
    }
    if let Some(tcp) = h.tcp_socket {
        port(f, &tcp.port, &format!("{at}.tcpSocket.port"));
    }
    if let Some(grpc) = h.grpc
        && let Err(e) = names::port_number(grpc.port.into())
    {
        f.error(format!("{at}.grpc.port"), e, None);
    }
    if let Some(sleep) = h.sleep
        && !(0..=grace).contains(&sleep.seconds)
    {
        f.error(
            format!("{at}.sleep.seconds"),
            format!(
                "must be non-negative and at most terminationGracePeriodSeconds ({grace}), not {}",
                sleep.seconds
            ),
            None,
        );
    }
}

/// A port by number or by the name of a container port.
fn port(f: &mut Findings<'_>, port: &IntOrString, at: &str) {
    let problem = match port {
        IntOrString::Int(n) => names::port_number((*n).into()).err(),
        IntOrString::String(name) => names::port_name(name)
            .err()
            .map(|e| format!("invalid port name {name:?}: {e}")),
    };
    if let Some(problem) = problem {
        f.error(at, problem, None);
    }
}
