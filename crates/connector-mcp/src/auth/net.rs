//! Where discovery may go: https (plain http only to loopback), and never
//! to a private, loopback or link-local address unless configuration allows
//! it. IP literals are checked on the URL; host names are resolved and every
//! address checked, and the HTTP client's own resolver refuses them again
//! at connection time, so a name that resolves differently the second time
//! (DNS rebinding) still cannot reach an internal address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use connector_core::{Error, ErrorKind};
use url::Url;

/// Whether `ip` is an address discovery must not reach by default:
/// loopback, private (RFC 1918, unique local), link-local, shared (CGNAT),
/// unspecified, broadcast, multicast, benchmarking and documentation
/// ranges, and IPv4 addresses embedded in IPv6 (mapped, NAT64).
pub fn is_private_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private_v4(v4);
            }
            let seg = v6.segments();
            // NAT64 well-known prefix 64:ff9b::/96 carries an IPv4 address.
            if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0, 0, 0, 0] {
                let [a, b] = seg[6].to_be_bytes();
                let [c, d] = seg[7].to_be_bytes();
                return is_private_v4(Ipv4Addr::new(a, b, c, d));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (seg[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
                || v6 == Ipv6Addr::from(1u128) // ::1 again, for clarity
        }
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 240 // reserved
}

/// Whether the URL's host is a loopback host (an IP literal or `localhost`).
pub(crate) fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// `scheme://host[:port]/path`, no query: what errors may name.
pub(crate) fn describe(url: &Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}

/// [`describe`] for a URL held as text.
pub(crate) fn describe_str(url: &str) -> String {
    Url::parse(url).map_or_else(|_| "(not a URL)".to_owned(), |u| describe(&u))
}

/// Checks a URL discovery is about to fetch or hand to the OAuth engine:
/// https, or http to a loopback host; no user info; and no private address
/// unless `allow_private`. Host names are resolved when `allow_private` is
/// off.
pub(crate) async fn check_url(url: &Url, allow_private: bool, what: &str) -> Result<(), Error> {
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_url(url) => {}
        "http" => {
            return Err(Error::config(format!(
                "{what} `{}` uses plain http; only https is allowed (http only to loopback)",
                describe(url)
            )));
        }
        other => {
            return Err(Error::config(format!(
                "{what} has the unsupported scheme `{other}`"
            )));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(format!("{what} must not carry credentials")));
    }
    if allow_private {
        return Ok(());
    }
    let refuse = || {
        Error::config(format!(
            "{what} `{}` points at a private, loopback or link-local address; \
             refused (set allow_private_addresses to allow it)",
            describe(url)
        ))
    };
    match url.host() {
        Some(url::Host::Ipv4(ip)) if is_private_ip(IpAddr::V4(ip)) => Err(refuse()),
        Some(url::Host::Ipv6(ip)) if is_private_ip(IpAddr::V6(ip)) => Err(refuse()),
        Some(url::Host::Domain(d)) => {
            let port = url.port_or_known_default().unwrap_or(443);
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((d, port))
                .await
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Unavailable,
                        format!("{what}: cannot resolve `{d}`: {e}"),
                    )
                })?
                .collect();
            if addrs.is_empty() || addrs.iter().any(|a| is_private_ip(a.ip())) {
                return Err(refuse());
            }
            Ok(())
        }
        Some(_) => Ok(()),
        None => Err(Error::config(format!("{what} has no host"))),
    }
}

/// A resolver that drops private addresses (when they are not allowed), so
/// the connection itself cannot reach one whatever DNS answers by then.
#[derive(Debug)]
struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !is_private_ip(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("`{host}` resolves to no public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP client of discovery and registration: no redirects (a
/// redirected metadata fetch could be steered anywhere), a timeout, and the
/// guarded resolver unless private addresses are allowed.
pub(crate) fn http_client(
    allow_private: bool,
    timeout: Duration,
) -> Result<reqwest::Client, Error> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)));
    if !allow_private {
        builder = builder.dns_resolver(Arc::new(GuardedResolver));
    }
    builder
        .build()
        .map_err(|e| Error::internal(format!("building the discovery HTTP client: {e}")))
}

/// What a JSON fetch found.
pub(crate) enum Fetched {
    /// A 2xx with a JSON body.
    Json(serde_json::Value),
    /// Any other status (try the next candidate).
    Status(u16),
}

/// Reads a response body up to `limit` bytes.
pub(crate) async fn read_limited(
    mut resp: reqwest::Response,
    limit: usize,
    what: &str,
) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport(what, e))? {
        if body.len() + chunk.len() > limit {
            return Err(Error::new(
                ErrorKind::Provider,
                format!("{what}: the response is larger than {limit} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub(crate) fn transport(what: &str, e: reqwest::Error) -> Error {
    let e = e.without_url();
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Unavailable
    };
    let mut cause: &dyn std::error::Error = &e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    Error::new(kind, format!("{what}: {cause}"))
}

/// GETs `url` as JSON: a 2xx must be a JSON object; other statuses are
/// reported as such, for the caller to try its next candidate.
pub(crate) async fn get_json(
    http: &reqwest::Client,
    url: &Url,
    limit: usize,
    what: &str,
) -> Result<Fetched, Error> {
    let resp = http
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| transport(what, e))?;
    let status = resp.status();
    if !status.is_success() {
        return Ok(Fetched::Status(status.as_u16()));
    }
    let body = read_limited(resp, limit, what).await?;
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|_| {
        Error::new(
            ErrorKind::Provider,
            format!("{what} `{}` is not JSON", describe(url)),
        )
    })?;
    if !value.is_object() {
        return Err(Error::new(
            ErrorKind::Provider,
            format!("{what} `{}` is not a JSON object", describe(url)),
        ));
    }
    Ok(Fetched::Json(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "255.255.255.255",
            "224.0.0.1",
        ] {
            assert!(is_private_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!is_private_ip(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn urls() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(
            check_url(&u("http://127.0.0.1:9/x"), true, "t")
                .await
                .is_ok()
        );
        let e = check_url(&u("http://127.0.0.1:9/x"), false, "t")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("allow_private_addresses"), "{e}");
        assert!(
            check_url(&u("https://[fe80::1]/x"), false, "t")
                .await
                .is_err()
        );
        assert!(
            check_url(&u("https://10.0.0.1/x"), false, "t")
                .await
                .is_err()
        );
        assert!(
            check_url(&u("https://localhost/x"), false, "t")
                .await
                .is_err()
        );
        let e = check_url(&u("http://example.com/x"), true, "t")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("plain http"), "{e}");
        assert!(
            check_url(&u("ftp://example.com/x"), true, "t")
                .await
                .is_err()
        );
        assert!(
            check_url(&u("https://a:b@example.com/x"), true, "t")
                .await
                .is_err()
        );
        assert!(check_url(&u("https://8.8.8.8/x"), false, "t").await.is_ok());
    }
}
