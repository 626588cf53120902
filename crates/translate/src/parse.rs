//! Manifest parsing: multi-document YAML or JSON text into typed Kubernetes objects.
//!
//! Every document is parsed on its own, so one broken document is reported and the others
//! still load. The text is split on `---` lines before YAML parsing because libyaml stops at
//! the first syntax error of a stream.

use crate::objects::Object;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A document of a manifest file that could not be turned into an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The file (or other origin) the text came from, as given to [`parse_documents`].
    pub source: String,
    /// 0-based index of the document in the file. Documents are counted as YAML does: text
    /// before the first `---` counts only when it holds content.
    pub document: usize,
    /// The document's `kind`, when it could be read.
    pub kind: Option<String>,
    /// The document's `metadata.name`, when it could be read.
    pub name: Option<String>,
    /// What is wrong, with the field path where serde knows it.
    pub reason: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: document {}", self.source, self.document)?;
        match (&self.kind, &self.name) {
            (Some(kind), Some(name)) => write!(f, " ({kind} {name})")?,
            (Some(kind), None) => write!(f, " ({kind})")?,
            (None, Some(name)) => write!(f, " ({name})")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for ParseError {}

/// Parses a manifest file: multi-document YAML, or JSON (one object). A document of kind
/// `List` (or `FooList`) contributes its `items`. Empty documents are skipped; kinds this crate
/// does not translate come back as [`Object::Ignored`]. Never panics.
pub fn parse_documents(source: &str, text: &str) -> (Vec<Object>, Vec<ParseError>) {
    let mut parser = Parser {
        source,
        objects: Vec::new(),
        errors: Vec::new(),
    };
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let looks_like_json = trimmed.starts_with('{') || trimmed.starts_with('[');
    if looks_like_json || source.ends_with(".json") {
        match serde_json::from_str::<Value>(trimmed) {
            Ok(value) => {
                parser.document(0, value);
                return parser.finish();
            }
            // A `.json` file gets the JSON parser's message; anything else may still be YAML
            // written in flow style.
            Err(err) if source.ends_with(".json") => {
                parser.error(0, None, None, format!("invalid JSON: {err}"));
                return parser.finish();
            }
            Err(_) => {}
        }
    }
    for (index, chunk) in split_documents(text).into_iter().enumerate() {
        match yaml_serde::from_str::<Value>(chunk.text) {
            Ok(value) => parser.document(index, value),
            Err(err) => {
                let reason = format!(
                    "invalid YAML: {}",
                    shift_lines(&err.to_string(), chunk.first_line)
                );
                parser.error(index, None, None, reason);
            }
        }
    }
    parser.finish()
}

/// Parses one object the API server returned, already decoded as JSON. `api_version` and
/// `kind` fill in what list items leave out. The same checks as for manifest documents apply,
/// so a malformed object is reported with the field that failed and never panics.
pub fn parse_value(source: &str, api_version: &str, kind: &str, value: Value) -> Result<Object, ParseError> {
    let mut parser = Parser {
        source,
        objects: Vec::new(),
        errors: Vec::new(),
    };
    let value = match value {
        Value::Object(mut map) => {
            map.insert("apiVersion".into(), Value::String(api_version.to_string()));
            map.insert("kind".into(), Value::String(kind.to_string()));
            Value::Object(map)
        }
        other => other,
    };
    parser.document(0, value);
    let (mut objects, mut errors) = parser.finish();
    match (objects.pop(), errors.pop()) {
        (Some(object), _) => Ok(object),
        (None, Some(err)) => Err(err),
        (None, None) => Err(ParseError {
            source: source.to_string(),
            document: 0,
            kind: Some(kind.to_string()),
            name: None,
            reason: "expected a Kubernetes object, found null".to_string(),
        }),
    }
}

struct Parser<'a> {
    source: &'a str,
    objects: Vec<Object>,
    errors: Vec<ParseError>,
}

