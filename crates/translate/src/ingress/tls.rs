//! Ingress `spec.tls`: the certificates of the shared HTTPS listener.
//!
//! Every Secret named by one of our Ingresses (in that Ingress's namespace) is offered, chosen
//! by SNI against its names; the oldest Ingress's first Secret is the default for clients that
//! send no SNI or an unknown one. `spec.tls[].hosts` does not restrict anything: the
//! certificate's own names decide, and routing still follows the rules' hosts.

use super::IngressState;
use crate::backends::RefProblem;
use crate::conditions::reason;
use crate::meta;
use crate::resources::ResourceSet;
use crate::tls::{self, SecretType};
use fairlead_route::TlsMaterial;

/// The certificate ids of the HTTPS listener, oldest Ingress first, each Secret once.
/// Problems are added to the Ingress that names the Secret.
pub(super) fn certificates(
    resources: &ResourceSet,
    states: &mut [IngressState<'_>],
    now_unix: Option<i64>,
    material: &mut TlsMaterial,
) -> Vec<String> {
    let mut order: Vec<usize> = (0..states.len()).collect();
    order.sort_by_key(|i| {
        let meta = &states[*i].ingress.metadata;
        (
            meta::age_key(meta::created(meta)),
            meta::namespace(meta).to_string(),
            meta::name(meta).to_string(),
        )
    });
    let mut ids: Vec<String> = Vec::new();
    for i in order {
        let Some(state) = states.get_mut(i) else {
            continue;
        };
        let ingress = state.ingress;
        let ns = meta::namespace(&ingress.metadata);
        let entries = ingress
            .spec
            .as_ref()
            .and_then(|s| s.tls.as_deref())
            .unwrap_or_default();
        for (t, entry) in entries.iter().enumerate() {
            state.has_tls = true;
            let Some(name) = entry.secret_name.as_deref().filter(|n| !n.is_empty()) else {
                state.ref_problems.push(RefProblem::new(
                    reason::INVALID_CERTIFICATE_REF,
                    format!("spec.tls[{t}] names no secretName, and fairlead has no default certificate"),
                ));
                continue;
            };
            let id = tls::secret_id(ns, name);
            if !ids.contains(&id) {
                ids.push(id);
            }
            if let Err(why) =
                tls::certificate(resources, ns, name, SecretType::AnyWithKeys, now_unix, material)
            {
                state.ref_problems.push(RefProblem::new(
                    reason::INVALID_CERTIFICATE_REF,
                    format!("spec.tls[{t}]: {why}"),
                ));
            }
        }
    }
    ids
}
