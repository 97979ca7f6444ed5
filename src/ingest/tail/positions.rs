//! Where each followed file was left off, and the file that keeps it across restarts.
//!
//! A position names a file by its identity (device and inode) and by a fingerprint of its
//! first bytes, so that a path now naming another file, or an inode number reused by a new
//! file, is not mistaken for the file that was being read.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::reader::ReadAt;

/// How many leading bytes of a file its fingerprint covers.
pub(super) const FINGERPRINT_BYTES: u64 = 256;

/// The device and inode of a file: what a path names at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct FileId {
    pub dev: u64,
    pub inode: u64,
}

impl FileId {
    pub fn of(metadata: &fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId {
            dev: metadata.dev(),
            inode: metadata.ino(),
        }
    }
}

/// A hash of a file's first `bytes` bytes (at most [`FINGERPRINT_BYTES`]).
///
/// A file shorter than [`FINGERPRINT_BYTES`] has a fingerprint over what it had; it is widened
/// as the file grows, and a comparison always hashes the same number of bytes as were hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fingerprint {
    pub bytes: u64,
    pub fnv1a64: u64,
}

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

impl Fingerprint {
    /// The fingerprint of an empty file: it matches every file and is widened on the next read.
    pub const EMPTY: Fingerprint = Fingerprint {
        bytes: 0,
        fnv1a64: FNV_OFFSET_BASIS,
    };

    /// Fingerprints the first `min(size, FINGERPRINT_BYTES)` bytes of `file`.
    pub fn read<R: ReadAt + ?Sized>(file: &R, size: u64) -> io::Result<Fingerprint> {
        let mut head = [0u8; FINGERPRINT_BYTES as usize];
        let bytes = read_head(file, &mut head, size)?;
        Ok(Fingerprint {
            bytes: bytes.len() as u64,
            fnv1a64: fnv1a64(bytes),
        })
    }

    /// Whether `file` still starts with the bytes this fingerprint was taken from.
    pub fn matches<R: ReadAt + ?Sized>(&self, file: &R) -> io::Result<bool> {
        let mut head = [0u8; FINGERPRINT_BYTES as usize];
        let bytes = read_head(file, &mut head, self.bytes)?;
        Ok(bytes.len() as u64 == self.bytes && fnv1a64(bytes) == self.fnv1a64)
    }
}

/// A hash of the (up to [`FINGERPRINT_BYTES`]) bytes just before the offset read so far. A
/// trainer that rewrites its log with the same first lines and writes past the old offset
/// between two polls keeps the head fingerprint; the bytes at the old edge tell the rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Edge {
    /// The offset the hashed bytes end at.
    pub end: u64,
    pub bytes: u64,
    pub fnv1a64: u64,
}

impl Edge {
    /// No bytes: matches every file.
    pub const NONE: Edge = Edge {
        end: 0,
        bytes: 0,
        fnv1a64: FNV_OFFSET_BASIS,
    };

    /// The edge of `file` at `end`.
    pub fn read<R: ReadAt + ?Sized>(file: &R, end: u64) -> io::Result<Edge> {
        let bytes = end.min(FINGERPRINT_BYTES);
        let mut window = [0u8; FINGERPRINT_BYTES as usize];
        let got = read_range(file, &mut window, end - bytes, bytes)?;
        Ok(Edge {
            end: (end - bytes) + got.len() as u64,
            bytes: got.len() as u64,
            fnv1a64: fnv1a64(got),
        })
    }

    /// Whether `file` still holds the same bytes before [`Edge::end`].
    pub fn matches<R: ReadAt + ?Sized>(&self, file: &R) -> io::Result<bool> {
        if self.bytes == 0 {
            return Ok(true);
        }
        let mut window = [0u8; FINGERPRINT_BYTES as usize];
        let got = read_range(file, &mut window, self.end - self.bytes, self.bytes)?;
        Ok(got.len() as u64 == self.bytes && fnv1a64(got) == self.fnv1a64)
    }
}

/// Reads the first `min(wanted, FINGERPRINT_BYTES)` bytes of `file` into `head`, stopping
/// early only at end of file, and returns them.
fn read_head<'h, R: ReadAt + ?Sized>(
    file: &R,
    head: &'h mut [u8; FINGERPRINT_BYTES as usize],
    wanted: u64,
) -> io::Result<&'h [u8]> {
    read_range(file, head, 0, wanted)
}

