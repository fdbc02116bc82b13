//! Where the pod may run: tolerations, node and pod (anti-)affinity, and
//! topology spread constraints.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{
    NodeSelectorRequirement, NodeSelectorTerm, PodAffinityTerm, PodSpec, Toleration,
    TopologySpreadConstraint,
};

use super::super::{Findings, names};

/// Checks the scheduling fields of `spec` at `base` (the pod spec).
pub(super) fn check(f: &mut Findings<'_>, spec: &PodSpec, base: &str) {
    for (i, t) in spec.tolerations.iter().flatten().enumerate() {
        toleration(f, t, &format!("{base}.tolerations[{i}]"));
    }
    if let Some(affinity) = &spec.affinity {
        let at = format!("{base}.affinity");
        if let Some(node) = &affinity.node_affinity {
            let at = format!("{at}.nodeAffinity");
            if let Some(required) = &node.required_during_scheduling_ignored_during_execution {
                let at = format!("{at}.requiredDuringSchedulingIgnoredDuringExecution");
                if required.node_selector_terms.is_empty() {
                    f.error(
                        format!("{at}.nodeSelectorTerms"),
                        "must have at least one node selector term",
                        None,
                    );
                }
                for (i, term) in required.node_selector_terms.iter().enumerate() {
                    node_term(f, term, &format!("{at}.nodeSelectorTerms[{i}]"));
                }
            }
            for (i, p) in node
                .preferred_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
                .enumerate()
            {
                let at = format!("{at}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
                weight(f, p.weight, &at);
                node_term(f, &p.preference, &format!("{at}.preference"));
            }
        }
        let pod_affinities = [
            (
                "podAffinity",
                affinity.pod_affinity.as_ref().map(|a| {
                    (
                        &a.required_during_scheduling_ignored_during_execution,
                        &a.preferred_during_scheduling_ignored_during_execution,
                    )
                }),
            ),
            (
                "podAntiAffinity",
                affinity.pod_anti_affinity.as_ref().map(|a| {
                    (
                        &a.required_during_scheduling_ignored_during_execution,
                        &a.preferred_during_scheduling_ignored_during_execution,
                    )
                }),
            ),
        ];
        for (field, terms) in pod_affinities {
            let Some((required, preferred)) = terms else {
                continue;
            };
            let at = format!("{at}.{field}");
            for (i, term) in required.iter().flatten().enumerate() {
                pod_term(
                    f,
                    term,
                    &format!("{at}.requiredDuringSchedulingIgnoredDuringExecution[{i}]"),
                );
            }
            for (i, w) in preferred.iter().flatten().enumerate() {
                let at = format!("{at}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
                weight(f, w.weight, &at);
                pod_term(f, &w.pod_affinity_term, &format!("{at}.podAffinityTerm"));
            }
        }
    }
    let mut pairs = BTreeSet::new();
    for (i, c) in spec
        .topology_spread_constraints
        .iter()
        .flatten()
        .enumerate()
    {
        let at = format!("{base}.topologySpreadConstraints[{i}]");
        spread(f, c, &at);
        if !pairs.insert((c.topology_key.as_str(), c.when_unsatisfiable.as_str())) {
            f.error(
                format!("{at}.{{topologyKey, whenUnsatisfiable}}"),
                format!(
                    "duplicate pair ({:?}, {:?})",
                    c.topology_key, c.when_unsatisfiable
                ),
                None,
            );
        }
    }
}

fn toleration(f: &mut Findings<'_>, t: &Toleration, at: &str) {
    let key = t.key.as_deref().unwrap_or_default();
    let operator = t.operator.as_deref().unwrap_or_default();
    let value = t.value.as_deref().unwrap_or_default();
    let effect = t.effect.as_deref().unwrap_or_default();
    if !key.is_empty()
        && let Err(e) = names::qualified_name(key)
    {
        f.error(
            format!("{at}.key"),
            format!("invalid key {key:?}: {e}"),
            None,
        );
    }
    if key.is_empty() && operator != "Exists" {
        f.error(
            format!("{at}.operator"),
            "operator must be Exists when key is empty (which means: tolerate every taint)",
            None,
        );
    }
    if t.toleration_seconds.is_some() && effect != "NoExecute" {
        f.error(
            format!("{at}.effect"),
            "effect must be NoExecute when tolerationSeconds is set",
            None,
        );
    }
    match operator {
        "" | "Equal" => {
            if let Err(e) = names::label_value(value) {
                f.error(
                    format!("{at}.operator"),
                    format!("invalid value {value:?}: {e}"),
                    None,
                );
            }
        }
        "Exists" if !value.is_empty() => f.error(
            format!("{at}.operator"),
            "value must be empty when operator is Exists",
            None,
        ),
        "Exists" => {}
        other => f.error(
            format!("{at}.operator"),
            format!("unsupported value {other:?}"),
            Some("use one of: Equal, Exists"),
        ),
    }
    if !effect.is_empty() && !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect) {
        f.error(
            format!("{at}.effect"),
            format!("unsupported value {effect:?}"),
            Some("use one of: NoSchedule, PreferNoSchedule, NoExecute"),
        );
    }
}

fn node_term(f: &mut Findings<'_>, term: &NodeSelectorTerm, at: &str) {
    for (i, r) in term.match_expressions.iter().flatten().enumerate() {
        requirement(f, r, true, &format!("{at}.matchExpressions[{i}]"));
    }
    for (i, r) in term.match_fields.iter().flatten().enumerate() {
        let at = format!("{at}.matchFields[{i}]");
        if r.key != "metadata.name" {
            f.error(
                format!("{at}.key"),
                format!("unsupported value {:?}", r.key),
                Some("matchFields can only select metadata.name"),
            );
        }
        if r.operator != "In" && r.operator != "NotIn" {
            f.error(
                format!("{at}.operator"),
                format!("unsupported value {:?}", r.operator),
                Some("use In or NotIn"),
            );
        }
        if r.values.as_ref().is_none_or(|v| v.len() != 1) {
            f.error(format!("{at}.values"), "must have one element", None);
        }
    }
}

/// A node selector requirement: a label key, an operator, and as many
/// values as the operator takes.
fn requirement(f: &mut Findings<'_>, r: &NodeSelectorRequirement, label_key: bool, at: &str) {
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" | "NotIn" if values.is_empty() => f.error(
            format!("{at}.values"),
            "must be specified when operator is In or NotIn",
            None,
        ),
        "Exists" | "DoesNotExist" if !values.is_empty() => f.error(
            format!("{at}.values"),
            "may not be specified when operator is Exists or DoesNotExist",
            None,
        ),
        "Gt" | "Lt" if values.len() != 1 => f.error(
            format!("{at}.values"),
            "must be specified single value when operator is Gt or Lt",
            None,
        ),
        "Gt" | "Lt" if values[0].parse::<i64>().is_err() => f.warning(
            format!("{at}.values[0]"),
            format!(
                "{:?} is not an integer: the API server accepts it, but no node will ever match",
                values[0]
            ),
            None,
        ),
        "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => {}
        other => f.error(
            format!("{at}.operator"),
            format!("{other:?} is not a valid node selector operator"),
            Some("use one of: In, NotIn, Exists, DoesNotExist, Gt, Lt"),
        ),
    }
    if label_key && let Err(e) = names::qualified_name(&r.key) {
        f.error(
            format!("{at}.key"),
            format!("invalid key {:?}: {e}", r.key),
            None,
        );
    }
}

