//! Glob expansion that never panics and never mistakes a failed listing for an empty one.
//!
//! The `glob` crate's own walker unwraps file names that are not UTF-8 and folds every
//! directory error into the iterator, where "could not list" and "nothing there" look alike.
//! This walker matches one path component at a time with [`glob::Pattern`] and says which
//! directories it could not list, so that the tailer keeps the files it follows there instead of
//! taking them for deleted.
//!
//! A name that is not UTF-8 matches no wildcard (a glob is UTF-8 text) and is skipped. `**`
//! matches any number of directories, up to [`MAX_DEPTH`] deep. At most [`MAX_ENTRIES`]
//! directory entries are examined per expansion.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::glob_options;

/// How deep `**` descends.
const MAX_DEPTH: usize = 16;
/// Directory entries looked at in one expansion, over all directories.
const MAX_ENTRIES: usize = 100_000;

/// What one expansion found.
#[derive(Debug, Default)]
pub(super) struct Expansion {
    /// Paths that match, sorted. They exist as directory entries; what they are is the caller's
    /// business.
    pub paths: Vec<PathBuf>,
    /// Directories the walk needed but could not list (other than by their being absent), with
    /// the error: what matches there is unknown.
    pub unlisted: Vec<(PathBuf, io::Error)>,
}

/// One component of a glob.
enum Step {
    Literal(std::ffi::OsString),
    Wildcard(glob::Pattern),
    AnyDirectories,
}

/// Expands `glob`. A glob that is not valid yields nothing (the tailer reports it at start-up).
pub(super) fn expand(glob: &str) -> Expansion {
    let mut expansion = Expansion::default();
    let mut root = PathBuf::new();
    let mut steps = Vec::new();
    for component in Path::new(glob).components() {
        match component {
            Component::Prefix(_) | Component::RootDir | Component::CurDir if steps.is_empty() => {
                root.push(component);
            }
            Component::Normal(name) => {
                let text = name.to_string_lossy();
                if text == "**" {
                    steps.push(Step::AnyDirectories);
                } else if super::has_glob_syntax(&text) {
                    match glob::Pattern::new(&text) {
                        Ok(pattern) => steps.push(Step::Wildcard(pattern)),
                        Err(_) => return expansion,
                    }
                } else {
                    steps.push(Step::Literal(name.to_os_string()));
                }
            }
            other => steps.push(Step::Literal(other.as_os_str().to_os_string())),
        }
    }
    if root.as_os_str().is_empty() {
        root.push(".");
    }
    let mut budget = MAX_ENTRIES;
    walk(&root, &steps, 0, &mut budget, &mut expansion);
    // `./` was only a place to start from: give paths as the glob wrote them.
    if !glob.starts_with("./") {
        for path in &mut expansion.paths {
            if let Ok(stripped) = path.strip_prefix(".") {
                *path = stripped.to_path_buf();
            }
        }
    }
    expansion.paths.sort();
    expansion.paths.dedup();
    expansion
}

fn walk(
    directory: &Path,
    steps: &[Step],
    depth: usize,
    budget: &mut usize,
    expansion: &mut Expansion,
) {
    let Some((step, rest)) = steps.split_first() else {
        expansion.paths.push(directory.to_path_buf());
        return;
    };
    match step {
        Step::Literal(name) => {
            let path = directory.join(name);
            // The last component must exist; a directory on the way is tried by listing it.
            if rest.is_empty() {
                if fs::symlink_metadata(&path).is_ok() {
                    expansion.paths.push(path);
                }
            } else {
                walk(&path, rest, depth, budget, expansion);
            }
        }
        Step::Wildcard(pattern) => {
            for (name, path) in list(directory, budget, expansion) {
                if pattern.matches_with(&name, glob_options()) {
                    walk(&path, rest, depth, budget, expansion);
                }
            }
        }
        Step::AnyDirectories => {
            // Zero directories here, then one more level for each subdirectory.
            walk(directory, rest, depth, budget, expansion);
            if depth >= MAX_DEPTH {
                return;
            }
            for (name, path) in list(directory, budget, expansion) {
                if name.starts_with('.') || !path.is_dir() {
                    continue;
                }
                walk(&path, steps, depth + 1, budget, expansion);
            }
        }
    }
}

