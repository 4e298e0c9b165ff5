//! Content checksums of plugin source trees: a list of every file with its
//! kind and SHA-256, and the SHA-256 of that list. Computed from the bytes on
//! disk, which `git::checkout` wrote unfiltered, so the user's git
//! configuration cannot change it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use build_support::sha256_hex;

/// Written last into each copy sync makes in `plugin-sources/`: prune
/// removes only directories that carry it.
pub const COPY_MARKER: &str = ".plugin-ok";

/// In a host copy: the stat index that lets a no-op sync prove the copy
/// unchanged without reading it.
pub const INDEX_FILE: &str = ".plugin-index";

/// Files that belong to the tool's bookkeeping, not to the plugin (a
/// repository holding one of these names at its root is refused).
pub const IGNORED: &[&str] = &[COPY_MARKER, INDEX_FILE];

/// Every file of a tree: relative `/`-separated path → `kind:sha256`, where
/// kind is `f` (file), `x` (executable) or `l` (symlink, hashing its target).
pub type Sums = BTreeMap<String, String>;

/// The sums of every file under `dir`.
pub fn sums(dir: &Path) -> anyhow::Result<Sums> {
    let mut out = Sums::new();
    walk(dir, "", &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Sums) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("failed to read {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("failed to read {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = format!("{prefix}{name}");
        if prefix.is_empty() && IGNORED.contains(&name.as_str()) {
            continue;
        }
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("failed to stat {}", path.display()))?;
        if kind.is_symlink() {
            let target = std::fs::read_link(&path)
                .with_context(|| format!("failed to read link {}", path.display()))?;
            let target = target.to_string_lossy();
            out.insert(relative, format!("l:{}", sha256_hex(target.as_bytes())));
        } else if kind.is_dir() {
            walk(&path, &format!("{relative}/"), out)?;
        } else {
            let bytes = std::fs::read(&path)
                .with_context(|| format!("failed to read {}", path.display()))?;
            let tag = if is_executable(&entry)? { "x" } else { "f" };
            out.insert(relative, format!("{tag}:{}", sha256_hex(&bytes)));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn is_executable(entry: &std::fs::DirEntry) -> anyhow::Result<bool> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = entry
        .metadata()
        .context("failed to stat")?
        .permissions()
        .mode();
    Ok(mode & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::DirEntry) -> anyhow::Result<bool> {
    Ok(false)
}

/// Whether `dir` holds exactly the files whose checksum is `checksum` (a
/// missing directory does not): the one "is this copy intact" check. Reads
/// and hashes every file.
pub fn intact(dir: &Path, checksum: &Checksum) -> anyhow::Result<bool> {
    Ok(dir.is_dir() && digest(&sums(dir)?) == *checksum)
}

/// [`intact`] for a host copy made by sync, without reading its files when
/// nothing changed: the copy's index file records, when it was written, the
/// checksum and every entry's size, mtime, ctime, inode and mode (as git's
/// index does), directories included. If the index is for `checksum`, the
/// copy's top level holds the names it recorded, and every recorded entry
/// still stats the same, the copy is intact: a file edited in place has
/// another mtime and ctime; one added, removed or renamed changes its
/// directory's. On any difference, every file is hashed. `verify` always
/// hashes.
pub fn intact_fast(dir: &Path, checksum: &Checksum) -> anyhow::Result<bool> {
    Ok(!matches!(copy_state(dir, checksum)?, CopyState::Differs))
}

/// What [`copy_state`] found of a host copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyState {
    /// Proven unchanged by its index, which recorded these plugin ids for
    /// the crate in it (`None` when it recorded none it could read).
    Indexed(Option<Vec<String>>),
    /// Intact, as hashing every file proved: its index is missing, stale
    /// (a file touched, or the copy made by an older sync) or damaged.
    Hashed,
    /// Missing, or not the files of the checksum.
    Differs,
}

/// Whether the host copy in `dir` holds the files of `checksum`, and how
/// that was proven (see [`intact_fast`]).
pub fn copy_state(dir: &Path, checksum: &Checksum) -> anyhow::Result<CopyState> {
    if let Some((stats, ids)) = recorded(dir, checksum)
        && restat_copies(&[(dir, &stats)]) == [true]
    {
        return Ok(CopyState::Indexed(ids));
    }
    hashed(dir, checksum)
}

/// [`CopyState::Hashed`] or [`CopyState::Differs`], by hashing every file.
fn hashed(dir: &Path, checksum: &Checksum) -> anyhow::Result<CopyState> {
    Ok(if intact(dir, checksum)? {
        CopyState::Hashed
    } else {
        CopyState::Differs
    })
}

/// Host copies proven unchanged by their indexes all at once, before the
/// plugins are resolved one by one ([`prove_all`]): for each copy asked
/// about, `Some(ids)` when its index proved it, `None` when it did not.
#[derive(Debug, Default)]
pub struct Proven(std::collections::HashMap<(std::path::PathBuf, Checksum), Option<Ids>>);

/// The plugin ids an index recorded (`None` when it recorded none it could
/// read).
type Ids = Option<Vec<String>>;

impl Proven {
    /// [`copy_state`], from what [`prove_all`] found when it was asked
    /// about this copy: a copy its index proved is not stated again, one
    /// it did not is hashed at once.
    pub fn state(&self, dir: &Path, checksum: &Checksum) -> anyhow::Result<CopyState> {
        match self.0.get(&(dir.to_owned(), checksum.clone())) {
            Some(Some(ids)) => Ok(CopyState::Indexed(ids.clone())),
            Some(None) => hashed(dir, checksum),
            None => copy_state(dir, checksum),
        }
    }
}

/// Proves each of `copies` (a directory and the checksum its files must
/// have) unchanged by its index where it can, as [`copy_state`] does first,
/// with the stats of all the copies shared by a few threads: one large
/// copy does not wait behind many small ones, nor they behind it.
pub fn prove_all(copies: &[(std::path::PathBuf, Checksum)]) -> Proven {
    let indexes = in_parallel(
        copies,
        workers(copies.len(), COPIES_PER_WORKER),
        |(dir, sum)| recorded(dir, sum),
    );
    let candidates: Vec<(&Path, &str)> = copies
        .iter()
        .zip(&indexes)
        .filter_map(|((dir, _), index)| Some((dir.as_path(), index.as_ref()?.0.as_str())))
        .collect();
    let mut unchanged = restat_copies(&candidates).into_iter();
    let mut proven = std::collections::HashMap::new();
    for ((dir, sum), index) in copies.iter().zip(indexes) {
        let ids = match index {
            Some((_, ids)) => unchanged.next().unwrap_or(false).then_some(ids),
            None => None,
        };
        proven.insert((dir.clone(), sum.clone()), ids);
    }
    Proven(proven)
}

/// Copies below which reading their indexes from another thread costs
/// more than it saves.
const COPIES_PER_WORKER: usize = 64;

/// The stat lines and ids of the index of the copy in `dir`, when it is an
/// index for `checksum` in this format and the copy's top level holds the
/// names it records (bookkeeping aside).
fn recorded(dir: &Path, checksum: &Checksum) -> Option<(String, Ids)> {
    // Read bounded: the copy may be damaged or hostile. Too large to be
    // ours is no proof. Read into a buffer of the file's size: growing one
    // by doubling touches twice the memory, and fresh pages are most of
    // what reading a large index costs.
    let mut text = String::new();
    let file = std::fs::File::open(dir.join(INDEX_FILE)).ok()?;
    let size = file.metadata().ok()?.len();
    if size > MAX_INDEX_BYTES {
        return None;
    }
    text.try_reserve_exact(usize::try_from(size).ok()?.saturating_add(1))
        .ok()?;
    std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_INDEX_BYTES), &mut text)
        .ok()?;
    let (entries, index) = text
        .strip_prefix(&format!("{checksum}\n{INDEX_FORMAT} "))?
        .split_once('\n')?;
    // The proof states only what the index lists: an index that lost lines
    // (cut short, or damaged) must not prove the rest unchanged. It always
    // ends with the ids line and says how many stat lines it holds.
    let (stats, ids) = index.rsplit_once(IDS_LINE)?;
    if entries.parse::<usize>().ok()? != stats.lines().count() {
        return None;
    }
    let ids = serde_json::from_str(ids.trim_end()).ok();
    let mut recorded_top: Vec<&str> = stats
        .lines()
        .filter_map(|line| line.rsplit_once('\t'))
        .map(|(path, _)| path.strip_suffix('/').unwrap_or(path))
        .filter(|path| !path.contains('/'))
        .collect();
    recorded_top.sort_unstable();
    let mut top = Vec::new();
    for entry in std::fs::read_dir(dir).ok()? {
        let name = entry.ok()?.file_name().to_string_lossy().into_owned();
        if !IGNORED.contains(&name.as_str()) {
            top.push(name);
        }
    }
    top.sort_unstable();
    if top != recorded_top {
        return None;
    }
    // The stat lines, kept in the buffer they were read into.
    let start = text.len() - index.len();
    let end = start + stats.len();
    text.truncate(end);
    text.replace_range(..start, "");
    Some((text, ids))
}

