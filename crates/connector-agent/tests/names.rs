//! Exposed tool names: valid in every dialect, mapped back exactly, stable.

use std::collections::HashSet;

use connector_agent::names::{MAX_NAME_LEN, NameMap, is_valid_in_every_dialect};

/// SplitMix64: a tiny deterministic generator, so the random catalogs are
/// the same on every run without a `rand` dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// Characters tool names are made of in the wild: mostly valid ones, and
/// the dots, slashes, spaces, colons and Unicode of MCP servers.
const ALPHABET: &[char] = &[
    'a', 'b', 'c', 'd', 'e', 'x', 'y', 'z', 'A', 'Q', '0', '7', '_', '_', '-', '.', '/', ' ', ':',
    'é', 'ß', '日', '本', '🙂', '\u{200b}',
];

fn word(rng: &mut Rng, max_len: usize) -> String {
    let len = rng.below(max_len + 1);
    (0..len)
        .map(|_| ALPHABET[rng.below(ALPHABET.len())])
        .collect()
}

/// 10,000 pairs: plain ones, random ones over [`ALPHABET`], long ones
/// sharing a 70-character prefix (so that only the hash tells them apart),
/// and pairs built to collide after sanitising (`a.b` / `a_b` / `a b`).
fn catalog(seed: u64) -> Vec<(String, String)> {
    let mut rng = Rng(seed);
    let providers = [
        "slack",
        "github",
        "google",
        "my mcp",
        "2fa",
        "",
        "Ünïcode",
        "a_b",
    ];
    let mut pairs = Vec::with_capacity(10_000);
    for i in 0..10_000 {
        let provider = providers[rng.below(providers.len())].to_owned();
        let tool = match i % 4 {
            0 => format!("tool_{i}"),
            1 => word(&mut rng, 20),
            2 => format!("{}{}", "very_long_tool_name_".repeat(3), word(&mut rng, 12)),
            _ => {
                let sep = ['.', '_', ' ', '/', 'é'][rng.below(5)];
                format!("get{sep}item{}", rng.below(40))
            }
        };
        pairs.push((provider, tool));
    }
    pairs
}

fn check_round_trip(pairs: &[(String, String)]) -> NameMap {
    let map = NameMap::build(pairs.iter().cloned());
    let distinct: HashSet<&(String, String)> = pairs.iter().collect();
    assert_eq!(map.len(), distinct.len());
    let mut seen = HashSet::new();
    for (provider, tool) in pairs {
        let exposed = map
            .exposed(provider, tool)
            .unwrap_or_else(|| panic!("no name for {provider:?}/{tool:?}"));
        assert!(
            is_valid_in_every_dialect(exposed),
            "{exposed:?} for {provider:?}/{tool:?}"
        );
        let back = map.resolve(exposed).expect("resolves");
        assert_eq!((&back.provider, &back.tool), (provider, tool));
        seen.insert(exposed.to_owned());
    }
    assert_eq!(seen.len(), distinct.len(), "exposed names are unique");
    map
}

#[test]
fn ten_thousand_random_pairs_round_trip_exactly() {
    let pairs = catalog(0x5EED);
    let map = check_round_trip(&pairs);
    // The generator did produce what the test is about.
    let hashed = map.iter().filter(|(_, n)| n.len() == MAX_NAME_LEN).count();
    assert!(hashed > 1_000, "{hashed} hashed names");
    assert!(pairs.iter().any(|(_, t)| !t.is_ascii()));
}

#[test]
fn names_valid_everywhere_are_exposed_unchanged() {
    let map = NameMap::build([
        ("slack".to_owned(), "send_message".to_owned()),
        ("google".to_owned(), "gmail_search".to_owned()),
        ("jira".to_owned(), "Create-Issue".to_owned()),
    ]);
    assert_eq!(
        map.exposed("slack", "send_message"),
        Some("slack_send_message")
    );
    assert_eq!(
        map.exposed("google", "gmail_search"),
        Some("google_gmail_search")
    );
    assert_eq!(
        map.exposed("jira", "Create-Issue"),
        Some("jira_Create-Issue")
    );
    assert_eq!(map.exposed("slack", "nope"), None);
    assert_eq!(map.exposed("nope", "send_message"), None);
    assert!(map.resolve("SLACK_SEND_MESSAGE").is_none());
    assert!(map.resolve("").is_none());
}

