//! BackendTLSPolicy: which Service ports are reached over TLS, with what SNI, CA bundles and
//! subject alternative names, and the policies' status.
//!
//! Every policy is evaluated once, before any backend resolves: its targets (core Services in
//! its namespace, optionally one port by name), its validation settings, and the spec's
//! conflict rule: of the policies naming the same Service and sectionName, the oldest
//! (creationTimestamp, then `namespace/name`) takes precedence and the others are
//! `Accepted=False Conflicted`. A policy naming a port by sectionName takes precedence over one
//! naming the whole Service for that port (they do not conflict).
//!
//! Choices where the spec leaves room:
//! - A policy that takes precedence but cannot be used (no valid CA certificate, an unknown
//!   `wellKnownCACertificates`, no hostname) makes its backends answer 500: the spec wants
//!   connections using an invalid CA ref to fail, and falling back to cleartext would send the
//!   traffic the policy meant to protect unencrypted. A RequestMirror to such a backend mirrors
//!   nothing. Routes keep `ResolvedRefs=True`: their references did resolve.
//! - The policy applies to every backend resolving to its target: HTTPRoute, GRPCRoute,
//!   RequestMirror and Ingress backends alike. Status ancestors are the Gateways that accepted
//!   a route using it.
//! - Only the valid CA bundles are used; the status names the others.

use crate::backends::{resolved_refs, RefProblem};
use crate::conditions::{reason, ACCEPTED};
use crate::meta;
use crate::resources::ResourceSet;
use crate::tls::{self, CaRef, CaRefError};
use fairlead_route::{Condition, ObjectStatus, ParentRef, ParentStatus, TlsMaterial, UpstreamTls};
use gateway_api::backendtlspolicies::{
    BackendTlsPolicy, BackendTlsPolicyValidationSubjectAltNamesType as SanType,
};
use std::collections::{BTreeMap, BTreeSet};

/// The one `wellKnownCACertificates` value the spec defines: the system's roots.
const SYSTEM_CAS: &str = "System";

/// What a backend targeted by a policy gets: TLS settings, or why connections to it must fail.
pub(crate) type Effect = Result<UpstreamTls, String>;

/// Every BackendTLSPolicy, evaluated, and which one applies to each Service port.
pub(crate) struct BackendTls<'a> {
    policies: Vec<Policy<'a>>,
    /// (namespace, Service) -> the policies that take precedence there.
    targets: BTreeMap<(String, String), Winners>,
    /// Policies applied since the last [`BackendTls::take_hits`].
    hits: BTreeSet<usize>,
    /// CA bundles of the policies' valid refs.
    material: TlsMaterial,
}

#[derive(Default)]
struct Winners {
    /// The policy naming the whole Service.
    whole: Option<usize>,
    /// Policies naming one port, by port name.
    ports: BTreeMap<String, usize>,
}

struct Policy<'a> {
    policy: &'a BackendTlsPolicy,
    effect: Effect,
    accepted: Condition,
    resolved_refs: Condition,
    /// Gateways (namespace, name) that accepted a route using this policy.
    ancestors: BTreeSet<(String, String)>,
}

/// A targetRef that names an existing Service (and port): (Service name, sectionName).
type Target = (String, Option<String>);

impl<'a> BackendTls<'a> {
    pub(crate) fn new(resources: &'a ResourceSet) -> Self {
        let mut material = TlsMaterial::default();
        let mut policies = Vec::new();
        let mut claims: BTreeMap<(String, Target), Vec<usize>> = BTreeMap::new();
        let mut target_problems = Vec::new();
        for (index, policy) in resources.backend_tls_policies().enumerate() {
            let ns = meta::namespace(&policy.metadata);
            let (targets, problems) = valid_targets(resources, policy);
            for target in targets {
                claims.entry((ns.to_string(), target)).or_default().push(index);
            }
            target_problems.push(problems);
            let (tls, resolved_refs, invalid) = validate(resources, policy, &mut material);
            policies.push((policy, tls, resolved_refs, invalid));
        }

        let mut targets: BTreeMap<(String, String), Winners> = BTreeMap::new();
        // Per policy: targets won, and (target, winner) lost.
        let mut won: Vec<usize> = vec![0; policies.len()];
        let mut lost: Vec<Vec<String>> = vec![Vec::new(); policies.len()];
        for ((ns, (service, section)), mut claimants) in claims {
            claimants.sort_by_key(|i| {
                let meta = &policies[*i].0.metadata;
                (
                    meta::age_key(meta::created(meta)),
                    meta::namespace(meta).to_string(),
                    meta::name(meta).to_string(),
                )
            });
            let Some((&winner, losers)) = claimants.split_first() else {
                continue;
            };
            won[winner] += 1;
            let winners = targets.entry((ns.clone(), service.clone())).or_default();
            match &section {
                Some(port) => {
                    winners.ports.insert(port.clone(), winner);
                }
                None => winners.whole = Some(winner),
            }
            let winner_name = meta::name(&policies[winner].0.metadata);
            for loser in losers {
                let what = match &section {
                    Some(port) => format!("port {port} of Service {ns}/{service}"),
                    None => format!("Service {ns}/{service}"),
                };
                lost[*loser].push(format!(
                    "BackendTLSPolicy {ns}/{winner_name} takes precedence for {what} (older, or first \
                     by name)"
                ));
            }
        }

        let policies = policies
            .into_iter()
            .zip(target_problems)
            .enumerate()
            .map(|(i, ((policy, tls, resolved_refs, invalid), target_problems))| {
                let accepted = accepted_condition(won[i], &lost[i], &target_problems, invalid.as_ref());
                let effect = match invalid {
                    None => Ok(tls),
                    Some((_, why)) => Err(format!(
                        "BackendTLSPolicy {}/{} cannot be used: {why}",
                        meta::namespace(&policy.metadata),
                        meta::name(&policy.metadata)
                    )),
                };
                Policy {
                    policy,
                    effect,
                    accepted,
                    resolved_refs,
                    ancestors: BTreeSet::new(),
                }
            })
            .collect();
        BackendTls {
            policies,
            targets,
            hits: BTreeSet::new(),
            material,
        }
    }