/// Whether each of `copies` (a directory and its index's stat lines) still
/// stats as recorded, every line's path stated from a few threads shared
/// by all, as git's `core.preloadIndex` does: one `stat` at a time is most
/// of a no-op sync. A line that is not a path inside its copy (a damaged
/// index) proves nothing.
fn restat_copies(copies: &[(&Path, &str)]) -> Vec<bool> {
    let lines: Vec<(usize, &str)> = copies
        .iter()
        .enumerate()
        .flat_map(|(copy, (_, stats))| stats.lines().map(move |line| (copy, line)))
        .collect();
    let workers = workers(lines.len(), ENTRIES_PER_STAT_WORKER);
    // Each copy's directory opened once, its entries stated from there.
    let roots: Vec<Option<Root>> = copies.iter().map(|(dir, _)| Root::open(dir)).collect();
    // In chunks of lines, each thread reusing one line buffer.
    let chunks: Vec<&[(usize, &str)]> = lines.chunks(STAT_CHUNK).collect();
    let differing = in_parallel(&chunks, workers, |chunk| {
        let mut line = String::new();
        chunk
            .iter()
            .filter(|(copy, recorded)| {
                !roots
                    .get(*copy)
                    .and_then(Option::as_ref)
                    .is_some_and(|root| restats(root, recorded, &mut line))
            })
            .map(|(copy, _)| *copy)
            .collect::<Vec<usize>>()
    });
    let mut unchanged = vec![true; copies.len()];
    for copy in differing.into_iter().flatten() {
        if let Some(flag) = unchanged.get_mut(copy) {
            *flag = false;
        }
    }
    unchanged
}

