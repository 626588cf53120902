//! The manifests source: a directory of Kubernetes YAML/JSON read into a `ResourceSet`, keeping the
//! last good version of any object whose document stops parsing.

use fairlead_translate::{
    parse_documents, translate, Object, ObjectKey, Options, ParseError, ResourceSet, Translation,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// What one load produced.
pub struct Loaded {
    pub translation: Translation,
    /// Problems with files and documents, each naming the file, document and reason.
    pub errors: Vec<String>,
    /// Objects per kind, including ignored kinds under their own name.
    pub counts: BTreeMap<String, usize>,
}

/// Reads a directory of manifests, remembering what each file last yielded.
pub struct ManifestSource {
    dir: PathBuf,
    options: Options,
    /// Per file name, the objects of its last load. When documents of a file stop parsing, the
    /// objects it had before and no longer yields keep serving.
    previous: HashMap<String, Vec<Object>>,
}

impl ManifestSource {
    pub fn new(dir: PathBuf, options: Options) -> Self {
        ManifestSource {
            dir,
            options,
            previous: HashMap::new(),
        }
    }

    /// Reads every manifest and translates. Blocking: call from a blocking thread.
    pub fn load(&mut self) -> Loaded {
        let mut errors = Vec::new();
        let mut current: HashMap<String, Vec<Object>> = HashMap::new();
        let files = match manifest_files(&self.dir) {
            Ok(files) => files,
            Err(err) => {
                errors.push(format!(
                    "cannot list {}: {err}; serving the last good objects",
                    self.dir.display()
                ));
                self.previous.keys().cloned().collect()
            }
        };
        for file in files {
            let path = self.dir.join(&file);
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                // Deleted between listing and reading: it is gone.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => {
                    errors.push(format!(
                        "{file}: cannot read: {err}; keeping its previous objects"
                    ));
                    if let Some(prev) = self.previous.get(&file) {
                        current.insert(file, prev.clone());
                    }
                    continue;
                }
            };
            let (mut objects, parse_errors) = parse_documents(&file, &text);
            errors.extend(parse_errors.iter().map(ParseError::to_string));
            if !parse_errors.is_empty() {
                objects.extend(self.kept_from_previous(&file, &objects, &mut errors));
            }
            current.insert(file, objects);
        }
        self.previous = current;

        let mut set = ResourceSet::default();
        let mut counts = BTreeMap::new();
        let mut files: Vec<&String> = self.previous.keys().collect();
        files.sort();
        for file in files {
            for object in &self.previous[file] {
                match object.kind() {
                    Some(kind) => *counts.entry(kind.as_str().to_owned()).or_insert(0) += 1,
                    None => {
                        if let Object::Ignored {
                            kind,
                            api_version,
                            name,
                        } = object
                        {
                            tracing::debug!(%file, %api_version, %kind, %name, "ignoring a kind fairlead does not read");
                        }
                    }
                }
                set.insert(object.clone());
            }
        }
        Loaded {
            translation: translate(&set, &self.options),
            errors,
            counts,
        }
    }

    /// Objects `file` yielded last time that it no longer yields now that some of its documents
    /// fail to parse: the failed documents most likely held them, so their last good version stays.
    fn kept_from_previous(&self, file: &str, now: &[Object], errors: &mut Vec<String>) -> Vec<Object> {
        let Some(prev) = self.previous.get(file) else {
            return Vec::new();
        };
        let present: HashSet<ObjectKey> = now.iter().filter_map(Object::key).collect();
        prev.iter()
            .filter(|o| o.key().is_some_and(|k| !present.contains(&k)))
            .inspect(|o| {
                errors.push(format!(
                    "{file}: keeping the last good version of {} {}",
                    o.kind().map(|k| k.as_str()).unwrap_or(""),
                    o.name()
                ))
            })
            .cloned()
            .collect()
    }
}
/// Manifest file names in `dir`, sorted: `*.yaml`, `*.yml`, `*.json`, not starting with a dot.
pub fn manifest_files(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let is_manifest = [".yaml", ".yml", ".json"].iter().any(|ext| name.ends_with(ext));
        // Follow symlinks (mounted ConfigMaps link their files): a dangling one is skipped.
        if is_manifest && std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file()) {
            files.push(name);
        }
    }
    files.sort();
    Ok(files)
}