    /// The policy that applies to port `port_name` of Service `namespace/service`: one naming
    /// that port, else one naming the whole Service.
    pub(crate) fn lookup(
        &mut self,
        namespace: &str,
        service: &str,
        port_name: Option<&str>,
    ) -> Option<Effect> {
        let winners = self.targets.get(&(namespace.to_string(), service.to_string()))?;
        let index = port_name
            .filter(|p| !p.is_empty())
            .and_then(|p| winners.ports.get(p).copied())
            .or(winners.whole)?;
        self.hits.insert(index);
        self.policies.get(index).map(|p| p.effect.clone())
    }

    /// The policies applied since the last call (the backends of one route).
    pub(crate) fn take_hits(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.hits).into_iter().collect()
    }

    /// Records Gateway `namespace/name` as an ancestor of these policies.
    pub(crate) fn add_ancestor(&mut self, policies: &[usize], namespace: &str, name: &str) {
        for index in policies {
            if let Some(policy) = self.policies.get_mut(*index) {
                policy.ancestors.insert((namespace.to_string(), name.to_string()));
            }
        }
    }

    /// The status of every policy (conditions on the policy and on each ancestor Gateway) and
    /// the CA bundles their settings refer to.
    pub(crate) fn finish(self) -> (Vec<ObjectStatus>, TlsMaterial) {
        let statuses = self
            .policies
            .into_iter()
            .map(|p| {
                let conditions = vec![p.accepted, p.resolved_refs];
                let parents = p
                    .ancestors
                    .into_iter()
                    .map(|(namespace, name)| ParentStatus {
                        parent: ParentRef {
                            namespace,
                            name,
                            section_name: None,
                            port: None,
                        },
                        conditions: conditions.clone(),
                    })
                    .collect();
                ObjectStatus {
                    object: meta::namespaced_ref("BackendTLSPolicy", &p.policy.metadata),
                    generation: p.policy.metadata.generation,
                    conditions,
                    parents,
                    ..ObjectStatus::default()
                }
            })
            .collect();
        (statuses, self.material)
    }
}

/// The targetRefs naming an existing core Service (and, with sectionName, one of its ports),
/// and what is wrong with the others: (is the target missing rather than unsupported, message).
fn valid_targets(resources: &ResourceSet, policy: &BackendTlsPolicy) -> (Vec<Target>, Vec<(bool, String)>) {
    let ns = meta::namespace(&policy.metadata);
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for (i, t) in policy.spec.target_refs.iter().enumerate() {
        if !t.group.is_empty() || t.kind != "Service" {
            let group = if t.group.is_empty() { "core" } else { &t.group };
            problems.push((
                false,
                format!(
                    "targetRefs[{i}]: {} {} (group {group}) is not supported; only core Services are",
                    t.kind, t.name
                ),
            ));
            continue;
        }
        let Some(service) = resources.service(ns, &t.name) else {
            problems.push((
                true,
                format!("targetRefs[{i}]: Service {ns}/{} not found", t.name),
            ));
            continue;
        };
        let section = t.section_name.as_deref().filter(|s| !s.is_empty());
        if let Some(port) = section {
            let ports = service
                .spec
                .as_ref()
                .and_then(|s| s.ports.as_deref())
                .unwrap_or_default();
            if !ports.iter().any(|p| p.name.as_deref() == Some(port)) {
                problems.push((
                    true,
                    format!(
                        "targetRefs[{i}]: Service {ns}/{} has no port named {port:?}",
                        t.name
                    ),
                ));
                continue;
            }
        }
        let target = (t.name.clone(), section.map(str::to_string));
        if !found.contains(&target) {
            found.push(target);
        }
    }
    (found, problems)
}

