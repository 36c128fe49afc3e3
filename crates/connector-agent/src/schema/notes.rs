//! What a compilation changed, counted while compiling and written out once
//! at the end, so that a large schema gives a few sentences, not thousands.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// Counters and the few specifics worth naming.
#[derive(Debug, Default)]
pub(crate) struct Notes {
    pub inlined_refs: usize,
    pub recursive_refs: Vec<String>,
    pub network_refs: Vec<String>,
    pub dynamic_refs: usize,
    pub one_of: usize,
    pub constants: usize,
    pub all_of_merged: usize,
    pub all_of_kept: usize,
    pub titles_to_description: usize,
    pub types_inferred: usize,
    pub nullable_made: usize,
    pub null_variants_folded: usize,
    pub int_formats: BTreeMap<Cow<'static, str>, usize>,
    pub moved: BTreeMap<Cow<'static, str>, usize>,
    pub dropped: BTreeMap<Cow<'static, str>, usize>,
    pub other: Vec<String>,
}

const MAX_NAMED: usize = 5;

impl Notes {
    pub fn moved(&mut self, keyword: &str) {
        bump(&mut self.moved, keyword);
    }

    pub fn dropped(&mut self, keyword: &str) {
        bump(&mut self.dropped, keyword);
    }

    pub fn int_format(&mut self, format: &str) {
        bump(&mut self.int_formats, format);
    }

    pub fn other(&mut self, note: String) {
        if !self.other.contains(&note) && self.other.len() < 20 {
            self.other.push(note);
        }
    }

    pub fn recursive(&mut self, reference: &str) {
        push_named(&mut self.recursive_refs, reference);
    }

    pub fn network(&mut self, reference: &str) {
        push_named(&mut self.network_refs, reference);
    }

    /// The sentences, in a stable order.
    pub fn into_sentences(self) -> Vec<String> {
        let mut out = Vec::new();
        if self.inlined_refs > 0 {
            out.push(format!("inlined {} local $ref(s)", self.inlined_refs));
        }
        if !self.recursive_refs.is_empty() {
            out.push(format!(
                "recursive $ref {} cut where it recurs: the nested value is unconstrained",
                list(&self.recursive_refs)
            ));
        }
        if !self.network_refs.is_empty() {
            out.push(format!(
                "network $ref {} not fetched: replaced by an unconstrained schema",
                list(&self.network_refs)
            ));
        }
        if self.dynamic_refs > 0 {
            out.push(format!(
                "{} $dynamicRef/$recursiveRef not resolved: dropped",
                self.dynamic_refs
            ));
        }
        if self.one_of > 0 {
            out.push(format!("oneOf rewritten as anyOf ({})", self.one_of));
        }
        if self.constants > 0 {
            out.push(format!("const rewritten as enum ({})", self.constants));
        }
        if self.all_of_merged > 0 {
            out.push(format!(
                "allOf merged into one schema ({})",
                self.all_of_merged
            ));
        }
        if self.all_of_kept > 0 {
            out.push(format!(
                "allOf with conflicting parts kept as allOf ({})",
                self.all_of_kept
            ));
        }
        if !self.int_formats.is_empty() {
            out.push(format!(
                "numeric formats dropped (their range kept as minimum/maximum): {}",
                counts(&self.int_formats)
            ));
        }
        if self.types_inferred > 0 {
            out.push(format!(
                "type inferred from properties, items or enum ({})",
                self.types_inferred
            ));
        }
        if self.titles_to_description > 0 {
            out.push(format!(
                "title used as the missing description ({})",
                self.titles_to_description
            ));
        }
        if self.null_variants_folded > 0 {
            out.push(format!(
                "null alternatives folded into nullable ({})",
                self.null_variants_folded
            ));
        }
        if !self.moved.is_empty() {
            out.push(format!(
                "moved into descriptions (unsupported here): {}",
                counts(&self.moved)
            ));
        }
        if !self.dropped.is_empty() {
            out.push(format!("dropped: {}", counts(&self.dropped)));
        }
        if self.nullable_made > 0 {
            out.push(format!(
                "strict: {} optional propert{} made required and nullable (null means absent)",
                self.nullable_made,
                if self.nullable_made == 1 { "y" } else { "ies" }
            ));
        }
        out.extend(self.other);
        out
    }
}

fn bump(map: &mut BTreeMap<Cow<'static, str>, usize>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            // Remote input names the keywords: bound what we keep of them.
            if map.len() < 40 {
                let key = match KNOWN.iter().find(|k| **k == key) {
                    Some(known) => Cow::Borrowed(*known),
                    None => Cow::Owned(crate::schema::clip(key, 40).to_owned()),
                };
                map.insert(key, 1);
            }
        }
    }
}

/// The keywords and formats notes name most, kept without a copy (a note
/// is counted for nearly every schema compiled).
const KNOWN: &[&str] = &[
    "$schema",
    "$id",
    "$anchor",
    "$comment",
    "title",
    "default: null",
    "x-* extensions",
    "format",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "default",
    "examples",
    "example",
    "deprecated",
    "readOnly",
    "writeOnly",
    "additionalProperties",
    "patternProperties",
    "prefixItems",
    "anyOf",
    "allOf",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "uint",
    "int8",
    "int16",
    "int32",
    "int64",
    "int",
    "float",
    "double",
];

fn push_named(names: &mut Vec<String>, name: &str) {
    let name = crate::schema::clip(name, 120);
    if names.len() < MAX_NAMED && !names.iter().any(|n| n == name) {
        names.push(name.to_owned());
    }
}

fn list(names: &[String]) -> String {
    let mut s = String::new();
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('`');
        s.push_str(n);
        s.push('`');
    }
    s
}

fn counts(map: &BTreeMap<Cow<'static, str>, usize>) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for (i, (k, n)) in map.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{k} ({n})");
    }
    s
}
