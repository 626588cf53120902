//! `fairlead check`: a dry run over a manifests directory. It reads, translates and compiles
//! exactly as `serve` does, prints every object's status, and exits non-zero when anything would
//! not be served as written — so it can gate manifests in CI before they are applied.

use crate::cli::{CheckArgs, CheckOutput};
use crate::manifests::ManifestSource;
use crate::source::Source;
use fairlead_route::{Condition, ObjectStatus, StatusReport, Table};
use fairlead_translate::Options;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Exit code when the check ran and found problems.
pub const PROBLEMS_FOUND: u8 = 1;
/// Exit code when the check could not run (unreadable directory); clap uses the same for usage
/// errors.
pub const CANNOT_RUN: u8 = 2;

/// The machine-readable result (`--output json`).
#[derive(Debug, Serialize)]
pub struct Report {
    /// True when there is nothing to fix: every object is accepted with its references
    /// resolved, every document parsed and every route compiled.
    pub ok: bool,
    /// Objects read, per kind.
    pub objects: BTreeMap<String, usize>,
    /// Files and documents that could not be read or parsed.
    pub manifest_errors: Vec<String>,
    /// Routes the table compiler rejected.
    pub compile_errors: Vec<String>,
    /// Every condition that needs attention, one line each.
    pub problems: Vec<Problem>,
    /// Status of every object fairlead owns, as `/status` shows it.
    pub status: StatusReport,
}

/// One condition that needs attention.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// e.g. `HTTPRoute default/app`.
    pub object: String,
    /// Where on the object: `""`, `listener http`, `parent default/web`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

/// Runs the check; returns the report text and whether it passed.
pub fn run(args: &CheckArgs) -> Result<(String, bool), String> {
    let dir = &args.manifests;
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(format!("{} is not a directory", dir.display())),
        Err(err) => return Err(format!("cannot read {}: {err}", dir.display())),
    }
    let options = Options {
        controller_name: args.controller_name.clone(),
        ingress_class: args.ingress_class.clone(),
        ingress_controller: args.ingress_controller.clone(),
        http_port: args.http_port,
        https_port: args.https_port,
        // A dry run is about applying now: an expired certificate is a problem today.
        now_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok()),
    };
    let loaded = ManifestSource::new(dir.clone(), options).load();
    let (_, compile_errors) = Table::compile(&loaded.translation.config);
    let report = build_report(
        loaded.counts,
        loaded.errors,
        compile_errors.iter().map(ToString::to_string).collect(),
        loaded.translation.status,
    );
    let ok = report.ok;
    let text = match args.output {
        CheckOutput::Text => render_text(&report),
        CheckOutput::Json => {
            let mut json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
            json.push('\n');
            json
        }
    };
    Ok((text, ok))
}

fn build_report(
    objects: BTreeMap<String, usize>,
    manifest_errors: Vec<String>,
    compile_errors: Vec<String>,
    status: StatusReport,
) -> Report {
    let mut problems = Vec::new();
    for object in &status.objects {
        let name = object.object.to_string();
        for (scope, condition) in conditions(object) {
            if condition.is_problem() {
                problems.push(Problem {
                    object: name.clone(),
                    scope,
                    type_: condition.type_.clone(),
                    status: condition.status,
                    reason: condition.reason.clone(),
                    message: condition.message.clone(),
                });
            }
        }
    }
    let ok = problems.is_empty() && manifest_errors.is_empty() && compile_errors.is_empty();
    Report {
        ok,
        objects,
        manifest_errors,
        compile_errors,
        problems,
        status,
    }
}

/// Every condition of an object with the scope it belongs to.
fn conditions(object: &ObjectStatus) -> Vec<(String, &Condition)> {
    let mut out: Vec<(String, &Condition)> = object.conditions.iter().map(|c| (String::new(), c)).collect();
    for listener in &object.listeners {
        out.extend(
            listener
                .conditions
                .iter()
                .map(|c| (format!("listener {}", listener.name), c)),
        );
    }
    for parent in &object.parents {
        let scope = format!("parent {}", parent_name(&parent.parent));
        out.extend(parent.conditions.iter().map(|c| (scope.clone(), c)));
    }
    out
}

fn parent_name(parent: &fairlead_route::ParentRef) -> String {
    let mut name = format!("{}/{}", parent.namespace, parent.name);
    if let Some(section) = &parent.section_name {
        let _ = write!(name, " section {section}");
    }
    if let Some(port) = parent.port {
        let _ = write!(name, " port {port}");
    }
    name
}

/// The human-readable report: every object with its conditions, problems marked `!!`, then the
/// manifest and compile errors, then a one-line verdict.
fn render_text(report: &Report) -> String {
    let mut out = String::new();
    for object in &report.status.objects {
        let _ = write!(out, "{}", object.object);
        if let Some(generation) = object.generation {
            let _ = write!(out, " (generation {generation})");
        }
        out.push('\n');
        for condition in &object.conditions {
            line(&mut out, 1, condition);
        }
        if !object.supported_features.is_empty() {
            let _ = writeln!(
                out,
                "  supportedFeatures: {}",
                object.supported_features.join(", ")
            );
        }
        for listener in &object.listeners {
            let _ = writeln!(
                out,
                "  listener {}: {} attached route(s), kinds [{}]",
                listener.name,
                listener.attached_routes,
                listener.supported_kinds.join(", ")
            );
            for condition in &listener.conditions {
                line(&mut out, 2, condition);
            }
        }
        for parent in &object.parents {
            let _ = writeln!(out, "  parent {}", parent_name(&parent.parent));
            for condition in &parent.conditions {
                line(&mut out, 2, condition);
            }
        }
    }
    if !report.manifest_errors.is_empty() {
        out.push_str("\nmanifest errors:\n");
        for error in &report.manifest_errors {
            let _ = writeln!(out, "  !! {error}");
        }
    }
    if !report.compile_errors.is_empty() {
        out.push_str("\nroutes that cannot be compiled:\n");
        for error in &report.compile_errors {
            let _ = writeln!(out, "  !! {error}");
        }
    }
    let objects: usize = report.objects.values().sum();
    let problems = report.problems.len() + report.manifest_errors.len() + report.compile_errors.len();
    let _ = writeln!(
        out,
        "\n{}: {objects} object(s) read, {} with status, {problems} problem(s)",
        if report.ok { "OK" } else { "FAILED" },
        report.status.objects.len(),
    );
    out
}

fn line(out: &mut String, depth: usize, condition: &Condition) {
    let mark = if condition.is_problem() { "!!" } else { "ok" };
    let _ = writeln!(
        out,
        "{:indent$}{mark} {}={} {}: {}",
        "",
        condition.type_,
        if condition.status { "True" } else { "False" },
        condition.reason,
        condition.message,
        indent = depth * 2
    );
}
