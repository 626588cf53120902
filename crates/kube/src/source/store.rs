//! What the watchers have seen: per kind, the current objects (already parsed for
//! translation), objects that failed to parse, and the watch's condition (listing, synced, not
//! installed, forbidden, interrupted).

use super::kinds::{Watched, WATCHED};
use fairlead_admin::{Health, State};
use fairlead_translate::{parse_value, Kind, Object, ResourceSet};
use kube::api::DynamicObject;
use std::collections::BTreeMap;
use std::time::Duration;

/// Why a watch is not delivering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// 404: the resource (for the Gateway API, its CRD) is not served.
    NotInstalled,
    /// 403, with our message naming verb, resource and scope.
    Forbidden(String),
    /// Anything else (connection refused, timeouts, 5xx): retried with backoff.
    Failing(String),
}

/// (namespace or "", name)
type Name = (String, String);

/// A list in progress: what it found so far.
#[derive(Debug, Default)]
struct Relist {
    objects: BTreeMap<Name, Object>,
    errors: BTreeMap<Name, String>,
}

#[derive(Debug)]
pub struct KindState {
    pub watched: Watched,
    pub objects: BTreeMap<Name, Object>,
    /// Objects that failed to parse, with the reason. Their last good version (if any) stays in
    /// `objects`.
    pub errors: BTreeMap<Name, String>,
    /// Collects a relist; swapped in whole on `InitDone`, so objects deleted while the watch was
    /// down disappear and nothing flickers meanwhile.
    relist: Option<Relist>,
    pub synced_once: bool,
    pub problem: Option<Problem>,
}

impl KindState {
    /// Done with its first list, or known never to deliver one (not installed, forbidden): the
    /// first table need not wait for it.
    pub fn settled(&self) -> bool {
        self.synced_once || matches!(self.problem, Some(Problem::NotInstalled | Problem::Forbidden(_)))
    }
}

#[derive(Debug)]
pub struct Store {
    pub kinds: BTreeMap<Kind, KindState>,
}

impl Store {
    pub fn new() -> Self {
        let kinds = WATCHED
            .iter()
            .map(|w| {
                (
                    w.kind,
                    KindState {
                        watched: *w,
                        objects: BTreeMap::new(),
                        errors: BTreeMap::new(),
                        relist: None,
                        synced_once: false,
                        problem: None,
                    },
                )
            })
            .collect();
        Store { kinds }
    }

    pub fn settled(&self) -> bool {
        self.kinds.values().all(KindState::settled)
    }

    /// A (re)list begins.
    pub fn init(&mut self, kind: Kind) {
        if let Some(state) = self.kinds.get_mut(&kind) {
            state.relist = Some(Relist::default());
        }
    }

    /// A listed object (`relisting`) or a watch event, read at `api_version`.
    pub fn apply(&mut self, kind: Kind, api_version: &str, object: DynamicObject, relisting: bool) {
        let Some(state) = self.kinds.get_mut(&kind) else {
            return;
        };
        state.problem = None;
        let name = name_of(&object);
        let value = match serde_json::to_value(&object) {
            Ok(value) => value,
            Err(err) => {
                state.errors.insert(name, format!("cannot be re-encoded: {err}"));
                return;
            }
        };
        let w = state.watched;
        let parsed = parse_value(&w.resource(), api_version, w.api_kind, value);
        let previous = match (&parsed, relisting) {
            (Err(_), true) => state.objects.get(&name).cloned(),
            _ => None,
        };
        let (objects, errors) = match (&mut state.relist, relisting) {
            (Some(relist), true) => (&mut relist.objects, &mut relist.errors),
            _ => (&mut state.objects, &mut state.errors),
        };
        match parsed {
            Ok(parsed) => {
                errors.remove(&name);
                objects.insert(name, parsed);
            }
            Err(err) => {
                // Keep the last good version: the API server validated this object, so a
                // failure here is a schema fairlead does not know, and serving what worked
                // before beats dropping routes.
                if let Some(previous) = previous {
                    objects.insert(name.clone(), previous);
                }
                errors.insert(name, err.to_string());
            }
        }
    }