/// Reads `min(wanted, FINGERPRINT_BYTES)` bytes of `file` from `start` into `window`, stopping
/// early only at end of file, and returns them.
fn read_range<'h, R: ReadAt + ?Sized>(
    file: &R,
    window: &'h mut [u8; FINGERPRINT_BYTES as usize],
    start: u64,
    wanted: u64,
) -> io::Result<&'h [u8]> {
    let head = window;
    let wanted = usize::try_from(wanted.min(FINGERPRINT_BYTES)).unwrap_or(0);
    let mut got = 0;
    while let Some(space) = head.get_mut(got..wanted).filter(|space| !space.is_empty()) {
        match file.read_at(space, start + got as u64) {
            Ok(0) => break,
            Ok(count) => got += count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
    Ok(head.get(..got).unwrap_or_default())
}

/// 64-bit FNV-1a: tiny, and stable across builds, which a hash saved to disk must be.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash = FNV_OFFSET_BASIS;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Where one file was left off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FilePosition {
    pub id: FileId,
    pub fingerprint: Fingerprint,
    /// The first byte not yet consumed; always the start of a line.
    pub offset: u64,
}

/// Per path, where reading was left off; what the daemon saves and hands back to
/// [`Tailer::new`](super::Tailer::new) after a restart.
///
/// In its file, paths that are not valid UTF-8 are left out (with a warning): such a file is
/// read again as if no position had been saved for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PositionsFile", into = "PositionsFile")]
pub struct Positions {
    pub(super) files: BTreeMap<PathBuf, FilePosition>,
}

/// Why the positions file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PositionsError {
    #[error("cannot read positions file '{}': {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("positions file '{}' is not valid: {source}; fix it or delete it to start over", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot encode positions: {0}")]
    Encode(serde_json::Error),
    #[error("cannot write positions file '{}': {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

impl Positions {
    /// Reads a positions file. A file that does not exist yet gives empty positions, since that
    /// is the normal state before the first save.
    pub fn load(path: &Path) -> Result<Positions, PositionsError> {
        let text = match fs::read(path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Ok(Positions::default())
            }
            Err(source) => {
                return Err(PositionsError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        serde_json::from_slice(&text).map_err(|source| PositionsError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Moves a positions file that cannot be read as positions aside, to `<path>.corrupt`, so
    /// that the next save does not destroy what may be worth a look; returns the new path.
    pub fn set_aside(path: &Path) -> io::Result<PathBuf> {
        let mut aside = path.as_os_str().to_os_string();
        aside.push(".corrupt");
        let aside = PathBuf::from(aside);
        fs::rename(path, &aside)?;
        Ok(aside)
    }

    /// Writes the positions so that a crash leaves either the old file or the new one: a
    /// temporary file in the same directory is written, flushed to disk and renamed over `path`.
    pub fn save_atomically(&self, path: &Path) -> Result<(), PositionsError> {
        let json = serde_json::to_vec_pretty(self).map_err(PositionsError::Encode)?;
        let write_error = |source| PositionsError::Write {
            path: path.to_path_buf(),
            source,
        };
        let file_name = path.file_name().ok_or_else(|| {
            write_error(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the path does not name a file",
            ))
        })?;
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        // A leading dot keeps the temporary file out of `*` globs that may cover this directory.
        let mut temporary_name = std::ffi::OsString::from(".");
        temporary_name.push(file_name);
        temporary_name.push(format!(".{}.tmp", std::process::id()));
        let temporary = directory.join(temporary_name);

        let written = write_and_sync(&temporary, &json).and_then(|()| fs::rename(&temporary, path));
        if let Err(source) = written {
            // Best effort: the temporary file is useless now, and a failure to remove it changes
            // nothing about the error worth reporting.
            let _ = fs::remove_file(&temporary);
            return Err(write_error(source));
        }
        // Make the rename itself durable. Some file systems cannot sync a directory; the data is
        // already safe in the renamed file, so that is not worth failing the save for.
        if let Ok(directory) = File::open(directory) {
            let _ = directory.sync_all();
        }
        Ok(())
    }

    /// Takes in the positions of another tailer; where both have a path, `other`'s wins.
    pub fn extend(&mut self, other: Positions) {
        self.files.extend(other.files);
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// The saved offset for `path`: the first byte not yet consumed.
    pub fn offset(&self, path: &Path) -> Option<u64> {
        self.files.get(path).map(|position| position.offset)
    }

    /// The paths with a saved position, in order.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.keys().map(PathBuf::as_path)
    }
}

/// Writes a new file at `path` and flushes it to disk. The file must not exist (`O_EXCL`) and
/// a symbolic link there is not followed (`O_NOFOLLOW`): a link planted at the temporary name
/// cannot redirect the write. A leftover of a crashed save is removed and the write tried once
/// more.
fn write_and_sync(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let create = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o600)
            .open(path)
    };
    let mut file = match create() {
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(path)?;
            create()?
        }
        other => other?,
    };
    file.write_all(contents)?;
    file.sync_all()
}

