//! Gmail's MIME: reading `payload` part trees (bodies are base64url) and
//! writing RFC 2822 messages for `raw`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use connector_core::Error;
use serde::{Deserialize, Serialize};

/// A `MessagePart` of the Gmail API.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Part {
    #[serde(default)]
    pub mime_type: String,
    #[serde(default)]
    pub filename: String,
    #[serde(default)]
    pub headers: Vec<Header>,
    #[serde(default)]
    pub body: Body,
    #[serde(default)]
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Header {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Body {
    #[serde(default)]
    pub attachment_id: Option<String>,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub data: Option<String>,
}

/// An attachment, as a model sees it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Attachment {
    /// The file name.
    pub filename: String,
    /// Its MIME type.
    pub mime_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// The id to fetch it with (`users.messages.attachments.get`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment_id: Option<String>,
}

/// Base64url as Gmail sends it, with or without padding (tolerating the
/// standard alphabet too).
pub(crate) fn decode_base64url(data: &str) -> Result<Vec<u8>, Error> {
    let cleaned: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    URL_SAFE_NO_PAD
        .decode(cleaned.trim_end_matches('='))
        .or_else(|_| STANDARD.decode(&cleaned))
        .map_err(|e| {
            Error::new(
                connector_core::ErrorKind::Provider,
                format!("gmail body: bad base64url: {e}"),
            )
        })
}

/// Header `name` (case-insensitive) of `headers`.
pub(crate) fn header<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// What was found in a part tree.
#[derive(Debug, Default)]
pub(crate) struct Extracted {
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// Walks the part tree: the first `text/plain` and `text/html` bodies that
/// are not attachments, and every attachment.
pub(crate) fn extract(part: &Part) -> Result<Extracted, Error> {
    let mut out = Extracted::default();
    walk(part, &mut out)?;
    Ok(out)
}

fn walk(part: &Part, out: &mut Extracted) -> Result<(), Error> {
    let disposition = header(&part.headers, "Content-Disposition").unwrap_or_default();
    let is_attachment = !part.filename.is_empty()
        || disposition
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("attachment");
    if is_attachment {
        out.attachments.push(Attachment {
            filename: part.filename.clone(),
            mime_type: part.mime_type.clone(),
            size: part.body.size,
            attachment_id: part.body.attachment_id.clone(),
        });
        return Ok(());
    }
    let mime = part.mime_type.to_ascii_lowercase();
    if let Some(data) = &part.body.data {
        // Gmail has already undone the transfer encoding; the bytes are in
        // the charset the part's Content-Type names (UTF-8 when it names
        // none or one unknown), decoded with invalid sequences replaced.
        let text = || -> Result<String, Error> {
            let bytes = decode_base64url(data)?;
            let encoding = header(&part.headers, "Content-Type")
                .and_then(charset)
                .and_then(|label| encoding_rs::Encoding::for_label(label.as_bytes()))
                .unwrap_or(encoding_rs::UTF_8);
            let (text, _had_errors) = encoding.decode_without_bom_handling(&bytes);
            Ok(text.into_owned())
        };
        if mime == "text/plain" && out.text.is_none() {
            out.text = Some(text()?);
        } else if mime == "text/html" && out.html.is_none() {
            out.html = Some(text()?);
        }
    }
    for p in &part.parts {
        walk(p, out)?;
    }
    Ok(())
}

/// The `charset` parameter of a Content-Type value.
fn charset(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// A crude HTML-to-text fallback for messages without a `text/plain` part:
/// tags dropped (with the contents of `head`, `style` and `script`), block
/// ends as new lines, named and numeric entities decoded.
pub(crate) fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    let mut tag = String::new();
    // Inside `<style>`, `<script>` or `<head>`: nothing is text until its end tag.
    let mut skipping: Option<&'static str> = None;
    for c in html.chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                tag.clear();
            }
            (true, '>') => {
                in_tag = false;
                let lower = tag.to_ascii_lowercase();
                let closing = lower.starts_with('/');
                let name: String = lower
                    .trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                if let Some(until) = skipping {
                    if closing && name == until {
                        skipping = None;
                    }
                    continue;
                }
                if !closing
                    && let Some(s) = ["style", "script", "head"].into_iter().find(|s| *s == name)
                {
                    skipping = Some(s);
                    continue;
                }
                if [
                    "br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "table",
                ]
                .contains(&name.as_str())
                {
                    out.push('\n');
                }
            }
            (true, c) => tag.push(c),
            (false, _) if skipping.is_some() => {}
            (false, c) => out.push(c),
        }
    }
    decode_entities(&out).trim().to_owned()
}