    pub fn delete(&mut self, kind: Kind, object: &DynamicObject) {
        if let Some(state) = self.kinds.get_mut(&kind) {
            state.problem = None;
            let name = name_of(object);
            state.objects.remove(&name);
            state.errors.remove(&name);
        }
    }

    /// The (re)list is complete: its objects replace what was there.
    pub fn init_done(&mut self, kind: Kind) {
        if let Some(state) = self.kinds.get_mut(&kind) {
            if let Some(relist) = state.relist.take() {
                state.objects = relist.objects;
                state.errors = relist.errors;
            }
            state.synced_once = true;
            state.problem = None;
        }
    }

    pub fn fail(&mut self, kind: Kind, problem: Problem) {
        if let Some(state) = self.kinds.get_mut(&kind) {
            state.relist = None;
            if problem == Problem::NotInstalled {
                // The CRD is gone, and its objects with it.
                state.objects.clear();
                state.errors.clear();
            }
            state.problem = Some(problem);
        }
    }

    /// Every current object, objects per kind, and parse problems, for one translation.
    pub fn snapshot(&self) -> (ResourceSet, BTreeMap<String, usize>, Vec<String>) {
        let mut set = ResourceSet::default();
        let mut counts = BTreeMap::new();
        let mut errors = Vec::new();
        for state in self.kinds.values() {
            counts.insert(state.watched.api_kind.to_string(), state.objects.len());
            for object in state.objects.values() {
                set.insert(object.clone());
            }
            for ((ns, name), err) in &state.errors {
                let id = if ns.is_empty() {
                    name.clone()
                } else {
                    format!("{ns}/{name}")
                };
                errors.push(format!("{} {id}: {err}", state.watched.api_kind));
            }
        }
        (set, counts, errors)
    }

    /// Reports every watch and the Gateway API as a whole to `health`. `retry` is the delay
    /// before the next attempt of a failing watch, for the message.
    pub fn report(&self, health: &Health, retry: Option<(Kind, Duration)>) {
        for (kind, state) in &self.kinds {
            let resource = state.watched.resource();
            let (level, message) = match &state.problem {
                None if state.synced_once => (State::Ready, format!("{} objects", state.objects.len())),
                None => (State::Pending, "initial list in progress".to_string()),
                Some(Problem::NotInstalled) if state.watched.gateway_api => (
                    State::Degraded,
                    format!("CRD {resource} is not installed; watching for it to appear"),
                ),
                Some(Problem::NotInstalled) => (
                    State::Degraded,
                    format!("the API server does not serve {resource}"),
                ),
                Some(Problem::Forbidden(message)) => (State::Failed, message.clone()),
                Some(Problem::Failing(err)) => {
                    let when = match retry {
                        Some((k, delay)) if k == *kind => format!("retrying in {} ms", delay.as_millis()),
                        _ => "retrying".to_string(),
                    };
                    if state.synced_once {
                        (
                            State::Degraded,
                            format!("watch interrupted: {err}; {when}; serving the last known objects"),
                        )
                    } else {
                        (State::Pending, format!("cannot list yet: {err}; {when}"))
                    }
                }
            };
            health.set(&format!("watch {resource}"), level, message);
        }
        let missing: Vec<String> = self
            .kinds
            .values()
            .filter(|s| s.watched.gateway_api && s.problem == Some(Problem::NotInstalled))
            .map(|s| s.watched.resource())
            .collect();
        let gateway_settled = self
            .kinds
            .values()
            .filter(|s| s.watched.gateway_api)
            .all(KindState::settled);
        if !gateway_settled {
            health.set("gateway-api", State::Pending, "listing Gateway API objects");
        } else if missing.is_empty() {
            health.set("gateway-api", State::Ready, "Gateway API CRDs installed");
        } else {
            health.set(
                "gateway-api",
                State::Degraded,
                format!(
                    "Gateway API CRDs not installed: {}; Ingress keeps working, Gateway API \
                     objects are picked up once the CRDs are installed",
                    missing.join(", ")
                ),
            );
        }
    }
}

fn name_of(object: &DynamicObject) -> Name {
    (
        object.metadata.namespace.clone().unwrap_or_default(),
        object.metadata.name.clone().unwrap_or_default(),
    )
}