/// An exclusive hold on a positions file for the life of one exporter: two exporters saving
/// positions to one file would each overwrite what the other consumed.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

impl StateLock {
    /// Takes the lock `<path>.lock`, or says which process holds it.
    pub fn acquire(path: &Path) -> Result<StateLock, String> {
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::io::AsRawFd;
        let mut lock_path = path.as_os_str().to_os_string();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|error| format!("cannot open {}: {error}", lock_path.display()))?;
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let holder = fs::read_to_string(&lock_path).unwrap_or_default();
            return Err(format!(
                "{} is in use by another mfu-exporter (pid {}); give each exporter its own --state-file",
                path.display(),
                holder.trim().parse::<u32>().map_or_else(|_| "unknown".to_owned(), |pid| pid.to_string())
            ));
        }
        let _ = file.set_len(0);
        let _ = write!(file, "{}", std::process::id());
        Ok(StateLock { _file: file })
    }
}

/// The on-disk schema of the positions file, kept apart from [`Positions`] so that the format
/// can be versioned on its own.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PositionsFile {
    version: u32,
    files: Vec<FileRecord>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRecord {
    path: String,
    dev: u64,
    inode: u64,
    fingerprint_bytes: u64,
    /// Hexadecimal, since JSON readers often lose precision on integers above 2^53.
    fingerprint_fnv1a64: String,
    offset: u64,
}

const POSITIONS_FILE_VERSION: u32 = 1;

impl From<Positions> for PositionsFile {
    fn from(positions: Positions) -> PositionsFile {
        let mut files = Vec::with_capacity(positions.files.len());
        for (path, position) in positions.files {
            let Some(path_text) = path.to_str() else {
                tracing::warn!(
                    path = %path.display(),
                    "not saving the position of a file whose path is not UTF-8; it will be read again after a restart"
                );
                continue;
            };
            files.push(FileRecord {
                path: path_text.to_owned(),
                dev: position.id.dev,
                inode: position.id.inode,
                fingerprint_bytes: position.fingerprint.bytes,
                fingerprint_fnv1a64: format!("{:016x}", position.fingerprint.fnv1a64),
                offset: position.offset,
            });
        }
        PositionsFile {
            version: POSITIONS_FILE_VERSION,
            files,
        }
    }
}

impl TryFrom<PositionsFile> for Positions {
    type Error = String;

