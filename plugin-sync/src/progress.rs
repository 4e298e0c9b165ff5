//! What a sync shows on stderr while it works: on a terminal, a live bar
//! per repository being fetched (objects and bytes received, like cargo's
//! "Updating git repository") and status lines; when stderr is not a
//! terminal, one plain line per fetch when it ends; nothing with `-q`.
//! Every line passes through [`crate::secret::redact`].

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gix::progress::{Id, MessageLevel, Step, StepShared, Unit};
use indicatif::{MultiProgress, ProgressBar, ProgressState, ProgressStyle};

use crate::secret;

/// How often a bar is redrawn.
const TICK: Duration = Duration::from_millis(100);

/// gix's progress ids for bytes of the pack read, and objects indexed.
const PACK_BYTES: Id = *b"BWRB";
const OBJECTS: Id = *b"IWIO";

/// How long each phase of one sync took, printed to stderr at its end
/// when `__PLUGIN_SYNC_TIMINGS` is set (for `cargo xtask bench`, which
/// reports the parts of a no-op sync; not an interface for users).
#[derive(Debug)]
pub struct Timings {
    /// When the last phase ended; `None` when nobody asked.
    last: Option<Instant>,
    laps: Vec<(&'static str, Duration)>,
}

impl Timings {
    pub fn from_env() -> Timings {
        Timings {
            last: std::env::var_os("__PLUGIN_SYNC_TIMINGS").map(|_| Instant::now()),
            laps: Vec::new(),
        }
    }

    /// Records that `phase` ended now.
    pub fn lap(&mut self, phase: &'static str) {
        if let Some(last) = &mut self.last {
            let now = Instant::now();
            self.laps.push((phase, now - *last));
            *last = now;
        }
    }

    /// `timing: PHASE MICROSECONDS`, one line per phase, then `memory:
    /// peak KIB`, the process's own peak resident set (where the system
    /// says: the benchmark's `wait4` counts cargo's too).
    pub fn print(&self) {
        if self.last.is_none() {
            return;
        }
        for (phase, took) in &self.laps {
            errln!("timing: {phase} {}", took.as_micros());
        }
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if let Some(peak) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|kib| kib.trim().strip_suffix(" kB"))
        {
            errln!("memory: peak {}", peak.trim());
        }
    }
}

#[derive(Debug, Clone)]
pub struct Progress {
    mode: Mode,
}

#[derive(Debug, Clone)]
enum Mode {
    Quiet,
    Plain,
    Bars(MultiProgress),
}

impl Progress {
    /// Bars when stderr is a terminal, plain lines otherwise, nothing when
    /// `quiet`.
    pub fn new(quiet: bool) -> Progress {
        use std::io::IsTerminal as _;
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars(MultiProgress::new())
        } else {
            Mode::Plain
        };
        Progress { mode }
    }

    /// A cargo-style status line (`    Removed …`), shown on a terminal only.
    pub fn status(&self, what: &str, message: &str) {
        if let Mode::Bars(bars) = &self.mode {
            let line = format!("{what:>12} {}", secret::redact(message));
            // Printed with the bars out of the way, so they are not torn.
            bars.suspend(|| errln!("{line}"));
        }
    }

    /// Starts showing the fetch of `label` (the plugin, its bare URL and
    /// reference).
    pub fn fetch(&self, label: &str) -> Fetching {
        let label = secret::redact(label).into_owned();
        let nodes = Nodes::default();
        let bar = match &self.mode {
            Mode::Bars(bars) => {
                let counts = nodes.clone();
                let style = ProgressStyle::with_template("{prefix:>12.cyan.bold} {msg} {received}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner())
                    .with_key(
                        "received",
                        move |_: &ProgressState, out: &mut dyn std::fmt::Write| {
                            let _ = out.write_str(&counts.bar());
                        },
                    );
                let bar = ProgressBar::no_length()
                    .with_style(style)
                    .with_prefix("Fetching")
                    .with_message(label.clone());
                let bar = bars.add(bar);
                bar.enable_steady_tick(TICK);
                Some(bar)
            }
            Mode::Plain | Mode::Quiet => None,
        };
        Fetching {
            label,
            started: Instant::now(),
            nodes,
            bar,
            mode: self.mode.clone(),
        }
    }
}

/// One fetch being shown.
#[derive(Debug)]
pub struct Fetching {
    label: String,
    started: Instant,
    nodes: Nodes,
    bar: Option<ProgressBar>,
    mode: Mode,
}

impl Fetching {
    /// What gix reports the fetch's progress to.
    pub fn tracker(&self) -> Tracker {
        self.nodes.add(gix::progress::UNKNOWN)
    }

    /// Runs `f` with the bars hidden (git may prompt on the terminal).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.mode {
            Mode::Bars(bars) => bars.suspend(f),
            Mode::Plain | Mode::Quiet => f(),
        }
    }

    /// Ends the bar; after a fetch that worked, leaves one line saying what
    /// was received (`with` names the fetcher when it reports no counts).
    pub fn finish(self, ok: bool, with: &str) {
        if let Some(bar) = &self.bar {
            if ok {
                // The finished bar is drawn once, whatever the redraw rate
                // allowed before, then cleared for the summary line.
                bar.finish();
            }
            bar.finish_and_clear();
        }
        if !ok {
            return;
        }
        let took = self.started.elapsed().as_secs_f64();
        let line = match self.nodes.totals() {
            Some((objects, bytes)) => format!(
                "{:>12} {}: {objects} objects, {} in {took:.2}s",
                "Fetched",
                self.label,
                human_bytes(bytes)
            ),
            None => format!("{:>12} {} {with} in {took:.2}s", "Fetched", self.label),
        };
        match &self.mode {
            Mode::Bars(bars) => bars.suspend(|| errln!("{line}")),
            Mode::Plain => errln!("{line}"),
            Mode::Quiet => {}
        }
    }
}