#[test]
fn invalid_characters_are_replaced_and_mapped_back() {
    let map = NameMap::build([
        ("github".to_owned(), "issues.create".to_owned()),
        ("my server".to_owned(), "ファイルを読む".to_owned()),
        ("2fa".to_owned(), "verify code".to_owned()),
    ]);
    assert_eq!(
        map.exposed("github", "issues.create"),
        Some("github_issues_create")
    );
    assert_eq!(
        map.exposed("my server", "ファイルを読む"),
        Some("my_server________")
    );
    assert_eq!(map.exposed("2fa", "verify code"), Some("_2fa_verify_code"));
    let back = map.resolve("my_server________").unwrap();
    assert_eq!(back.tool, "ファイルを読む");
}

#[test]
fn validity_follows_the_intersection_of_every_dialect() {
    for ok in [
        "a",
        "_",
        "A_b-c",
        "_private",
        "x0",
        &"a".repeat(MAX_NAME_LEN),
    ] {
        assert!(is_valid_in_every_dialect(ok), "{ok}");
    }
    for bad in [
        "",
        "0abc",                        // Gemini: must start with a letter or `_`
        "-abc",                        // Gemini, likewise
        "a.b",                         // OpenAI and Anthropic reject dots
        "a:b",                         // and colons
        "a/b",                         // and slashes (MCP's SEP-986 allowed them once)
        "a b",                         // spaces: nowhere
        "é",                           // ASCII only
        &"a".repeat(MAX_NAME_LEN + 1), // 64 at most
    ] {
        assert!(!is_valid_in_every_dialect(bad), "{bad}");
    }
}

#[test]
fn long_names_get_a_stable_hash_suffix() {
    // Snapshot: the suffix is the first 8 hex digits of
    // SHA-256("atlassian\0confluence_search_..."), checked with
    // `printf 'atlassian\0confluence_...' | sha256sum`. It must never
    // change: agents store tool names in conversation histories.
    let tool = "confluence_search_pages_by_cql_query_with_expanded_body_and_ancestors";
    let map = NameMap::build([("atlassian".to_owned(), tool.to_owned())]);
    let name = map.exposed("atlassian", tool).unwrap();
    assert_eq!(
        name,
        "atlassian_confluence_search_pages_by_cql_query_with_exp_af62116c"
    );
    assert_eq!(name.len(), MAX_NAME_LEN);
    assert_eq!(map.resolve(name).unwrap().tool, tool);
}

#[test]
fn collisions_after_sanitising_get_a_stable_hash_suffix() {
    let map = NameMap::build([
        ("srv".to_owned(), "get_user".to_owned()),
        ("srv".to_owned(), "get.user".to_owned()),
    ]);
    // The name that was valid as given keeps it.
    assert_eq!(map.exposed("srv", "get_user"), Some("srv_get_user"));
    // SHA-256("srv\0get.user") starts with 22b441b2.
    assert_eq!(
        map.exposed("srv", "get.user"),
        Some("srv_get_user_22b441b2")
    );
}

#[test]
fn the_map_does_not_depend_on_input_order() {
    let mut pairs = catalog(42);
    // Repeats must not matter either.
    pairs.extend(pairs[..100].to_vec());
    let reference = check_round_trip(&pairs);
    let reference: Vec<(String, String, String)> = reference
        .iter()
        .map(|(o, n)| (o.provider.clone(), o.tool.clone(), n.to_owned()))
        .collect();
    let mut rng = Rng(7);
    for _ in 0..5 {
        rng.shuffle(&mut pairs);
        let map = NameMap::build(pairs.iter().cloned());
        let got: Vec<(String, String, String)> = map
            .iter()
            .map(|(o, n)| (o.provider.clone(), o.tool.clone(), n.to_owned()))
            .collect();
        assert_eq!(got, reference);
    }
    // Reversed, too.
    pairs.reverse();
    let map = NameMap::build(pairs);
    assert_eq!(map.len(), reference.len());
    for (p, t, n) in &reference {
        assert_eq!(map.exposed(p, t), Some(n.as_str()));
    }
}

#[test]
fn an_empty_catalog_is_empty() {
    let map = NameMap::build(std::iter::empty());
    assert!(map.is_empty());
    assert_eq!(map.len(), 0);
    assert!(map.resolve("anything").is_none());
}