impl Parser<'_> {
    fn finish(self) -> (Vec<Object>, Vec<ParseError>) {
        (self.objects, self.errors)
    }

    fn error(&mut self, document: usize, kind: Option<String>, name: Option<String>, reason: String) {
        self.errors.push(ParseError {
            source: self.source.to_string(),
            document,
            kind,
            name,
            reason,
        });
    }

    fn document(&mut self, index: usize, value: Value) {
        let map = match value {
            Value::Null => return,
            Value::Object(map) => map,
            other => {
                let reason = format!(
                    "expected a Kubernetes object (a mapping with apiVersion and kind), found {}",
                    type_name(&other)
                );
                self.error(index, None, None, reason);
                return;
            }
        };
        let kind = string_field(&map, "kind");
        let api_version = string_field(&map, "apiVersion");
        if let (Some(kind), Some(api_version)) = (&kind, &api_version) {
            if kind.ends_with("List") {
                if let Some(items) = map.get("items") {
                    self.list(index, kind, api_version, items);
                    return;
                }
            }
        }
        self.object(index, map, "");
    }

    /// `kind: List` holds complete objects; typed lists (`ServiceList`) as the API returns them
    /// hold items without apiVersion and kind, which are implied by the list.
    fn list(&mut self, index: usize, kind: &str, api_version: &str, items: &Value) {
        let Value::Array(items) = items else {
            self.error(
                index,
                Some(kind.to_string()),
                None,
                "items: expected a sequence".into(),
            );
            return;
        };
        let implied_kind = kind.strip_suffix("List").filter(|k| !k.is_empty());
        for (i, item) in items.iter().enumerate() {
            let prefix = format!("items[{i}]: ");
            let Value::Object(item) = item else {
                let reason = format!("{prefix}expected an object, found {}", type_name(item));
                self.error(index, None, None, reason);
                continue;
            };
            let mut item = item.clone();
            if let Some(implied) = implied_kind {
                item.entry("kind")
                    .or_insert_with(|| Value::String(implied.to_string()));
                item.entry("apiVersion")
                    .or_insert_with(|| Value::String(api_version.to_string()));
            }
            let nested = string_field(&item, "kind").is_some_and(|k| k.ends_with("List"));
            if nested && item.contains_key("items") {
                let kind = string_field(&item, "kind");
                self.error(
                    index,
                    kind,
                    None,
                    format!("{prefix}lists inside lists are not supported"),
                );
                continue;
            }
            self.object(index, item, &prefix);
        }
    }

    fn object(&mut self, index: usize, mut map: Map<String, Value>, prefix: &str) {
        let kind = string_field(&map, "kind");
        let api_version = string_field(&map, "apiVersion");
        let name = map
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let Some(kind) = kind else {
            let reason = match map.get("kind") {
                None => format!("{prefix}missing field `kind`"),
                Some(other) => format!("{prefix}kind: expected a string, found {}", type_name(other)),
            };
            self.error(index, None, name, reason);
            return;
        };
        let Some(api_version) = api_version else {
            let reason = match map.get("apiVersion") {
                None => format!("{prefix}missing field `apiVersion`"),
                Some(other) => format!(
                    "{prefix}apiVersion: expected a string, found {}",
                    type_name(other)
                ),
            };
            self.error(index, Some(kind), name, reason);
            return;
        };
        // Status is written by controllers and never read by translation; objects copied from a
        // cluster (`kubectl get -o yaml`) carry it, and an old or partial status must not make
        // the whole object fail to parse.
        map.remove("status");
        let value = Value::Object(map);
        let parsed = match (api_version.as_str(), kind.as_str()) {
            (GATEWAY_V1, "GatewayClass") => typed(value).map(Object::GatewayClass),
            (GATEWAY_V1, "Gateway") => typed(value).map(Object::Gateway),
            (GATEWAY_V1, "HTTPRoute") => typed(value).map(Object::HttpRoute),
            (GATEWAY_V1, "GRPCRoute") => typed(value).map(Object::GrpcRoute),
            (GATEWAY_V1 | GATEWAY_V1BETA1, "ReferenceGrant") => typed(value).map(Object::ReferenceGrant),
            ("networking.k8s.io/v1", "Ingress") => typed(value).map(Object::Ingress),
            ("networking.k8s.io/v1", "IngressClass") => typed(value).map(Object::IngressClass),
            ("v1", "Service") => typed(value).map(Object::Service),
            ("v1", "Secret") => typed(value).map(Object::Secret),
            ("v1", "ConfigMap") => typed(value).map(Object::ConfigMap),
            (GATEWAY_V1 | GATEWAY_V1ALPHA3, "BackendTLSPolicy") => typed(value).map(Object::BackendTlsPolicy),
            ("v1", "Namespace") => typed(value).map(Object::Namespace),
            ("discovery.k8s.io/v1", "EndpointSlice") => typed(value).map(Object::EndpointSlice),
            _ => {
                // Kinds we do not translate need no name: a kustomization.yaml has none.
                let name = name.unwrap_or_default();
                self.objects.push(Object::Ignored {
                    api_version,
                    kind,
                    name,
                });
                return;
            }
        };
        match parsed {
            Ok(object) if object.name().is_empty() => {
                self.error(
                    index,
                    Some(kind),
                    None,
                    format!("{prefix}missing field `metadata.name`"),
                );
            }
            Ok(object) => self.objects.push(object),
            Err(reason) => self.error(index, Some(kind), name, format!("{prefix}{reason}")),
        }
    }
}