/// `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&nbsp;` and numeric
/// references (`&#39;`, `&#x2019;`); anything else is left as written.
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        // `;` is ASCII, so where it is found is a character boundary.
        let Some(end) = rest.bytes().take(12).position(|b| b == b';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..end];
        let decoded = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            n => n
                .strip_prefix("#x")
                .or_else(|| n.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| n.strip_prefix('#').and_then(|d| d.parse::<u32>().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// What goes into an outgoing message.
#[derive(Debug, Default)]
pub(crate) struct Outgoing<'a> {
    pub to: &'a [String],
    pub cc: &'a [String],
    pub bcc: &'a [String],
    pub subject: &'a str,
    pub body: &'a str,
    pub in_reply_to: Option<&'a str>,
    pub references: Option<&'a str>,
}

fn no_line_breaks(field: &str, value: &str) -> Result<(), Error> {
    if value.contains(['\r', '\n', '\0']) {
        return Err(Error::invalid_arguments(format!(
            "invalid argument `{field}`: line breaks are not allowed in a header"
        )));
    }
    Ok(())
}

fn address_list(field: &str, list: &[String]) -> Result<Option<String>, Error> {
    for a in list {
        no_line_breaks(field, a)?;
        if !a.contains('@') {
            return Err(Error::invalid_arguments(format!(
                "invalid argument `{field}`: `{a}` is not an email address"
            )));
        }
    }
    let formatted: Vec<String> = list.iter().map(|a| format_address(a)).collect();
    Ok((!formatted.is_empty()).then(|| formatted.join(", ")))
}

/// One address as a header wants it: a display name with specials quoted
/// (a comma in `Doe, Jane <jane@example.com>` would split the list), a
/// non-ASCII one as an RFC 2047 encoded-word.
fn format_address(a: &str) -> String {
    let a = a.trim();
    let Some((name, rest)) = a.rsplit_once('<') else {
        return a.to_owned();
    };
    let Some(addr) = rest.strip_suffix('>') else {
        return a.to_owned();
    };
    let name = name.trim();
    // A quoted-string as given: its escapes undone, to be redone below.
    let unquoted;
    let name = match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' {
                    chars.next().unwrap_or(c)
                } else {
                    c
                });
            }
            unquoted = out;
            unquoted.trim()
        }
        None => name,
    };
    if name.is_empty() {
        return addr.trim().to_owned();
    }
    let phrase = if !name.is_ascii() {
        encode_header_value(name)
    } else if name.contains([
        '(', ')', '<', '>', '[', ']', ':', ';', '@', '\\', ',', '.', '"',
    ]) {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        name.to_owned()
    };
    format!("{phrase} <{}>", addr.trim())
}

/// RFC 2047 encoded-word for a header value that is not plain ASCII,
/// split so that no encoded word exceeds 75 characters.
fn encode_header_value(value: &str) -> String {
    if value.is_ascii() {
        return value.to_owned();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in value.chars() {
        // 45 bytes of input make 60 base64 characters: "=?UTF-8?B?" + 60 + "?=" = 72.
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(chunk.as_bytes())));
    }
    words.join("\r\n ")
}

