//! What a compilation changed, counted while compiling and written out once
//! at the end, so that a large schema gives a few sentences, not thousands.

/// Counters and the few specifics worth naming. The keywords and formats
/// named are borrowed: ours, or the input's.
#[derive(Debug, Default)]
pub(crate) struct Notes<'a> {
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
    pub int_formats: Counts<'a>,
    pub moved: Counts<'a>,
    pub dropped: Counts<'a>,
    pub other: Vec<String>,
}

/// Names and how often each was met, sorted by name (a few at most: a
/// small vector beats a map).
pub(crate) type Counts<'a> = Vec<(&'a str, usize)>;

const MAX_NAMED: usize = 5;

impl<'a> Notes<'a> {
    pub fn moved(&mut self, keyword: &'a str) {
        bump(&mut self.moved, keyword);
    }

    pub fn dropped(&mut self, keyword: &'a str) {
        bump(&mut self.dropped, keyword);
    }

    pub fn int_format(&mut self, format: &'a str) {
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
    ///
    /// Written with `push_str` and `itoa`, not `format!`: a note is written
    /// for nearly every schema compiled, and the formatting machinery cost
    /// a tenth of a compilation.
    pub fn into_sentences(self) -> Vec<String> {
        let mut n = itoa::Buffer::new();
        let mut out = Vec::new();
        if self.inlined_refs > 0 {
            out.push(concat(&[
                "inlined ",
                n.format(self.inlined_refs),
                " local $ref(s)",
            ]));
        }
        if !self.recursive_refs.is_empty() {
            out.push(concat(&[
                "recursive $ref ",
                &list(&self.recursive_refs),
                " cut where it recurs: the nested value is unconstrained",
            ]));
        }
        if !self.network_refs.is_empty() {
            out.push(concat(&[
                "network $ref ",
                &list(&self.network_refs),
                " not fetched: replaced by an unconstrained schema",
            ]));
        }
        if self.dynamic_refs > 0 {
            out.push(concat(&[
                n.format(self.dynamic_refs),
                " $dynamicRef/$recursiveRef not resolved: dropped",
            ]));
        }
        if self.one_of > 0 {
            out.push(concat(&[
                "oneOf rewritten as anyOf (",
                n.format(self.one_of),
                ")",
            ]));
        }
        if self.constants > 0 {
            out.push(concat(&[
                "const rewritten as enum (",
                n.format(self.constants),
                ")",
            ]));
        }
        if self.all_of_merged > 0 {
            out.push(concat(&[
                "allOf merged into one schema (",
                n.format(self.all_of_merged),
                ")",
            ]));
        }
        if self.all_of_kept > 0 {
            out.push(concat(&[
                "allOf with conflicting parts kept as allOf (",
                n.format(self.all_of_kept),
                ")",
            ]));
        }
        if !self.int_formats.is_empty() {
            out.push(counts(
                "numeric formats dropped (their range kept as minimum/maximum): ",
                &self.int_formats,
            ));
        }
        if self.types_inferred > 0 {
            out.push(concat(&[
                "type inferred from properties, items or enum (",
                n.format(self.types_inferred),
                ")",
            ]));
        }
        if self.titles_to_description > 0 {
            out.push(concat(&[
                "title used as the missing description (",
                n.format(self.titles_to_description),
                ")",
            ]));
        }
        if self.null_variants_folded > 0 {
            out.push(concat(&[
                "null alternatives folded into nullable (",
                n.format(self.null_variants_folded),
                ")",
            ]));
        }
        if !self.moved.is_empty() {
            out.push(counts(
                "moved into descriptions (unsupported here): ",
                &self.moved,
            ));
        }
        if !self.dropped.is_empty() {
            out.push(counts("dropped: ", &self.dropped));
        }
        if self.nullable_made > 0 {
            out.push(concat(&[
                "strict: ",
                n.format(self.nullable_made),
                if self.nullable_made == 1 {
                    " optional property made required and nullable (null means absent)"
                } else {
                    " optional properties made required and nullable (null means absent)"
                },
            ]));
        }
        out.extend(self.other);
        out
    }
}

/// The pieces, one after the other, in a string of their size.
fn concat(pieces: &[&str]) -> String {
    let mut s = String::with_capacity(pieces.iter().map(|p| p.len()).sum());
    for p in pieces {
        s.push_str(p);
    }
    s
}

fn bump<'a>(counts: &mut Counts<'a>, key: &'a str) {
    match counts.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += 1,
        None => {
            // Remote input names the keywords: bound what we keep of them
            // (a name clipped is counted anew each time, as it always was).
            if counts.len() < 40 {
                let key = crate::schema::clip(key, 40);
                match counts.binary_search_by(|(k, _)| (*k).cmp(key)) {
                    Ok(at) => counts[at].1 = 1,
                    Err(at) => counts.insert(at, (key, 1)),
                }
            }
        }
    }
}

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

/// `head` then `name (count), name (count), ...`.
fn counts(head: &str, map: &Counts<'_>) -> String {
    let mut n = itoa::Buffer::new();
    let mut s = String::with_capacity(head.len() + map.len() * 24);
    s.push_str(head);
    for (i, (k, count)) in map.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(k);
        s.push_str(" (");
        s.push_str(n.format(*count));
        s.push(')');
    }
    s
}