/// The UTF-8 names in `directory` and their paths; an absent directory has none, one that
/// cannot be listed is recorded in `expansion.unlisted`.
fn list(directory: &Path, budget: &mut usize, expansion: &mut Expansion) -> Vec<(String, PathBuf)> {
    let listed = if listings_fail_for_test() {
        Err(io::Error::from_raw_os_error(libc::EMFILE))
    } else {
        fs::read_dir(directory)
    };
    let entries = match listed {
        Ok(entries) => entries,
        Err(error) if is_absent(&error) => return Vec::new(),
        Err(error) => {
            expansion.unlisted.push((directory.to_path_buf(), error));
            return Vec::new();
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        if *budget == 0 {
            break;
        }
        *budget -= 1;
        match entry {
            Ok(entry) => {
                if let Ok(name) = entry.file_name().into_string() {
                    names.push((name, entry.path()));
                }
            }
            // A listing cut short is as unknown as one that failed.
            Err(error) => {
                expansion.unlisted.push((directory.to_path_buf(), error));
                break;
            }
        }
    }
    names
}

#[cfg(test)]
thread_local! {
    static FAIL_LISTINGS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Makes every directory listing of this thread fail with EMFILE, as under a descriptor flood.
#[cfg(test)]
pub(super) fn fail_listings_for_test(fail: bool) {
    FAIL_LISTINGS.with(|cell| cell.set(fail));
}

#[cfg(test)]
fn listings_fail_for_test() -> bool {
    FAIL_LISTINGS.with(std::cell::Cell::get)
}

#[cfg(not(test))]
fn listings_fail_for_test() -> bool {
    false
}

/// Absent, or a file where a directory was expected: nothing there, not an error.
fn is_absent(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    fn touch(path: &Path) {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(path, b"x").unwrap();
    }

    fn names(expansion: &Expansion, root: &Path) -> Vec<String> {
        expansion
            .paths
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn matches_like_the_glob_crate_and_skips_names_that_are_not_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(&root.join("d/train.jsonl"));
        touch(&root.join("d/.hidden.jsonl"));
        touch(&root.join("d/notes.txt"));
        touch(&root.join(std::ffi::OsStr::from_bytes(b"d/notes-\xe9.jsonl")));
        touch(&root.join("d/sub/deep.jsonl"));
        touch(&root.join("e/rank1/train.jsonl"));
        let glob = |g: &str| expand(&format!("{}/{g}", root.display()));
        assert_eq!(names(&glob("d/*.jsonl"), root), ["d/train.jsonl"]);
        assert_eq!(names(&glob("d/train.json?"), root), ["d/train.jsonl"]);
        assert_eq!(
            names(&glob("*/rank[0-9]/*.jsonl"), root),
            ["e/rank1/train.jsonl"]
        );
        assert_eq!(
            names(&glob("**/*.jsonl"), root),
            ["d/sub/deep.jsonl", "d/train.jsonl", "e/rank1/train.jsonl"]
        );
        assert!(glob("nowhere/*.jsonl").paths.is_empty());
        assert!(glob("nowhere/*.jsonl").unlisted.is_empty());
    }

    #[test]
    fn a_directory_that_cannot_be_listed_is_unknown_not_empty() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("d/train.jsonl"));
        let d = dir.path().join("d");
        // A file where a directory is expected is absent, never unknown.
        let expansion = expand(&format!("{}/train.jsonl/*", d.display()));
        assert!(expansion.paths.is_empty() && expansion.unlisted.is_empty());
        // EMFILE (or a permission flicker) while listing: unknown.
        fail_listings_for_test(true);
        let expansion = expand(&format!("{}/*.jsonl", d.display()));
        fail_listings_for_test(false);
        assert!(expansion.paths.is_empty());
        assert_eq!(expansion.unlisted.len(), 1);
        assert_eq!(expansion.unlisted[0].0, d);
        assert_eq!(expand(&format!("{}/*.jsonl", d.display())).paths.len(), 1);
    }
}
