//! Readers for the admin `/status` and `/routes` documents.

use serde_json::Value;

/// The status entry of object `kind` `name`, if translation reported one.
pub fn find_object<'a>(status: &'a Value, kind: &str, name: &str) -> Option<&'a Value> {
    status["objects"]
        .as_array()?
        .iter()
        .find(|o| o["object"]["kind"] == kind && o["object"]["name"] == name)
}

/// Every condition of an object: its own, its Gateway listeners', its route parents'.
pub fn all_conditions(object: &Value) -> Vec<&Value> {
    let own = object["conditions"].as_array().into_iter().flatten();
    let nested = ["listeners", "parents"]
        .into_iter()
        .flat_map(|key| object[key].as_array().into_iter().flatten())
        .flat_map(|entry| entry["conditions"].as_array().into_iter().flatten());
    own.chain(nested).collect()
}

/// A condition telling the user something is wrong: a positive-polarity condition that is
/// false, or `Conflicted` / `PartiallyInvalid` that is true.
pub fn is_problem(condition: &Value) -> bool {
    let status = condition["status"].as_bool().unwrap_or(false);
    match condition["type"].as_str() {
        Some("Conflicted" | "PartiallyInvalid") => status,
        _ => !status,
    }
}

/// The problem conditions of object `kind` `name` (empty when it has none or is not reported).
pub fn problems<'a>(status: &'a Value, kind: &str, name: &str) -> Vec<&'a Value> {
    find_object(status, kind, name)
        .map(|o| all_conditions(o).into_iter().filter(|c| is_problem(c)).collect())
        .unwrap_or_default()
}

/// The strings of a top-level list (`source_errors`, `compile_errors`).
pub fn strings(status: &Value, key: &str) -> Vec<String> {
    status[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Every route id in a `/routes` document.
pub fn route_ids(routes: &Value) -> Vec<String> {
    routes["listeners"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|l| l["routes"].as_array().into_iter().flatten())
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect()
}

/// True when a route id names object `name` (ids are `/`-separated, e.g.
/// `httproute/<namespace>/<name>/rule/<n>`).
pub fn names_object(route_id: &str, name: &str) -> bool {
    route_id.split('/').any(|segment| segment == name)
}