/// Threads for `items` items when another thread pays for itself only
/// past `per_worker` of them: one per core at most.
fn workers(items: usize, per_worker: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(MAX_STAT_WORKERS)
        .min(items / per_worker)
        .max(1)
}

/// Lines a thread takes at a time.
const STAT_CHUNK: usize = 128;

/// `f` of each of `items`, in order, from `workers` threads each taking a
/// contiguous share (a panic in one is resumed here).
fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    if workers <= 1 {
        return items.iter().map(f).collect();
    }
    let share = items.len().div_ceil(workers).max(1);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(share)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// The most of an index file read: a tree's paths and a stat line for each
/// of its entries at their most (`git::MAX_ENTRIES`).
const MAX_INDEX_BYTES: u64 = 256 << 20;

/// Starts the index's second line, followed by the number of stat lines:
/// its entries include directories, so a copy is checked by stating the
/// recorded paths, without listing directories. An index without it
/// (written by an older sync) proves nothing.
const INDEX_FORMAT: &str = "format 2";

/// Starts the index's last line: the plugin ids of the crate, as JSON.
const IDS_LINE: &str = "ids\t";

/// The index of a host copy that holds the files with `checksum`: the
/// checksum, its format and number of entries, then one line per entry
/// with what `stat` says of it, then the plugin ids scanned in the copy's
/// crate.
pub fn index(dir: &Path, checksum: &Checksum, ids: &[String]) -> anyhow::Result<String> {
    let ids = serde_json::to_string(ids).context("failed to render the ids")?;
    let stats = stat_index(dir)?;
    let entries = stats.lines().count();
    Ok(format!(
        "{checksum}\n{INDEX_FORMAT} {entries}\n{stats}{IDS_LINE}{ids}\n"
    ))
}