fn human_bytes(bytes: usize) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = "B";
    for next in UNITS {
        unit = next;
        if value < 1024.0 || next == "GiB" {
            break;
        }
        value /= 1024.0;
    }
    if unit == "B" {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {unit}")
    }
}

/// Every progress node gix created for one fetch.
#[derive(Debug, Clone, Default)]
struct Nodes(Arc<Mutex<Vec<Node>>>);

#[derive(Debug)]
struct Node {
    id: Id,
    step: StepShared,
    max: Option<Step>,
}

impl Nodes {
    fn add(&self, id: Id) -> Tracker {
        let step = StepShared::default();
        let mut nodes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        nodes.push(Node {
            id,
            step: Arc::clone(&step),
            max: None,
        });
        Tracker {
            nodes: self.clone(),
            index: nodes.len().saturating_sub(1),
            id,
            step,
        }
    }

    /// Objects indexed (of how many, when known) and pack bytes read, once
    /// a pack arrives.
    fn counts(&self) -> Option<(Step, Option<Step>, Step)> {
        let nodes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut objects = None;
        let mut bytes = None;
        for node in nodes.iter() {
            let step = node.step.load(Ordering::Relaxed);
            if node.id == OBJECTS {
                objects = Some((step, node.max));
            } else if node.id == PACK_BYTES {
                bytes = Some(bytes.unwrap_or(0) + step);
            }
        }
        let (objects, total) = objects.unwrap_or((0, None));
        bytes.map(|bytes| (objects, total, bytes))
    }

    fn totals(&self) -> Option<(Step, Step)> {
        self.counts()
            .map(|(objects, total, bytes)| (total.unwrap_or(objects).max(objects), bytes))
    }

    /// `[=======>      ] 120/300 objects, 1.2 MiB`, or what is happening.
    fn bar(&self) -> String {
        const WIDTH: usize = 25;
        let Some((objects, total, bytes)) = self.counts() else {
            return "connecting…".to_owned();
        };
        let filled = match total {
            Some(total) if total > 0 => (objects.min(total) * WIDTH) / total,
            _ => 0,
        };
        let mut bar = "=".repeat(filled);
        if filled < WIDTH {
            bar.push('>');
            bar.push_str(&" ".repeat(WIDTH - filled - 1));
        }
        let total = total.map_or_else(|| "?".to_owned(), |t| t.to_string());
        format!("[{bar}] {objects}/{total} objects, {}", human_bytes(bytes))
    }
}

/// A gix progress node: counts into shared atomics that the bar reads.
#[derive(Debug)]
pub struct Tracker {
    nodes: Nodes,
    index: usize,
    id: Id,
    step: StepShared,
}

impl gix::progress::Count for Tracker {
    fn set(&self, step: Step) {
        self.step.store(step, Ordering::Relaxed);
    }

    fn step(&self) -> Step {
        self.step.load(Ordering::Relaxed)
    }

    fn inc_by(&self, step: Step) {
        self.step.fetch_add(step, Ordering::Relaxed);
    }

    fn counter(&self) -> StepShared {
        Arc::clone(&self.step)
    }
}

impl gix::progress::Progress for Tracker {
    fn init(&mut self, max: Option<Step>, _unit: Option<Unit>) {
        self.step.store(0, Ordering::Relaxed);
        let mut nodes = self.nodes.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(node) = nodes.get_mut(self.index) {
            node.max = max;
        }
    }

    fn set_name(&mut self, _name: String) {}

    fn name(&self) -> Option<String> {
        None
    }

    fn id(&self) -> Id {
        self.id
    }

    fn message(&self, _level: MessageLevel, _message: String) {}
}

impl gix::progress::NestedProgress for Tracker {
    type SubProgress = Tracker;

    fn add_child(&mut self, _name: impl Into<String>) -> Tracker {
        self.nodes.add(gix::progress::UNKNOWN)
    }

    fn add_child_with_id(&mut self, _name: impl Into<String>, id: Id) -> Tracker {
        self.nodes.add(id)
    }
}

#[cfg(test)]
mod tests {
    use gix::progress::{Count as _, NestedProgress as _, Progress as _};

    use super::{Nodes, OBJECTS, PACK_BYTES, human_bytes};

    #[test]
    fn the_bar_reads_objects_and_bytes_from_gix_nodes() {
        let nodes = Nodes::default();
        let mut root = nodes.add(gix::progress::UNKNOWN);
        assert_eq!(nodes.bar(), "connecting…");
        let mut objects = root.add_child_with_id("index", OBJECTS);
        let bytes = root.add_child_with_id("read pack", PACK_BYTES);
        objects.init(Some(300), None);
        objects.inc_by(120);
        bytes
            .counter()
            .fetch_add(1_258_291, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(
            nodes.bar(),
            "[==========>              ] 120/300 objects, 1.2 MiB"
        );
        assert_eq!(nodes.totals(), Some((300, 1_258_291)));
    }

    #[test]
    fn bytes_are_shown_in_binary_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}