fn pod_term(f: &mut Findings<'_>, term: &PodAffinityTerm, at: &str) {
    if term.topology_key.is_empty() {
        f.error(format!("{at}.topologyKey"), "can not be empty", None);
    } else if let Err(e) = names::qualified_name(&term.topology_key) {
        f.error(
            format!("{at}.topologyKey"),
            format!("invalid key {:?}: {e}", term.topology_key),
            None,
        );
    }
}

fn weight(f: &mut Findings<'_>, weight: i32, at: &str) {
    if !(1..=100).contains(&weight) {
        f.error(
            format!("{at}.weight"),
            format!("must be in the range 1-100, not {weight}"),
            None,
        );
    }
}

fn spread(f: &mut Findings<'_>, c: &TopologySpreadConstraint, at: &str) {
    if c.max_skew <= 0 {
        f.error(
            format!("{at}.maxSkew"),
            format!("must be greater than zero, not {}", c.max_skew),
            None,
        );
    }
    if c.topology_key.is_empty() {
        f.error(format!("{at}.topologyKey"), "can not be empty", None);
    } else if let Err(e) = names::qualified_name(&c.topology_key) {
        f.error(
            format!("{at}.topologyKey"),
            format!("invalid key {:?}: {e}", c.topology_key),
            None,
        );
    }
    match c.when_unsatisfiable.as_str() {
        "DoNotSchedule" | "ScheduleAnyway" => {}
        other => f.error(
            format!("{at}.whenUnsatisfiable"),
            format!("unsupported value {other:?}"),
            Some("use one of: DoNotSchedule, ScheduleAnyway"),
        ),
    }
    if let Some(min) = c.min_domains {
        if min <= 0 {
            f.error(
                format!("{at}.minDomains"),
                format!("must be greater than zero, not {min}"),
                None,
            );
        } else if c.when_unsatisfiable != "DoNotSchedule" {
            f.error(
                format!("{at}.minDomains"),
                "can only use minDomains if whenUnsatisfiable=DoNotSchedule",
                None,
            );
        }
    }
}