/// `path size mtime ctime inode mode` of every file, symlink and directory
/// under `dir` (not followed; a directory's path ends with `/`), a line
/// each, sorted by path; empty where the platform cannot say.
fn stat_index(dir: &Path) -> anyhow::Result<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> anyhow::Result<()> {
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("failed to read {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("failed to read {}", dir.display()))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if prefix.is_empty() && IGNORED.contains(&name.as_ref()) {
                continue;
            }
            // Stated relative to the open directory, never followed.
            let meta = entry
                .metadata()
                .with_context(|| format!("failed to stat {}", entry.path().display()))?;
            let slash = if meta.is_dir() { "/" } else { "" };
            let mut line = format!("{prefix}{name}{slash}\t");
            stat_line(&mut line, &Stat::of(&meta));
            out.push(line);
            if meta.is_dir() {
                walk(&entry.path(), &format!("{prefix}{name}/"), out)?;
            }
        }
        Ok(())
    }
    let mut lines = Vec::new();
    walk(dir, "", &mut lines)?;
    lines.sort_unstable();
    let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for line in &lines {
        text.push_str(line);
        text.push('\n');
    }
    Ok(text)
}

/// Whether the entry an index line records, a path inside the copy at
/// `root`, stats as recorded (`line` is scratch space).
fn restats(root: &Root, recorded: &str, line: &mut String) -> bool {
    let Some((path, _)) = recorded.rsplit_once('\t') else {
        return false;
    };
    let (file, is_dir) = match path.strip_suffix('/') {
        Some(file) => (file, true),
        None => (path, false),
    };
    if !crate::lockfile::RelativePath::is_valid(file) {
        return false;
    }
    let Some(stat) = root.stat(file) else {
        return false;
    };
    if stat.is_dir != is_dir {
        return false;
    }
    line.clear();
    line.push_str(path);
    line.push('\t');
    stat_line(line, &stat);
    line == recorded
}

/// What an index line records of an entry.
struct Stat {
    size: u64,
    /// Seconds and nanoseconds.
    mtime: (i64, i64),
    ctime: (i64, i64),
    inode: u64,
    mode: u32,
    is_dir: bool,
}

impl Stat {
    #[cfg(unix)]
    fn of(meta: &std::fs::Metadata) -> Stat {
        use std::os::unix::fs::MetadataExt as _;
        Stat {
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            inode: meta.ino(),
            mode: meta.mode(),
            is_dir: meta.is_dir(),
        }
    }

    #[cfg(not(unix))]
    fn of(meta: &std::fs::Metadata) -> Stat {
        Stat {
            size: meta.len(),
            mtime: (0, 0),
            ctime: (0, 0),
            inode: 0,
            mode: 0,
            is_dir: meta.is_dir(),
        }
    }
}

/// A copy's directory, open: on Linux its entries are stated relative to
/// it (`statx` on the open directory), so the kernel walks only the path
/// inside the copy, not the host's path to it each time: that walk was a
/// third of a no-op sync's stat loop.
#[cfg(target_os = "linux")]
struct Root(rustix::fd::OwnedFd);

