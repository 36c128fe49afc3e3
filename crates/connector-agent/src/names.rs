//! Tool names valid in every dialect, mapped back exactly.
//!
//! A catalog gathers tools from many providers: our own crates, whose names
//! are already `[a-z][a-z0-9_]*`, and remote MCP servers, whose names may hold
//! dots, slashes, spaces or any Unicode. A model sees one flat list, so each
//! tool is exposed as `<provider>_<tool>`, written in the characters every
//! dialect accepts, and the [`NameMap`] built once per catalog turns the name
//! a model calls back into the original pair, exactly.
//!
//! # The rules of each dialect, and their intersection
//!
//! | dialect | rule | source |
//! | --- | --- | --- |
//! | OpenAI (Chat Completions, Responses) | `^[a-zA-Z0-9_-]{1,64}$` | function `name`: "a-z, A-Z, 0-9, or contain underscores and dashes, with a maximum length of 64" (API reference) |
//! | Anthropic | `^[a-zA-Z0-9_-]{1,64}$` | tool `name` in the Messages API reference |
//! | Gemini (Developer API and Vertex AI) | starts with a letter or `_`; `a-z A-Z 0-9 _ . : -`; at most 64 | `FunctionDeclaration.name` (generativelanguage v1beta, aiplatform v1) |
//! | MCP 2025-11-25 | SHOULD be 1 to 128 characters of `A-Z a-z 0-9 _ - .` | "Tool names" in the server/tools chapter |
//!
//! Their intersection, which [`is_valid_in_every_dialect`] checks, is
//! `^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$`. (Older Gemini references and one
//! Firebase type say 63 rather than 64; the current API references say 64.)
//!
//! # How a name is chosen
//!
//! 1. Each character outside `[A-Za-z0-9_-]` of the provider and of the tool
//!    becomes `_`, and the two are joined with `_`. A name that would start
//!    with a digit or `-` (a provider such as `2fa`) gains a leading `_`.
//! 2. That candidate is the exposed name when it fits in [`MAX_NAME_LEN`] and
//!    no other pair of the catalog has the same candidate. When several
//!    pairs share one, the pair whose candidate is exactly its own
//!    `<provider>_<tool>` (nothing was replaced) keeps it, if there is just
//!    one such pair: a name that was already valid is never changed because
//!    some other tool sanitises onto it.
//! 3. Every other pair (too long, or colliding) gets its candidate cut to
//!    [`HASHED_PREFIX_LEN`] characters, then `_` and 8 hex digits of the
//!    SHA-256 of `provider \0 tool`. The suffix depends on nothing but the
//!    original pair, so it is the same in every run and every process. In
//!    the astronomically rare case that this name is taken too, the hash
//!    is taken again with a counter (`provider \0 tool \0 1`, ...).
//!
//! The pairs are deduplicated and sorted before step 2, so the map is a
//! function of the set of pairs: it does not depend on the order they were
//! given in.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The longest exposed name: the limit OpenAI, Anthropic and Gemini share.
pub const MAX_NAME_LEN: usize = 64;

/// How many characters of a candidate a hashed name keeps:
/// `MAX_NAME_LEN` minus `_` and the 8 hex digits of the suffix.
pub const HASHED_PREFIX_LEN: usize = MAX_NAME_LEN - 1 - HASH_HEX_LEN;

const HASH_HEX_LEN: usize = 8;

/// The original pair behind an exposed name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ToolName {
    /// The connector id (or configured MCP server name), as given.
    pub provider: String,
    /// The tool's own name, as the provider gave it.
    pub tool: String,
}

impl fmt::Display for ToolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider, self.tool)
    }
}

/// Whether `name` is accepted as a tool name by OpenAI, Anthropic, Gemini
/// and MCP alike: `^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$`.
///
/// ```
/// use connector_agent::names::is_valid_in_every_dialect;
/// assert!(is_valid_in_every_dialect("slack_send_message"));
/// assert!(!is_valid_in_every_dialect("github.create_issue")); // OpenAI rejects dots
/// assert!(!is_valid_in_every_dialect("2fa_verify")); // Gemini wants a letter or `_` first
/// assert!(!is_valid_in_every_dialect(&"a".repeat(65)));
/// ```
pub fn is_valid_in_every_dialect(name: &str) -> bool {
    let bytes = name.as_bytes();
    match bytes.first() {
        Some(first) if first.is_ascii_alphabetic() || *first == b'_' => {}
        _ => return false,
    }
    bytes.len() <= MAX_NAME_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
}

/// Every character outside `[A-Za-z0-9_-]` replaced by `_` (one `_` per
/// character, whatever its UTF-8 length).
fn sanitize_into(out: &mut String, part: &str) {
    out.extend(part.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            c
        } else {
            '_'
        }
    }));
}

