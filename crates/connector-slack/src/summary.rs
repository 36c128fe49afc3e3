//! The concise texts a model reads instead of the JSON (which is still
//! returned as the structured result): one line per message, conversation
//! or user, with the ids the other tools need.

use std::fmt::Write as _;

use crate::tools::{Conversation, Message, User};

/// `1512085950.000216` as `2017-12-01 00:32` (UTC); the raw `ts` when it is
/// not a Unix time.
pub(crate) fn ts_time(ts: &str) -> String {
    let secs = ts.split('.').next().and_then(|s| s.parse::<i64>().ok());
    match secs {
        Some(secs) if (0..=253_402_300_799).contains(&secs) => {
            let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
            let (y, m, d) = civil_from_days(days);
            format!(
                "{y:04}-{m:02}-{d:02} {:02}:{:02}",
                rem / 3600,
                rem % 3600 / 60
            )
        }
        _ => ts.to_owned(),
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Who wrote a message: `@U…`, or the bot.
fn author(m: &Message) -> String {
    match (&m.user, &m.bot_id) {
        (Some(u), _) => format!("@{u}"),
        (None, Some(b)) => format!("bot {b}"),
        (None, None) => "(unknown)".to_owned(),
    }
}

/// `[2017-12-01 00:32 · ts 1512085950.000216] @U0BS9U4SV: text`, with the
/// channel when `with_channel`, the reply count, continuation lines
/// indented and a mark when the text was cut.
pub(crate) fn message_line(out: &mut String, m: &Message, with_channel: bool) {
    let _ = write!(out, "[{} · ts {}] ", ts_time(&m.ts), m.ts);
    if with_channel {
        match (&m.channel_name, &m.channel) {
            (Some(name), Some(id)) => {
                let _ = write!(out, "#{name} ({id}) ");
            }
            (None, Some(id)) => {
                let _ = write!(out, "{id} ");
            }
            _ => {}
        }
    }
    let _ = write!(out, "{}: ", author(m));
    let mut lines = m.text.lines();
    out.push_str(lines.next().unwrap_or(""));
    for l in lines {
        out.push_str("\n    ");
        out.push_str(l);
    }
    if m.text_truncated {
        out.push_str(" … [message truncated]");
    }
    if let Some(n) = m.reply_count.filter(|n| *n > 0) {
        let _ = write!(
            out,
            " ({n} {} in its thread)",
            if n == 1 { "reply" } else { "replies" }
        );
    }
    if let Some(link) = &m.permalink {
        let _ = write!(out, "\n    {link}");
    }
    out.push('\n');
}

/// A header line and the messages under it.
pub(crate) fn messages(header: &str, list: &[Message], with_channel: bool, more: &str) -> String {
    let mut out = String::new();
    out.push_str(header);
    out.push('\n');
    for m in list {
        message_line(&mut out, m, with_channel);
    }
    if !more.is_empty() {
        out.push_str(more);
        out.push('\n');
    }
    out
}

/// `#general (C012AB3CD, 4 members): topic`, with what sets it apart.
pub(crate) fn conversation_line(out: &mut String, c: &Conversation) {
    match (&c.name, &c.user) {
        (Some(name), _) => {
            let _ = write!(out, "#{name} ({}", c.id);
        }
        (None, Some(user)) => {
            let _ = write!(out, "direct messages with @{user} ({}", c.id);
        }
        (None, None) => {
            let _ = write!(out, "conversation ({}", c.id);
        }
    }
    if let Some(n) = c.num_members {
        let _ = write!(out, ", {n} member{}", if n == 1 { "" } else { "s" });
    }
    for (on, what) in [
        (c.is_private, "private"),
        (c.is_archived, "archived"),
        (!c.is_member && c.user.is_none(), "the app is not a member"),
    ] {
        if on {
            let _ = write!(out, ", {what}");
        }
    }
    out.push(')');
    if let Some(t) = c.topic.as_ref().or(c.purpose.as_ref()) {
        let _ = write!(out, ": {}", one_line(t, 200));
    }
    out.push('\n');
}

/// `Egon Spengler <spengler@…> (W012A3CDE, @spengler, tz America/Los_Angeles)`.
pub(crate) fn user(u: &User) -> String {
    let mut out = String::new();
    let name = u
        .real_name
        .as_deref()
        .or(u.display_name.as_deref())
        .or(u.name.as_deref())
        .unwrap_or(&u.id);
    out.push_str(name);
    if let Some(e) = &u.email {
        let _ = write!(out, " <{e}>");
    }
    let _ = write!(out, " ({}", u.id);
    if let Some(n) = &u.name {
        let _ = write!(out, ", @{n}");
    }
    if let Some(d) = u
        .display_name
        .as_deref()
        .filter(|d| Some(*d) != u.name.as_deref())
    {
        let _ = write!(out, ", shown as \"{d}\"");
    }
    if let Some(t) = &u.tz {
        let _ = write!(out, ", tz {t}");
    }
    out.push(')');
    if let Some(t) = &u.title {
        let _ = write!(out, ", {}", one_line(t, 200));
    }
    if u.is_bot {
        out.push_str(" [bot]");
    }
    if u.deleted {
        out.push_str(" [deactivated]");
    }
    out
}

/// `text` on one line, cut to `max` characters with `…`.
fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match flat.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &flat[..i]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_becomes_a_utc_minute() {
        assert_eq!(ts_time("1512085950.000216"), "2017-11-30 23:52");
        assert_eq!(ts_time("0.000000"), "1970-01-01 00:00");
        assert_eq!(ts_time("1709251199"), "2024-02-29 23:59");
        assert_eq!(ts_time("not-a-ts"), "not-a-ts");
        assert_eq!(ts_time("-5"), "-5");
    }

    #[test]
    fn one_line_flattens_and_cuts() {
        assert_eq!(one_line("a\nb", 10), "a b");
        assert_eq!(one_line("ééééé", 3), "ééé…");
    }
}