#[cfg(target_os = "linux")]
impl Root {
    /// `dir`, if it is a directory: opening anything else fails at once
    /// (a FIFO put in a copy's place would block a plain open).
    fn open(dir: &Path) -> Option<Root> {
        use rustix::fs::{Mode, OFlags};
        rustix::fs::open(
            dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()
        .map(Root)
    }

    /// The entry at `path` inside the copy, not followed if a symlink.
    fn stat(&self, path: &str) -> Option<Stat> {
        use rustix::fs::{AtFlags, FileType, StatxFlags};
        let stat = rustix::fs::statx(
            &self.0,
            path,
            AtFlags::SYMLINK_NOFOLLOW,
            StatxFlags::TYPE
                | StatxFlags::MODE
                | StatxFlags::INO
                | StatxFlags::SIZE
                | StatxFlags::MTIME
                | StatxFlags::CTIME,
        )
        .ok()?;
        let mode = u32::from(stat.stx_mode);
        Some(Stat {
            size: stat.stx_size,
            mtime: (stat.stx_mtime.tv_sec, i64::from(stat.stx_mtime.tv_nsec)),
            ctime: (stat.stx_ctime.tv_sec, i64::from(stat.stx_ctime.tv_nsec)),
            inode: stat.stx_ino,
            mode,
            is_dir: FileType::from_raw_mode(mode) == FileType::Directory,
        })
    }
}

/// A copy's directory, by path, elsewhere.
#[cfg(not(target_os = "linux"))]
struct Root(std::path::PathBuf);

#[cfg(not(target_os = "linux"))]
impl Root {
    fn open(dir: &Path) -> Option<Root> {
        Some(Root(dir.to_path_buf()))
    }

