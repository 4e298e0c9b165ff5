//! Registry benchmark: building a registry from 10, 100 and 1,000
//! registrations and looking plugins up by id, next to a bare walk of
//! `inventory::iter` (the floor: what collecting registrations costs at all).
//!
//! `cargo bench -p plugin-api --bench registry` prints medians; BENCHMARKS.md
//! records them. A plain harness (median of many timed runs) keeps the test
//! suite free of criterion's dependencies.

use std::hint::black_box;
use std::time::{Duration, Instant};

use plugin_api::__private::{PluginDescriptor, inventory};
use plugin_api::{Plugin, PluginSet, Registrar, Registry};

#[derive(Default)]
struct Bench;

impl Plugin for Bench {
    fn register(&self, registrar: &mut Registrar<'_>) {
        let id = registrar.plugin();
        registrar.add::<&'static str>(id, id);
    }
}

fn create() -> Box<dyn Plugin> {
    Box::new(Bench)
}

macro_rules! submit_hundreds {
    ($($a:literal)*) => { $( submit_tens!($a; 0 1 2 3 4 5 6 7 8 9); )* };
}
macro_rules! submit_tens {
    ($a:literal; $($b:literal)*) => { $( submit_ones!($a $b; 0 1 2 3 4 5 6 7 8 9); )* };
}
macro_rules! submit_ones {
    ($a:literal $b:literal; $($c:literal)*) => {
        $(
            inventory::submit! {
                PluginDescriptor {
                    id: concat!("p", $a, $b, $c),
                    description: "",
                    version: "1.0.0",
                    crate_name: "bench",
                    depends_on: &[],
                    api_version: plugin_api::API_VERSION,
                    create,
                    config: None,
                }
            }
        )*
    };
}

// 1,000 registrations, as 1,000 plugins linked into one binary would make.
submit_hundreds!(0 1 2 3 4 5 6 7 8 9);

static SET: PluginSet = PluginSet {
    lock_digest: "sha256:0",
    declared: &[],
    entries: &[],
    stamp: "",
};

/// Median time of one call of `f`, over `samples` samples of `iterations`
/// calls each. What `f` returns is dropped after the clock stops: a registry
/// lives as long as the process, so its drop is not start-up cost.
fn median<T>(samples: usize, iterations: u32, mut f: impl FnMut() -> T) -> Duration {
    let mut times: Vec<Duration> = (0..samples)
        .map(|_| {
            let mut kept = Vec::with_capacity(iterations as usize);
            let start = Instant::now();
            for _ in 0..iterations {
                kept.push(black_box(f()));
            }
            let elapsed = start.elapsed() / iterations;
            drop(kept);
            elapsed
        })
        .collect();
    times.sort();
    times[samples / 2]
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent, and the test
    // suite's `cargo xtask bench --quick` sets REGISTRY_BENCH_QUICK: one
    // quick pass.
    let quick = !std::env::args().any(|a| a == "--bench")
        || std::env::var_os("REGISTRY_BENCH_QUICK").is_some();
    let (samples, iterations) = if quick { (3, 1) } else { (101, 20) };
    let all: Vec<&'static PluginDescriptor> =
        inventory::iter::<PluginDescriptor>.into_iter().collect();
    assert_eq!(all.len(), 1000, "every registration is linked");

    let walk = median(samples, iterations, || {
        inventory::iter::<PluginDescriptor>.into_iter().count()
    });
    println!("{:<44} {:>12}", "benchmark", "median");
    println!(
        "{:<44} {:>12.2?}",
        "inventory::iter walk, 1000 registrations", walk
    );
    for n in [10, 100, 1000] {
        let subset = &all[..n];
        let time = median(samples, iterations, || {
            Registry::builder(&SET)
                .build_from(subset.iter().copied())
                .expect("registry builds")
        });
        println!(
            "{:<44} {:>12.2?}",
            format!("Registry build, {n} registrations"),
            time
        );
    }
    let linked = median(samples, iterations, || {
        Registry::build(&SET).expect("registry builds")
    });
    println!(
        "{:<44} {:>12.2?}  ({:.0}x the walk)",
        "Registry::build (linked), 1000",
        linked,
        linked.as_secs_f64() / walk.as_secs_f64()
    );
    let registry = Registry::build(&SET).expect("registry builds");
    let ids: Vec<&str> = all.iter().map(|d| d.id).collect();
    let lookup = median(samples, iterations, || {
        for id in &ids {
            black_box(registry.plugin(id));
        }
    });
    println!(
        "{:<44} {:>12.2?}",
        "lookup by id (per lookup, 1000 plugins)",
        lookup / 1000
    );
}
