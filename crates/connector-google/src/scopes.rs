//! Google OAuth scopes and which granted scope covers which needed one.

pub(crate) const MAIL_FULL: &str = "https://mail.google.com/";
pub(crate) const GMAIL_READONLY: &str = "https://www.googleapis.com/auth/gmail.readonly";
pub(crate) const GMAIL_MODIFY: &str = "https://www.googleapis.com/auth/gmail.modify";
pub(crate) const GMAIL_COMPOSE: &str = "https://www.googleapis.com/auth/gmail.compose";
pub(crate) const GMAIL_SEND: &str = "https://www.googleapis.com/auth/gmail.send";
pub(crate) const GMAIL_LABELS: &str = "https://www.googleapis.com/auth/gmail.labels";
pub(crate) const GMAIL_METADATA: &str = "https://www.googleapis.com/auth/gmail.metadata";

pub(crate) const CALENDAR: &str = "https://www.googleapis.com/auth/calendar";
pub(crate) const CALENDAR_READONLY: &str = "https://www.googleapis.com/auth/calendar.readonly";
pub(crate) const CALENDAR_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";
pub(crate) const CALENDAR_EVENTS_READONLY: &str =
    "https://www.googleapis.com/auth/calendar.events.readonly";
pub(crate) const CALENDAR_FREEBUSY: &str = "https://www.googleapis.com/auth/calendar.freebusy";
pub(crate) const CALENDAR_CALENDARLIST_READONLY: &str =
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly";

pub(crate) const DRIVE: &str = "https://www.googleapis.com/auth/drive";
pub(crate) const DRIVE_READONLY: &str = "https://www.googleapis.com/auth/drive.readonly";
pub(crate) const DRIVE_FILE: &str = "https://www.googleapis.com/auth/drive.file";
pub(crate) const DRIVE_METADATA_READONLY: &str =
    "https://www.googleapis.com/auth/drive.metadata.readonly";

/// `scopes` as the owned strings `Tool::scopes` returns.
pub(crate) fn owned(scopes: &[&str]) -> Vec<String> {
    scopes.iter().map(|s| (*s).to_owned()).collect()
}

/// The broader scopes that also allow what `needed` allows, per Google's
/// per-method "Authorization scopes" lists.
fn covering(needed: &str) -> &'static [&'static str] {
    match needed {
        GMAIL_READONLY => &[GMAIL_MODIFY, MAIL_FULL],
        GMAIL_SEND => &[GMAIL_COMPOSE, GMAIL_MODIFY, MAIL_FULL],
        GMAIL_COMPOSE => &[GMAIL_MODIFY, MAIL_FULL],
        GMAIL_LABELS => &[GMAIL_READONLY, GMAIL_MODIFY, GMAIL_METADATA, MAIL_FULL],
        GMAIL_MODIFY => &[MAIL_FULL],
        CALENDAR_READONLY => &[CALENDAR],
        CALENDAR_EVENTS => &[CALENDAR],
        CALENDAR_EVENTS_READONLY => &[CALENDAR_EVENTS, CALENDAR_READONLY, CALENDAR],
        CALENDAR_FREEBUSY => &[CALENDAR_READONLY, CALENDAR],
        CALENDAR_CALENDARLIST_READONLY => &[CALENDAR_READONLY, CALENDAR],
        DRIVE_READONLY => &[DRIVE],
        DRIVE_FILE => &[DRIVE],
        DRIVE_METADATA_READONLY => &[DRIVE_READONLY, DRIVE],
        _ => &[],
    }
}

/// The scopes of `needed` that `granted` does not cover.
pub(crate) fn missing<'a>(granted: &[String], needed: &'a [&'a str]) -> Vec<&'a str> {
    needed
        .iter()
        .copied()
        .filter(|n| {
            !granted
                .iter()
                .any(|g| g == n || covering(n).contains(&g.as_str()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broader_scopes_cover_narrower_ones() {
        let granted = vec![GMAIL_MODIFY.to_owned()];
        assert!(missing(&granted, &[GMAIL_SEND, GMAIL_READONLY, GMAIL_LABELS]).is_empty());
        let granted = vec![GMAIL_SEND.to_owned()];
        assert_eq!(missing(&granted, &[GMAIL_READONLY]), vec![GMAIL_READONLY]);
        assert_eq!(missing(&granted, &[GMAIL_COMPOSE]), vec![GMAIL_COMPOSE]);
    }
}
