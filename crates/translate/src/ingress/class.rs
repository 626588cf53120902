//! Which Ingresses are ours: by class name, by IngressClass controller, by the legacy
//! annotation, or by our default IngressClass.

use crate::meta;
use crate::resources::ResourceSet;
use crate::Options;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

const LEGACY_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// Decides class membership once per translation (the default-class lookup is shared).
pub(crate) struct ClassFilter<'a> {
    options: &'a Options,
    resources: &'a ResourceSet,
    /// An IngressClass of ours is marked as the cluster default.
    default_is_ours: bool,
}

impl<'a> ClassFilter<'a> {
    pub(crate) fn new(resources: &'a ResourceSet, options: &'a Options) -> Self {
        let default_is_ours = resources.ingress_classes().any(|c| {
            is_our_class(c, options)
                && meta::annotation(&c.metadata, DEFAULT_CLASS_ANNOTATION) == Some("true")
        });
        ClassFilter {
            options,
            resources,
            default_is_ours,
        }
    }

    pub(crate) fn is_ours(&self, ingress: &Ingress) -> bool {
        let class_name = ingress
            .spec
            .as_ref()
            .and_then(|s| s.ingress_class_name.as_deref());
        if let Some(class_name) = class_name {
            return class_name == self.options.ingress_class
                || self
                    .resources
                    .ingress_class(class_name)
                    .is_some_and(|c| is_our_class(c, self.options));
        }
        // The annotation predates ingressClassName and is only read when the field is unset.
        match meta::annotation(&ingress.metadata, LEGACY_CLASS_ANNOTATION) {
            Some(annotated) => annotated == self.options.ingress_class,
            None => self.default_is_ours,
        }
    }
}

fn is_our_class(class: &IngressClass, options: &Options) -> bool {
    class.spec.as_ref().and_then(|s| s.controller.as_deref()) == Some(options.ingress_controller.as_str())
}