/// The policy's validation settings: the TLS settings they give (valid CA refs only), the
/// ResolvedRefs condition,
/// and why the policy cannot be accepted as written (reason, message).
fn validate(
    resources: &ResourceSet,
    policy: &BackendTlsPolicy,
    material: &mut TlsMaterial,
) -> (UpstreamTls, Condition, Option<(&'static str, String)>) {
    let ns = meta::namespace(&policy.metadata);
    let v = &policy.spec.validation;
    let mut invalid: Vec<(&'static str, String)> = Vec::new();
    if v.hostname.is_empty() {
        invalid.push((
            reason::INVALID,
            "validation.hostname is required: it is the SNI sent to the backend".to_string(),
        ));
    }
    let refs = v.ca_certificate_refs.as_deref().unwrap_or_default();
    let mut problems = Vec::new();
    let mut ca = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        let reference = CaRef {
            group: &r.group,
            kind: &r.kind,
            namespace: ns,
            name: &r.name,
        };
        match tls::ca_bundle(resources, &reference, material) {
            Ok(id) => {
                if !ca.contains(&id) {
                    ca.push(id);
                }
            }
            Err(CaRefError::UnsupportedKind(why)) => problems.push(RefProblem::new(
                reason::INVALID_KIND,
                format!("validation.caCertificateRefs[{i}]: {why}"),
            )),
            Err(CaRefError::Invalid(why)) => problems.push(RefProblem::new(
                reason::INVALID_CA_CERTIFICATE_REF,
                format!("validation.caCertificateRefs[{i}]: {why}"),
            )),
        }
    }
    let well_known = v.well_known_ca_certificates.as_deref().filter(|w| !w.is_empty());
    match (refs.is_empty(), well_known) {
        (false, Some(_)) => invalid.push((
            reason::INVALID,
            "only one of validation.caCertificateRefs and validation.wellKnownCACertificates may be set"
                .to_string(),
        )),
        (true, None) => invalid.push((
            reason::INVALID,
            "one of validation.caCertificateRefs or validation.wellKnownCACertificates must be set"
                .to_string(),
        )),
        (true, Some(SYSTEM_CAS)) => {}
        (true, Some(other)) => invalid.push((
            reason::INVALID,
            format!("validation.wellKnownCACertificates {other:?} is not supported; only {SYSTEM_CAS} is"),
        )),
        (false, None) if ca.is_empty() => invalid.push((
            reason::NO_VALID_CA_CERTIFICATE,
            "no validation.caCertificateRefs entry holds a valid CA certificate".to_string(),
        )),
        (false, None) => {}
    }
    let mut subject_alt_names = Vec::new();
    for (i, san) in v.subject_alt_names.iter().flatten().enumerate() {
        let value = match san.r#type {
            SanType::Hostname => san.hostname.as_deref(),
            SanType::Uri => san.uri.as_deref(),
        };
        match value.filter(|v| !v.is_empty()) {
            Some(value) => subject_alt_names.push(value.to_string()),
            None => invalid.push((
                reason::INVALID,
                format!("validation.subjectAltNames[{i}]: the value for its type is missing"),
            )),
        }
    }
    let resolved = resolved_refs(&problems);
    let invalid = invalid.first().map(|(why, _)| {
        let messages: Vec<&str> = invalid.iter().map(|(_, m)| m.as_str()).collect();
        (*why, messages.join("; "))
    });
    let tls = UpstreamTls {
        server_name: v.hostname.clone(),
        ca,
        subject_alt_names,
    };
    (tls, resolved, invalid)
}

/// Accepted: Conflicted when the policy takes precedence nowhere it targets, then missing or
/// unsupported targets, then invalid settings.
fn accepted_condition(
    won: usize,
    lost: &[String],
    target_problems: &[(bool, String)],
    invalid: Option<&(&'static str, String)>,
) -> Condition {
    if won == 0 && !lost.is_empty() {
        return Condition::new(ACCEPTED, false, reason::CONFLICTED, lost.join("; "));
    }
    if won == 0 {
        let why = if target_problems.iter().all(|(missing, _)| *missing) {
            reason::TARGET_NOT_FOUND
        } else {
            reason::INVALID
        };
        let mut messages: Vec<&str> = target_problems.iter().map(|(_, m)| m.as_str()).collect();
        if messages.is_empty() {
            messages.push("targetRefs names no Service");
        }
        return Condition::new(ACCEPTED, false, why, messages.join("; "));
    }
    if let Some((why, message)) = invalid {
        return Condition::new(
            ACCEPTED,
            false,
            why,
            format!("{message}; connections to the targeted backends fail"),
        );
    }
    let mut notes: Vec<&str> = lost.iter().map(String::as_str).collect();
    notes.extend(target_problems.iter().map(|(_, m)| m.as_str()));
    let message = if notes.is_empty() {
        "BackendTLSPolicy is accepted".to_string()
    } else {
        format!("BackendTLSPolicy is accepted; {}", notes.join("; "))
    };
    Condition::new(ACCEPTED, true, reason::ACCEPTED, message)
}