/// An RFC 2822 message (CRLF line ends, a UTF-8 text/plain body in base64
/// lines of 76 characters). Gmail adds `From`, `Date` and `Message-ID`.
pub(crate) fn build_message(m: &Outgoing<'_>) -> Result<Vec<u8>, Error> {
    let mut headers: Vec<(&str, String)> = Vec::new();
    let to = address_list("to", m.to)?;
    let cc = address_list("cc", m.cc)?;
    let bcc = address_list("bcc", m.bcc)?;
    if to.is_none() && cc.is_none() && bcc.is_none() {
        return Err(Error::invalid_arguments(
            "invalid argument `to`: at least one recipient is needed",
        ));
    }
    if let Some(v) = to {
        headers.push(("To", v));
    }
    if let Some(v) = cc {
        headers.push(("Cc", v));
    }
    if let Some(v) = bcc {
        headers.push(("Bcc", v));
    }
    no_line_breaks("subject", m.subject)?;
    headers.push(("Subject", encode_header_value(m.subject)));
    if let Some(v) = m.in_reply_to {
        no_line_breaks("in_reply_to", v)?;
        headers.push(("In-Reply-To", v.to_owned()));
    }
    if let Some(v) = m.references {
        no_line_breaks("references", v)?;
        headers.push(("References", v.to_owned()));
    }
    headers.push(("MIME-Version", "1.0".into()));
    headers.push(("Content-Type", "text/plain; charset=\"UTF-8\"".into()));
    headers.push(("Content-Transfer-Encoding", "base64".into()));
    let mut out = String::new();
    for (name, value) in headers {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(&value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let encoded = STANDARD.encode(m.body.as_bytes());
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push_str("\r\n");
    }
    Ok(out.into_bytes())
}

/// The `raw` field: the whole message in base64url.
pub(crate) fn raw(message: &[u8]) -> String {
    URL_SAFE.encode(message)
}

#[cfg(test)]
mod tests {
    #[test]
    fn display_names_are_quoted_or_encoded() {
        assert_eq!(format_address("bob@example.com"), "bob@example.com");
        assert_eq!(
            format_address("Bob Smith <bob@example.com>"),
            "Bob Smith <bob@example.com>"
        );
        assert_eq!(
            format_address("Doe, Jane <jane@example.com>"),
            "\"Doe, Jane\" <jane@example.com>"
        );
        assert_eq!(
            format_address("\"J. \\\"JJ\\\" Doe\" <j@example.com>"),
            "\"J. \\\"JJ\\\" Doe\" <j@example.com>"
        );
        assert_eq!(
            format_address("Zoë Müller <zoe@example.com>"),
            "=?UTF-8?B?Wm/DqyBNw7xsbGVy?= <zoe@example.com>"
        );
        assert_eq!(format_address(" <x@example.com> "), "x@example.com");
    }

    use super::*;

    #[test]
    fn charsets_are_read_from_the_content_type() {
        assert_eq!(
            charset("text/plain; charset=ISO-8859-1"),
            Some("ISO-8859-1")
        );
        assert_eq!(
            charset("text/plain; format=flowed; CHARSET=\"utf-8\""),
            Some("utf-8")
        );
        assert_eq!(charset("text/plain"), None);
        let part = Part {
            mime_type: "text/plain".into(),
            headers: vec![Header {
                name: "Content-Type".into(),
                value: "text/plain; charset=\"iso-8859-1\"".into(),
            }],
            body: Body {
                size: 5,
                // "Café!" in ISO-8859-1 (é is one byte, 0xE9).
                data: Some(URL_SAFE_NO_PAD.encode(b"Caf\xe9!")),
                ..Body::default()
            },
            ..Part::default()
        };
        assert_eq!(extract(&part).unwrap().text.as_deref(), Some("Café!"));
    }

    #[test]
    fn html_fallback_drops_styles_and_decodes_entities() {
        let html = "<html><head><title>T</title><style>p { color: red }</style></head>\
                    <body><script>var x = 1;</script><p>It&#39;s &#x2019;ok&#8217; &amp; fine</p>\
                    <div>a &unknown; b</div></body></html>";
        assert_eq!(
            html_to_text(html),
            "It's \u{2019}ok\u{2019} & fine\n\na &unknown; b"
        );
    }

    #[test]
    fn non_ascii_subjects_become_encoded_words() {
        let s = encode_header_value("Réunion à 10h — ordre du jour détaillé pour toute l'équipe");
        for word in s.split("\r\n ") {
            assert!(
                word.starts_with("=?UTF-8?B?") && word.ends_with("?="),
                "{word}"
            );
            assert!(word.len() <= 75, "{word}");
        }
        assert_eq!(encode_header_value("Hello"), "Hello");
    }

    #[test]
    fn header_injection_is_refused() {
        let to = vec!["a@example.com\r\nBcc: evil@example.com".to_owned()];
        let e = build_message(&Outgoing {
            to: &to,
            subject: "x",
            ..Outgoing::default()
        })
        .unwrap_err();
        assert_eq!(e.kind(), connector_core::ErrorKind::InvalidArguments);
    }

    #[test]
    fn html_fallback_keeps_text() {
        assert_eq!(html_to_text("<p>a &amp; b</p><br>c"), "a & b\n\nc");
    }
}