    /// The entry at `path` inside the copy, not followed if a symlink.
    fn stat(&self, path: &str) -> Option<Stat> {
        std::fs::symlink_metadata(self.0.join(path))
            .ok()
            .map(|meta| Stat::of(&meta))
    }
}

/// Threads stating copies at most, whatever the cores (git's preload uses
/// up to 20).
const MAX_STAT_WORKERS: usize = 8;

/// Entries below which another thread costs more than it saves.
const ENTRIES_PER_STAT_WORKER: usize = 256;

/// Appends `size mtime ctime inode mode` (`mtime` and `ctime` as
/// `seconds.nanoseconds`, `mode` in octal) to `line`. Written digit by
/// digit: formatting is a sixth of a no-op sync's stat loop through
/// `core::fmt`.
#[cfg(unix)]
fn stat_line(line: &mut String, stat: &Stat) {
    /// A signed count of seconds.
    fn seconds(line: &mut String, value: i64) {
        if value < 0 {
            line.push('-');
        }
        number::<10>(line, value.unsigned_abs());
    }
    number::<10>(line, stat.size);
    line.push(' ');
    seconds(line, stat.mtime.0);
    line.push('.');
    seconds(line, stat.mtime.1);
    line.push(' ');
    seconds(line, stat.ctime.0);
    line.push('.');
    seconds(line, stat.ctime.1);
    line.push(' ');
    number::<10>(line, stat.inode);
    line.push(' ');
    number::<8>(line, u64::from(stat.mode));
}

/// Appends `value` in base `RADIX` (2 to 10). The digits come out last
/// first, by division by a constant, which compiles to a multiplication:
/// dividing by a power of the radix held in a variable, as this did, was
/// the stat loop's hottest code in `perf`.
#[cfg(unix)]
fn number<const RADIX: u64>(line: &mut String, mut value: u64) {
    // u64::MAX has 22 digits in octal, 20 in decimal.
    let mut digits = [b'0'; 64];
    let mut len = 0;
    for digit in digits.iter_mut().rev() {
        // A remainder below the radix: one ASCII digit.
        *digit = b'0' + (value % RADIX) as u8;
        len += 1;
        value /= RADIX;
        if value == 0 {
            break;
        }
    }
    let start = digits.len() - len;
    // ASCII digits: always UTF-8.
    if let Some(Ok(text)) = digits.get(start..).map(std::str::from_utf8) {
        line.push_str(text);
    }
}

/// Without inodes and ctimes the index proves too little: always hash.
#[cfg(not(unix))]
fn stat_line(line: &mut String, _: &Stat) {
    line.push_str("unknown");
}

/// The checksum recorded in `plugins.lock`: `sha256:` + SHA-256 of the sums,
/// one `path kind:hash` line each, sorted by path.
pub fn digest(sums: &Sums) -> Checksum {
    let mut text = String::new();
    for (path, sum) in sums {
        writeln!(text, "{path} {sum}").expect("String write");
    }
    Checksum(format!("sha256:{}", sha256_hex(text.as_bytes())))
}

/// A plugin's content checksum: `sha256:` and 64 lowercase hex digits,
/// over the sorted `path kind:sha256` lines of its files ([`digest`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Checksum(String);

impl Checksum {
    /// `text` if it is a checksum as the lock writes it (lowercase only:
    /// another spelling would never match what [`digest`] computes).
    pub fn parse(text: &str) -> Option<Checksum> {
        text.strip_prefix("sha256:")
            .is_some_and(|hex| {
                hex.len() == 64
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            })
            .then(|| Checksum(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The paths whose sums differ between `expected` and `actual`, each with
/// what happened to it.
pub fn differences(expected: &Sums, actual: &Sums) -> Vec<String> {
    let mut out = Vec::new();
    for (path, sum) in expected {
        match actual.get(path) {
            None => out.push(format!("{path} (missing)")),
            Some(other) if other != sum => out.push(format!("{path} (modified)")),
            Some(_) => {}
        }
    }
    for path in actual.keys().filter(|p| !expected.contains_key(*p)) {
        out.push(format!("{path} (added)"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy as sync leaves it: files in nested directories, its index
    /// and marker at the top. Returns its directory and checksum.
    fn copy(case: &str, files: usize) -> (std::path::PathBuf, Checksum) {
        let dir = std::env::temp_dir().join(format!("plugin-index-{}-{case}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for n in 0..files {
            let file = dir.join(format!("src/m{}/f{n}.rs", n % 7));
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, format!("// file {n}\n")).unwrap();
        }
        std::fs::write(dir.join("Cargo.toml"), "[package]\n").unwrap();
        let checksum = digest(&sums(&dir).unwrap());
        let index = index(&dir, &checksum, &["alpha".to_owned()]).unwrap();
        std::fs::write(dir.join(INDEX_FILE), index).unwrap();
        std::fs::write(dir.join(COPY_MARKER), "").unwrap();
        (dir, checksum)
    }

    fn state(dir: &Path, checksum: &Checksum) -> CopyState {
        copy_state(dir, checksum).unwrap()
    }

    const INDEXED: CopyState = CopyState::Indexed(None);

    fn indexed() -> CopyState {
        CopyState::Indexed(Some(vec!["alpha".to_owned()]))
    }

    /// Untouched, the index proves the copy (and gives its ids) from
    /// stats alone, small or large enough to be stated from several
    /// threads; each kind of change is noticed and hashing decides.
    #[test]
    fn the_index_proves_an_untouched_copy_and_nothing_else() {
        for files in [3, 2_000] {
            let (dir, sum) = copy(&format!("untouched-{files}"), files);
            assert_eq!(state(&dir, &sum), indexed(), "{files} files");
            // Another checksum: the index is not for it.
            let other = digest(&Sums::new());
            assert_eq!(state(&dir, &other), CopyState::Differs);
            std::fs::remove_dir_all(&dir).unwrap();
        }
        type Change = fn(&Path);
        let changes: [(&str, Change, CopyState); 8] = [
            (
                "a file added in a subdirectory",
                |d| std::fs::write(d.join("src/m3/new.rs"), "").unwrap(),
                CopyState::Differs,
            ),
            (
                "a file added at the top",
                |d| std::fs::write(d.join("new.rs"), "").unwrap(),
                CopyState::Differs,
            ),
            (
                "a file removed",
                |d| std::fs::remove_file(d.join("src/m1/f1.rs")).unwrap(),
                CopyState::Differs,
            ),
            (
                "a directory added",
                |d| std::fs::create_dir(d.join("src/m2/deeper")).unwrap(),
                // An empty directory has no file: the sums are the same.
                CopyState::Hashed,
            ),
            (
                "an edit that keeps size and mtime",
                |d| {
                    let file = d.join("src/m0/f0.rs");
                    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
                    std::fs::write(&file, "// file X\n").unwrap();
                    let handle = std::fs::File::options().write(true).open(&file).unwrap();
                    handle.set_modified(mtime).unwrap();
                },
                CopyState::Differs,
            ),
            (
                "a file touched, its bytes the same",
                |d| {
                    let file = d.join("src/m0/f0.rs");
                    let handle = std::fs::File::options().write(true).open(&file).unwrap();
                    handle
                        .set_modified(std::time::SystemTime::UNIX_EPOCH)
                        .unwrap();
                },
                CopyState::Hashed,
            ),
            (
                "a directory moved away and a symlink to it left",
                |d| {
                    let moved = d.with_extension("moved");
                    std::fs::rename(d.join("src/m4"), &moved).unwrap();
                    std::os::unix::fs::symlink(&moved, d.join("src/m4")).unwrap();
                },
                // The symlink is a file of the copy now.
                CopyState::Differs,
            ),
            (
                "an index written by an older sync (no format line)",
                |d| {
                    let text = std::fs::read_to_string(d.join(INDEX_FILE)).unwrap();
                    let format = text.lines().nth(1).unwrap();
                    let old = text.replacen(&format!("\n{format}\n"), "\n", 1);
                    std::fs::write(d.join(INDEX_FILE), old).unwrap();
                },
                CopyState::Hashed,
            ),
        ];
        for (n, (what, change, expected)) in changes.into_iter().enumerate() {
            let (dir, sum) = copy(&format!("change-{n}"), 40);
            change(&dir);
            assert_eq!(state(&dir, &sum), expected, "{what}");
            assert_eq!(
                intact_fast(&dir, &sum).unwrap(),
                expected != CopyState::Differs
            );
            let _ = std::fs::remove_dir_all(dir.with_extension("moved"));
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// Proving many copies at once finds what proving each alone finds:
    /// untouched copies proven by their indexes (large or small), a
    /// changed one hashed and found changed, a touched one hashed and
    /// found intact, a missing one missing; a copy it was not asked about
    /// is checked on its own.
    #[test]
    fn copies_proven_together_are_proven_as_alone() {
        let copies: Vec<(std::path::PathBuf, Checksum)> = [
            ("all-big", 1_500),
            ("all-small", 2),
            ("all-edited", 30),
            ("all-touched", 30),
            ("all-missing", 3),
        ]
        .into_iter()
        .map(|(case, files)| copy(case, files))
        .collect();
        let [big, small, edited, touched, missing] = [0, 1, 2, 3, 4].map(|i| &copies[i]);
        std::fs::write(edited.0.join("src/m2/f2.rs"), "// edited\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(touched.0.join("Cargo.toml"))
            .unwrap()
            .set_modified(std::time::SystemTime::UNIX_EPOCH)
            .unwrap();
        std::fs::remove_dir_all(&missing.0).unwrap();
        let (unasked, unasked_sum) = copy("all-unasked", 4);
        let proven = prove_all(&copies);
        let state = |(dir, sum): &(std::path::PathBuf, Checksum)| proven.state(dir, sum).unwrap();
        assert_eq!(state(big), indexed());
        assert_eq!(state(small), indexed());
        assert_eq!(state(edited), CopyState::Differs);
        assert_eq!(state(touched), CopyState::Hashed);
        assert_eq!(state(missing), CopyState::Differs);
        assert_eq!(state(&(unasked.clone(), unasked_sum)), indexed());
        for (dir, _) in copies.iter().chain([&(unasked, digest(&Sums::new()))]) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// The digit-by-digit formatting says what `format!` says, at the ends
    /// of the range and in both radixes.
    #[cfg(unix)]
    #[test]
    fn numbers_are_written_as_formatting_writes_them() {
        for value in [
            0,
            1,
            7,
            8,
            9,
            10,
            99,
            100,
            511,
            512,
            1_000_000_007,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut line = String::new();
            number::<10>(&mut line, value);
            line.push(' ');
            number::<8>(&mut line, value);
            assert_eq!(line, format!("{value} {value:o}"));
        }
    }

    /// The stat line is written digit by digit: it must say what
    /// formatting the numbers says, before the epoch too; and an entry
    /// stated relative to its open copy (how a no-op proves it) must give
    /// the line the index was written with, for a file, a directory, a
    /// symlink (not followed) and the copy itself.
    #[test]
    fn stat_lines_say_what_formatting_says() {
        use std::os::unix::fs::MetadataExt as _;
        let (dir, _) = copy("stat-line", 1);
        let file = dir.join("Cargo.toml");
        std::os::unix::fs::symlink("Cargo.toml", dir.join("link")).unwrap();
        let root = Root::open(&dir).unwrap();
        let handle = std::fs::File::options().write(true).open(&file).unwrap();
        for time in [
            std::time::SystemTime::UNIX_EPOCH,
            std::time::SystemTime::UNIX_EPOCH - std::time::Duration::new(86_400, 250),
            std::time::SystemTime::UNIX_EPOCH
                + std::time::Duration::new(4_102_444_800, 999_999_999),
        ] {
            handle.set_modified(time).unwrap();
            for (relative, path) in [
                ("Cargo.toml", &file),
                ("src", &dir.join("src")),
                ("link", &dir.join("link")),
                (".", &dir),
            ] {
                let meta = std::fs::symlink_metadata(path).unwrap();
                let mut line = String::new();
                stat_line(&mut line, &Stat::of(&meta));
                let mut relatively = String::new();
                let stat = root.stat(relative).unwrap();
                assert_eq!(stat.is_dir, meta.is_dir(), "{relative}");
                stat_line(&mut relatively, &stat);
                assert_eq!(relatively, line, "{relative}");
                let formatted = format!(
                    "{} {}.{} {}.{} {} {:o}",
                    meta.size(),
                    meta.mtime(),
                    meta.mtime_nsec(),
                    meta.ctime(),
                    meta.ctime_nsec(),
                    meta.ino(),
                    meta.mode()
                );
                assert_eq!(line, formatted, "{}", path.display());
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A copy replaced by something that is not a directory proves nothing,
    /// and opening it does not wait: a FIFO would block a plain open for
    /// reading until a writer came.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_copy_that_is_not_a_directory_is_refused_without_blocking() {
        let (dir, _) = copy("not-a-directory", 1);
        let fifo = dir.join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let file = dir.join("Cargo.toml");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let opened = [&fifo, &file].map(|path| Root::open(path).is_some());
            let _ = sender.send(opened);
        });
        let opened = receiver
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("opening a FIFO as a copy blocked");
        assert_eq!(opened, [false, false]);
        assert!(Root::open(&dir).is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A damaged or hostile index proves nothing: a path outside the copy,
    /// a line without stats, a truncated index, ids that are not JSON.
    #[test]
    fn a_damaged_index_proves_nothing() {
        let (dir, sum) = copy("damaged", 10);
        let text = std::fs::read_to_string(dir.join(INDEX_FILE)).unwrap();
        let outside = dir.parent().unwrap().join("outside-file");
        std::fs::write(&outside, "").unwrap();
        let ids_line = text.rfind("ids\t").unwrap();
        let src_line = text.find("\nsrc/m3/f3.rs\t").unwrap() + 1;
        let next_line = src_line + text.get(src_line..).unwrap().find('\n').unwrap() + 1;
        let damaged = [
            // Cut short at a line: the ids line is gone.
            text.get(..ids_line).unwrap().to_owned(),
            // A stat line lost in the middle (its file could be edited
            // unseen): the count disagrees.
            format!(
                "{}{}",
                text.get(..src_line).unwrap(),
                text.get(next_line..).unwrap()
            ),
            // The count damaged.
            text.replacen("format 2 ", "format 2 x", 1),
            text.replacen(&format!("\n{INDEX_FORMAT} "), "\n", 1),
            text.replacen("Cargo.toml\t", "../outside-file\t", 1),
            text.replacen("Cargo.toml\t", "/etc/hostname\t", 1),
            text.replacen("Cargo.toml\t", "Cargo.toml ", 1),
            text.get(..text.len() / 2).unwrap().to_owned(),
        ];
        for (n, index) in damaged.iter().enumerate() {
            std::fs::write(dir.join(INDEX_FILE), index).unwrap();
            assert_eq!(state(&dir, &sum), CopyState::Hashed, "damage {n}");
        }
        let bad_ids = text.replace("ids\t[\"alpha\"]", "ids\t[alpha");
        std::fs::write(dir.join(INDEX_FILE), bad_ids).unwrap();
        assert_eq!(
            state(&dir, &sum),
            INDEXED,
            "stats prove it; ids are scanned"
        );
        std::fs::remove_file(outside).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