/// The name `(provider, tool)` would get were it alone in the catalog,
/// possibly longer than [`MAX_NAME_LEN`].
fn candidate(provider: &str, tool: &str) -> String {
    let mut out = String::with_capacity(provider.len() + tool.len() + 2);
    // Gemini wants a letter or `_` first; the tool part never comes first.
    if !provider
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
    {
        // An empty provider gives `_<tool>` through the separator below.
        if !provider.is_empty() {
            out.push('_');
        }
    }
    sanitize_into(&mut out, provider);
    out.push('_');
    sanitize_into(&mut out, tool);
    out
}

/// What every exposed name of `provider`'s tools starts with: the provider
/// as [`NameMap`] writes it, then `_` (a hashed name keeps it too, unless the
/// provider alone is longer than [`HASHED_PREFIX_LEN`]).
pub(crate) fn provider_prefix(provider: &str) -> String {
    candidate(provider, "")
}

/// `_` and 8 hex digits of SHA-256(`provider \0 tool` [`\0 salt`]).
/// The NUL separator keeps `("a_b", "c")` and `("a", "b_c")` apart.
fn hash_suffix(provider: &str, tool: &str, salt: u32) -> String {
    let mut hasher = Sha256::new();
    hasher.update(provider.as_bytes());
    hasher.update([0u8]);
    hasher.update(tool.as_bytes());
    if salt > 0 {
        hasher.update([0u8]);
        hasher.update(salt.to_string().as_bytes());
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(1 + HASH_HEX_LEN);
    out.push('_');
    for byte in digest.iter().take(HASH_HEX_LEN / 2) {
        out.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
    }
    out
}

/// The candidate cut to [`HASHED_PREFIX_LEN`] characters, plus the suffix.
fn hashed(candidate: &str, provider: &str, tool: &str, salt: u32) -> String {
    // The candidate is ASCII, so any byte index is a character boundary.
    let keep = candidate.len().min(HASHED_PREFIX_LEN);
    let mut out = candidate.get(..keep).unwrap_or_default().to_owned();
    out.push_str(&hash_suffix(provider, tool, salt));
    out
}

/// The two-way mapping between a catalog's `(provider, tool)` pairs and the
/// names shown to models. Built once per catalog; lookups are one hash each.
///
/// ```
/// use connector_agent::names::NameMap;
/// let map = NameMap::build([
///     ("slack".to_owned(), "send_message".to_owned()),
///     ("github".to_owned(), "issues.create".to_owned()),
/// ]);
/// assert_eq!(map.exposed("slack", "send_message"), Some("slack_send_message"));
/// assert_eq!(map.exposed("github", "issues.create"), Some("github_issues_create"));
/// let original = map.resolve("github_issues_create").unwrap();
/// assert_eq!((original.provider.as_str(), original.tool.as_str()), ("github", "issues.create"));
/// assert!(map.resolve("github_issues.create").is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct NameMap {
    /// Sorted by the original pair.
    entries: Vec<(ToolName, String)>,
    by_exposed: HashMap<String, usize>,
    by_pair: HashMap<String, HashMap<String, usize>>,
}

impl NameMap {
    /// Builds the map of a catalog. Repeated pairs count once; the result
    /// does not depend on the order of `pairs`.
    pub fn build(
        pairs: impl IntoIterator<Item = (String /*provider*/, String /*tool*/)>,
    ) -> NameMap {
        let pairs: BTreeSet<(String, String)> = pairs.into_iter().collect();
        let candidates: Vec<String> = pairs.iter().map(|(p, t)| candidate(p, t)).collect();

        // Who claims each candidate that fits, and which claimants are exact
        // (their candidate is their own `<provider>_<tool>`).
        let mut claims: HashMap<&str, (usize, usize)> = HashMap::new();
        for ((provider, tool), cand) in pairs.iter().zip(&candidates) {
            if cand.len() > MAX_NAME_LEN {
                continue;
            }
            let slot = claims.entry(cand.as_str()).or_insert((0, 0));
            slot.0 += 1;
            if is_exact(provider, tool, cand) {
                slot.1 += 1;
            }
        }

        let mut exposed: Vec<Option<String>> = vec![None; pairs.len()];
        let mut taken: HashSet<String> = HashSet::with_capacity(pairs.len());
        for (i, ((provider, tool), cand)) in pairs.iter().zip(&candidates).enumerate() {
            let Some(&(claimants, exact)) = claims.get(cand.as_str()) else {
                continue; // too long
            };
            if claimants == 1 || (exact == 1 && is_exact(provider, tool, cand)) {
                taken.insert(cand.clone());
                exposed[i] = Some(cand.clone());
            }
        }
        // The rest, in sorted order, so that the salted fallback is
        // deterministic too.
        for (i, ((provider, tool), cand)) in pairs.iter().zip(&candidates).enumerate() {
            if exposed[i].is_some() {
                continue;
            }
            let mut salt = 0u32;
            let mut name = hashed(cand, provider, tool, salt);
            while taken.contains(&name) {
                salt += 1;
                name = hashed(cand, provider, tool, salt);
            }
            taken.insert(name.clone());
            exposed[i] = Some(name);
        }

        let mut map = NameMap {
            entries: Vec::with_capacity(pairs.len()),
            by_exposed: HashMap::with_capacity(pairs.len()),
            by_pair: HashMap::new(),
        };
        for ((provider, tool), name) in pairs.into_iter().zip(exposed) {
            let Some(name) = name else { continue };
            let index = map.entries.len();
            map.by_exposed.insert(name.clone(), index);
            map.by_pair
                .entry(provider.clone())
                .or_default()
                .insert(tool.clone(), index);
            map.entries.push((ToolName { provider, tool }, name));
        }
        map
    }