const GATEWAY_V1: &str = "gateway.networking.k8s.io/v1";
const GATEWAY_V1BETA1: &str = "gateway.networking.k8s.io/v1beta1";
/// BackendTLSPolicy before it reached v1; the fields fairlead reads are the same.
const GATEWAY_V1ALPHA3: &str = "gateway.networking.k8s.io/v1alpha3";

/// Deserializes a typed object, naming the field that failed (`spec.listeners[0].port: ...`).
fn typed<T: DeserializeOwned>(value: Value) -> Result<Box<T>, String> {
    serde_path_to_error::deserialize::<_, T>(value)
        .map(Box::new)
        .map_err(|err| {
            let path = err.path().to_string();
            if path == "." {
                err.inner().to_string()
            } else {
                format!("{path}: {}", err.inner())
            }
        })
}

fn string_field(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_string)
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

/// One YAML document's text and the 0-based line it starts on in the file.
#[derive(Debug, PartialEq, Eq)]
struct Chunk<'a> {
    first_line: usize,
    text: &'a str,
}

/// Splits a YAML stream at `---` document markers. A marker is `---` at the start of a line
/// followed by whitespace or the end of the line; YAML forbids that sequence inside scalars,
/// so the split never cuts a value. Text before the first marker is its own document only when
/// it holds more than comments, blank lines and directives (which belong to the next one).
fn split_documents(text: &str) -> Vec<Chunk<'_>> {
    let mut starts: Vec<(usize, usize)> = Vec::new(); // (byte offset, line)
    let mut offset = 0;
    for (line_no, line) in text.split_inclusive('\n').enumerate() {
        if is_marker(line) {
            starts.push((offset, line_no));
        }
        offset += line.len();
    }
    let preamble_end = starts.first().map_or(text.len(), |(start, _)| *start);
    let preamble = text.get(..preamble_end).unwrap_or_default();
    let preamble_has_content = preamble.lines().any(|line| {
        let line = line.trim();
        !(line.is_empty() || line.starts_with('#') || line.starts_with('%'))
    });
    if preamble_has_content || starts.is_empty() {
        starts.insert(0, (0, 0));
    } else if let Some(first) = starts.first_mut() {
        // Directives and comments before the first marker stay with its document.
        *first = (0, 0);
    }
    let mut chunks = Vec::with_capacity(starts.len());
    for (i, (start, first_line)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(text.len(), |(next, _)| *next);
        chunks.push(Chunk {
            first_line: *first_line,
            text: text.get(*start..end).unwrap_or_default(),
        });
    }
    chunks
}

fn is_marker(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
}

/// Rewrites `line N` in a YAML error message so that it counts from the start of the file, not
/// of the document.
fn shift_lines(message: &str, offset: usize) -> String {
    if offset == 0 {
        return message.to_string();
    }
    let mut out = String::with_capacity(message.len() + 8);
    let mut rest = message;
    while let Some(pos) = rest.find("line ") {
        let (before, after) = rest.split_at(pos + "line ".len());
        out.push_str(before);
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let (number, tail) = after.split_at(digits);
        match number.parse::<usize>() {
            Ok(n) => out.push_str(&n.saturating_add(offset).to_string()),
            Err(_) => out.push_str(number),
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