    fn try_from(file: PositionsFile) -> Result<Positions, String> {
        if file.version != POSITIONS_FILE_VERSION {
            return Err(format!(
                "unsupported version {} (this build reads version {POSITIONS_FILE_VERSION})",
                file.version
            ));
        }
        let mut files = BTreeMap::new();
        for record in file.files {
            let fnv1a64 = u64::from_str_radix(&record.fingerprint_fnv1a64, 16).map_err(|_| {
                format!(
                    "fingerprint_fnv1a64 '{}' of '{}' is not a hexadecimal 64-bit number",
                    record.fingerprint_fnv1a64, record.path
                )
            })?;
            if record.fingerprint_bytes > FINGERPRINT_BYTES {
                return Err(format!(
                    "fingerprint_bytes {} of '{}' is over the maximum {FINGERPRINT_BYTES}",
                    record.fingerprint_bytes, record.path
                ));
            }
            let position = FilePosition {
                id: FileId {
                    dev: record.dev,
                    inode: record.inode,
                },
                fingerprint: Fingerprint {
                    bytes: record.fingerprint_bytes,
                    fnv1a64,
                },
                offset: record.offset,
            };
            files.insert(PathBuf::from(record.path), position);
        }
        Ok(Positions { files })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_planted_at_the_temporary_name_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("positions.json");
        let target = dir.path().join("precious");
        fs::write(&target, "keep me").unwrap();
        let temporary = dir
            .path()
            .join(format!(".positions.json.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&target, &temporary).unwrap();
        sample().save_atomically(&path).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep me");
        assert_eq!(Positions::load(&path).unwrap(), sample());
    }

    #[test]
    fn a_second_holder_of_the_state_file_is_refused_naming_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("positions.json");
        let first = StateLock::acquire(&path).unwrap();
        let refused = StateLock::acquire(&path).unwrap_err();
        assert!(
            refused.contains(&format!(
                "in use by another mfu-exporter (pid {})",
                std::process::id()
            )),
            "{refused}"
        );
        drop(first);
        assert!(StateLock::acquire(&path).is_ok());
    }

    #[test]
    fn a_corrupt_state_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("positions.json");
        fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            Positions::load(&path),
            Err(PositionsError::Parse { .. })
        ));
        let aside = Positions::set_aside(&path).unwrap();
        assert_eq!(fs::read_to_string(aside).unwrap(), "{not json");
        assert_eq!(Positions::load(&path).unwrap(), Positions::default());
    }

    fn sample() -> Positions {
        let mut files = BTreeMap::new();
        files.insert(
            PathBuf::from("/logs/train.jsonl"),
            FilePosition {
                id: FileId {
                    dev: 2049,
                    inode: 1234,
                },
                fingerprint: Fingerprint {
                    bytes: 256,
                    fnv1a64: u64::MAX - 1,
                },
                offset: 1000,
            },
        );
        files.insert(
            PathBuf::from("relative.log"),
            FilePosition {
                id: FileId { dev: 1, inode: 2 },
                fingerprint: Fingerprint {
                    bytes: 0,
                    fnv1a64: fnv1a64(b""),
                },
                offset: 0,
            },
        );
        Positions { files }
    }

    #[test]
    fn save_then_load_gives_the_same_positions() {
        let directory = tempfile::TempDir::new().unwrap();
        let path = directory.path().join("positions.json");
        sample().save_atomically(&path).unwrap();
        assert_eq!(Positions::load(&path).unwrap(), sample());
        // Saving again replaces the file and leaves no temporary file behind.
        Positions::default().save_atomically(&path).unwrap();
        assert_eq!(Positions::load(&path).unwrap(), Positions::default());
        let names: Vec<_> = fs::read_dir(directory.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["positions.json"]);
    }

    #[test]
    fn missing_file_loads_as_empty() {
        let directory = tempfile::TempDir::new().unwrap();
        assert!(Positions::load(&directory.path().join("absent.json"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn file_format_is_versioned_and_readable() {
        let json = serde_json::to_value(sample()).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["files"][0]["path"], "/logs/train.jsonl");
        assert_eq!(json["files"][0]["fingerprint_fnv1a64"], "fffffffffffffffe");
        assert_eq!(json["files"][0]["offset"], 1000);
    }

    #[test]
    fn bad_files_are_rejected_with_the_reason() {
        let directory = tempfile::TempDir::new().unwrap();
        let path = directory.path().join("positions.json");
        let cases = [
            ("not json", "is not valid"),
            (r#"{"version": 2, "files": []}"#, "unsupported version 2"),
            (
                r#"{"version": 1, "files": [{"path": "a", "dev": 1, "inode": 2, "fingerprint_bytes": 3, "fingerprint_fnv1a64": "xyz", "offset": 0}]}"#,
                "fingerprint_fnv1a64 'xyz' of 'a'",
            ),
            (
                r#"{"version": 1, "files": [{"path": "a", "dev": 1, "inode": 2, "fingerprint_bytes": 300, "fingerprint_fnv1a64": "0", "offset": 0}]}"#,
                "fingerprint_bytes 300",
            ),
        ];
        for (text, expected) in cases {
            fs::write(&path, text).unwrap();
            let error = Positions::load(&path).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?} gave {error:?}");
            assert!(
                error.contains("positions.json"),
                "{error:?} should name the file"
            );
        }
    }

    #[test]
    fn save_into_a_missing_directory_fails_cleanly() {
        let directory = tempfile::TempDir::new().unwrap();
        let path = directory.path().join("absent").join("positions.json");
        let error = sample().save_atomically(&path).unwrap_err();
        assert!(matches!(error, PositionsError::Write { .. }), "{error:?}");
    }

    #[test]
    fn fingerprint_compares_the_bytes_it_covered() {
        let short = b"abc".as_slice();
        let fingerprint = Fingerprint::read(short, 3).unwrap();
        assert_eq!(fingerprint.bytes, 3);
        assert!(fingerprint.matches(b"abcdef".as_slice()).unwrap());
        assert!(!fingerprint.matches(b"abX".as_slice()).unwrap());
        assert!(!fingerprint.matches(b"ab".as_slice()).unwrap());
        let long = vec![7u8; 1000];
        let fingerprint = Fingerprint::read(long.as_slice(), 1000).unwrap();
        assert_eq!(fingerprint.bytes, FINGERPRINT_BYTES);
        let mut changed_late = long.clone();
        changed_late[300] = 8;
        assert!(fingerprint.matches(changed_late.as_slice()).unwrap());
        let mut changed_early = long;
        changed_early[255] = 8;
        assert!(!fingerprint.matches(changed_early.as_slice()).unwrap());
    }

    #[test]
    fn fnv1a64_matches_the_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