    /// The name shown to models for `(provider, tool)`, if the pair is in
    /// the catalog.
    pub fn exposed(&self, provider: &str, tool: &str) -> Option<&str> {
        let index = *self.by_pair.get(provider)?.get(tool)?;
        self.entries.get(index).map(|(_, name)| name.as_str())
    }

    /// The original pair behind a name a model called; `None` for a name
    /// this catalog never exposed (matching is exact and case-sensitive).
    pub fn resolve(&self, exposed: &str) -> Option<&ToolName> {
        let index = *self.by_exposed.get(exposed)?;
        self.entries.get(index).map(|(original, _)| original)
    }

    /// Every pair with its exposed name, sorted by provider, then tool.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&ToolName, &str)> + '_ {
        self.entries
            .iter()
            .map(|(original, name)| (original, name.as_str()))
    }

    /// How many distinct pairs the catalog holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Whether sanitising changed nothing: the candidate is `<provider>_<tool>`.
fn is_exact(provider: &str, tool: &str, candidate: &str) -> bool {
    candidate.len() == provider.len() + 1 + tool.len()
        && candidate.starts_with(provider)
        && candidate.ends_with(tool)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(p: &str, t: &str) -> (String, String) {
        (p.to_owned(), t.to_owned())
    }

    #[test]
    fn candidates_replace_each_invalid_character() {
        assert_eq!(candidate("slack", "send_message"), "slack_send_message");
        assert_eq!(candidate("gh", "issues.create"), "gh_issues_create");
        assert_eq!(candidate("my server", "a/b:c"), "my_server_a_b_c");
        assert_eq!(candidate("fs", "lire_fichier_été"), "fs_lire_fichier__t_");
        assert_eq!(candidate("2fa", "verify"), "_2fa_verify");
        assert_eq!(candidate("-x", "y"), "_-x_y");
        assert_eq!(candidate("", "t"), "_t");
        assert_eq!(candidate("", ""), "_");
        for c in ["_2fa_verify", "_-x_y", "_t", "_", "fs_lire_fichier__t_"] {
            assert!(is_valid_in_every_dialect(c), "{c}");
        }
    }

    #[test]
    fn exactness_is_about_sanitising_only() {
        assert!(is_exact("a", "b", "a_b"));
        assert!(!is_exact("a", "b.c", "a_b_c"));
        assert!(!is_exact("2fa", "x", "_2fa_x"));
    }

    #[test]
    fn hashed_names_fill_the_limit_exactly() {
        let long = "x".repeat(100);
        let name = hashed(&candidate("p", &long), "p", &long, 0);
        assert_eq!(name.len(), MAX_NAME_LEN);
        assert!(is_valid_in_every_dialect(&name));
        assert_ne!(name, hashed(&candidate("p", &long), "p", &long, 1));
    }

    #[test]
    fn an_exact_name_keeps_its_name_when_another_sanitises_onto_it() {
        let map = NameMap::build([pair("srv", "get.user"), pair("srv", "get_user")]);
        assert_eq!(map.exposed("srv", "get_user"), Some("srv_get_user"));
        let other = map.exposed("srv", "get.user").unwrap_or_default();
        assert!(other.starts_with("srv_get_user_"), "{other}");
        assert_eq!(other.len(), "srv_get_user_".len() + 8);
    }

    #[test]
    fn a_hashed_name_already_taken_is_hashed_again_with_a_counter() {
        // `srv_get_user_22b441b2` is what `get.user` would get, but a tool
        // of that exact name takes it first.
        let map = NameMap::build([
            pair("srv", "get_user"),
            pair("srv", "get.user"),
            pair("srv", "get_user_22b441b2"),
        ]);
        assert_eq!(
            map.exposed("srv", "get_user_22b441b2"),
            Some("srv_get_user_22b441b2")
        );
        // SHA-256("srv\0get.user\01") starts with 25400400.
        assert_eq!(
            map.exposed("srv", "get.user"),
            Some("srv_get_user_25400400")
        );
    }

    #[test]
    fn ambiguous_joins_are_both_hashed() {
        let map = NameMap::build([pair("a_b", "c"), pair("a", "b_c")]);
        let x = map.exposed("a_b", "c").unwrap_or_default();
        let y = map.exposed("a", "b_c").unwrap_or_default();
        assert_ne!(x, y);
        assert!(x.starts_with("a_b_c_") && y.starts_with("a_b_c_"));
    }
}
