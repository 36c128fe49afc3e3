//! Name mapping per call: `NameMap::resolve` (the exposed name a model
//! called back to its `(provider, tool)` pair) for a 1,000-tool catalog,
//! against a plain `HashMap<String, String>` lookup of the same names, in
//! one run. Also shown: the forward lookup `NameMap::exposed`, and what
//! building the map of the catalog costs once.
//!
//! `cargo bench -p connector-agent --bench names`. Prints ns per lookup for
//! each and the ratio resolve / baseline (medians over rounds).

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use connector_agent::names::NameMap;

/// Lookups per measurement: every name of the catalog, this many times.
const PASSES: usize = 1_000;
/// Rounds; each measures every variant back to back, in rotating order,
/// so the per-round ratios cancel slow drifts in the machine's load.
const ROUNDS: usize = 15;

/// 1,000 tools as a catalog has them: 20 providers of 50 tools; our own
/// `verb_noun` names, MCP names with dots and slashes, and a few long
/// names that get a hash suffix.
fn catalog() -> Vec<(String, String)> {
    let verbs = ["list", "get", "create", "update", "delete"];
    let nouns = [
        "messages", "channels", "users", "files", "events", "issues", "pages", "comments",
        "labels", "projects",
    ];
    let mut pairs = Vec::with_capacity(1_000);
    for p in 0..20 {
        let provider = if p % 4 == 3 {
            format!("mcp server {p}")
        } else {
            format!("provider{p}")
        };
        for (i, (verb, noun)) in verbs
            .iter()
            .flat_map(|v| nouns.iter().map(move |n| (v, n)))
            .enumerate()
        {
            let tool = match (p % 4, i % 10) {
                (3, _) => format!("{noun}.{verb}"),
                (_, 9) => format!("{verb}_{noun}_with_all_of_their_expanded_fields_and_history"),
                _ => format!("{verb}_{noun}"),
            };
            pairs.push((provider.clone(), tool));
        }
    }
    pairs
}

#[derive(Clone, Copy)]
enum Which {
    Resolve,
    Exposed,
    Baseline,
}

/// Nanoseconds per lookup.
fn measure(
    which: Which,
    map: &NameMap,
    baseline: &HashMap<String, String>,
    calls: &[String],
    pairs: &[(String, String)],
) -> f64 {
    let started = Instant::now();
    let mut found = 0usize;
    for _ in 0..PASSES {
        match which {
            Which::Resolve => {
                for name in calls {
                    found += usize::from(black_box(map.resolve(black_box(name))).is_some());
                }
            }
            Which::Exposed => {
                for (p, t) in pairs {
                    found +=
                        usize::from(black_box(map.exposed(black_box(p), black_box(t))).is_some());
                }
            }
            Which::Baseline => {
                for name in calls {
                    found +=
                        usize::from(black_box(baseline.get(black_box(name.as_str()))).is_some());
                }
            }
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(found, PASSES * calls.len(), "every lookup finds its name");
    elapsed.as_nanos() as f64 / (PASSES * calls.len()) as f64
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let pairs = catalog();

    // Building the map, once per catalog.
    let mut builds = Vec::new();
    let mut map = NameMap::default();
    for _ in 0..ROUNDS {
        let started = Instant::now();
        map = NameMap::build(pairs.iter().cloned());
        builds.push(started.elapsed());
    }
    builds.sort();
    let build = builds[builds.len() / 2];
    assert_eq!(map.len(), 1_000);

    // The names a model calls, in an order unlike the catalog's.
    let mut calls: Vec<String> = map.iter().map(|(_, n)| n.to_owned()).collect();
    calls.sort_by_key(|n| n.bytes().rev().collect::<Vec<u8>>());
    let hashed = calls.iter().filter(|n| n.len() == 64).count();
    let baseline: HashMap<String, String> = map
        .iter()
        .map(|(original, exposed)| (exposed.to_owned(), original.to_string()))
        .collect();

    println!(
        "Name mapping: NameMap::resolve vs HashMap<String, String>::get, same names, same run"
    );
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "{cpus} CPUs; catalog of {} tools ({hashed} with a hash suffix); {} lookups per measurement; medians of {ROUNDS} rounds (ratio: median of per-round ratios)",
        map.len(),
        PASSES * calls.len()
    );
    println!("NameMap::build of the catalog: {:.1?} (median)", build);

    let all = [Which::Resolve, Which::Exposed, Which::Baseline];
    for which in all {
        measure(which, &map, &baseline, &calls, &pairs); // warm-up
    }
    let mut ns = [Vec::new(), Vec::new(), Vec::new()];
    let mut ratios = Vec::new();
    for round in 0..ROUNDS {
        let mut this = [0.0; 3];
        for k in 0..all.len() {
            let i = (round + k) % all.len();
            this[i] = measure(all[i], &map, &baseline, &calls, &pairs);
            ns[i].push(this[i]);
        }
        ratios.push(this[0] / this[2]);
    }
    let [resolve, exposed, base] = ns.map(median);
    println!(
        "resolve {resolve:.1} ns/lookup | exposed {exposed:.1} ns/lookup | baseline HashMap::get {base:.1} ns/lookup | resolve/baseline {:.2}",
        median(ratios)
    );
}
