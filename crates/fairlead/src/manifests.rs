//! The manifests source: a directory of Kubernetes YAML/JSON read into a `ResourceSet`, keeping the
//! last good version of any object whose document stops parsing.

use crate::source::{unix_now, Loaded, Source};
use fairlead_translate::{parse_documents, translate, Object, ObjectKey, Options, ParseError, ResourceSet};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Reads a directory of manifests, remembering what each file last yielded.
pub struct ManifestSource {
    dir: PathBuf,
    options: Options,
    /// Per file name, what its last load gave. An unchanged file is not parsed again (parsing is
    /// most of a rebuild's time); when documents of a file stop parsing, the objects it had
    /// before and no longer yields keep serving.
    previous: HashMap<String, FileState>,
}

#[derive(Clone)]
struct FileState {
    /// Hash of the file's text.
    hash: u64,
    objects: Vec<Object>,
    /// Problems reported for this file, repeated while it stays unchanged.
    errors: Vec<String>,
}

fn text_hash(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

impl ManifestSource {
    pub fn new(dir: PathBuf, options: Options) -> Self {
        ManifestSource {
            dir,
            options,
            previous: HashMap::new(),
        }
    }

    /// Objects `file` yielded last time that it no longer yields now that some of its documents
    /// fail to parse: the failed documents most likely held them, so their last good version stays.
    fn kept_from_previous(
        file: &str,
        prev: Option<&[Object]>,
        now: &[Object],
        errors: &mut Vec<String>,
    ) -> Vec<Object> {
        let Some(prev) = prev else {
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

impl Source for ManifestSource {
    /// Reads every manifest and translates.
    fn load(&mut self) -> Loaded {
        let started = std::time::Instant::now();
        // Translation is pure and takes the time from here: certificate validity is judged as of
        // this load.
        self.options.now_unix = Some(unix_now());
        let mut errors = Vec::new();
        let mut current: HashMap<String, FileState> = HashMap::new();
        // Taken, not cloned: unchanged files move their parsed objects into `current`.
        let mut previous = std::mem::take(&mut self.previous);
        let files = match manifest_files(&self.dir) {
            Ok(files) => files,
            Err(err) => {
                errors.push(format!(
                    "cannot list {}: {err}; serving the last good objects",
                    self.dir.display()
                ));
                previous.keys().cloned().collect()
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
                    if let Some(prev) = previous.remove(&file) {
                        current.insert(file, prev);
                    }
                    continue;
                }
            };
            let hash = text_hash(&text);
            if let Some(prev) = previous.remove(&file) {
                if prev.hash == hash {
                    errors.extend(prev.errors.iter().cloned());
                    current.insert(file, prev);
                    continue;
                }
                previous.insert(file.clone(), prev);
            }
            let (mut objects, parse_errors) = parse_documents(&file, &text);
            let mut file_errors: Vec<String> = parse_errors.iter().map(ParseError::to_string).collect();
            if !parse_errors.is_empty() {
                let prev = previous.get(&file).map(|p| p.objects.as_slice());
                objects.extend(Self::kept_from_previous(&file, prev, &objects, &mut file_errors));
            }
            errors.extend(file_errors.iter().cloned());
            current.insert(
                file,
                FileState {
                    hash,
                    objects,
                    errors: file_errors,
                },
            );
        }
        self.previous = current;

        let mut set = ResourceSet::default();
        let mut counts = BTreeMap::new();
        let mut files: Vec<&String> = self.previous.keys().collect();
        files.sort();
        for file in files {
            for object in &self.previous[file].objects {
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
        let read_time = started.elapsed();
        let translation = translate(&set, &self.options);
        Loaded {
            translation,
            errors,
            counts,
            read_time,
            translate_time: started.elapsed().saturating_sub(read_time),
        }
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
