//! The REST client's behaviour: retries, backoff bounds, 401 refresh.

use std::time::Duration;

use connector_core::oauth::{BeginParams, CallbackParams, OAuthEngine, OAuthProvider};
use connector_core::vault::Vault;
use connector_core::{CallContext, Connector, ErrorKind, Secret};
use connector_google::GoogleConnector;
use connector_testkit::google::{FakeGoogle, Fault};
use connector_testkit::oauth_server::{ClientConfig, FakeOAuthServer};
use serde_json::json;

use crate::common::*;

const LABELS: &str = "/gmail/v1/users/me/labels";
const SEND_PATH: &str = "/gmail/v1/users/me/messages/send";

#[tokio::test]
async fn rate_limits_and_5xx_are_retried_for_reads() {
    let env = env(&[READONLY]).await;
    env.fake.push_fault(Fault::RateLimit);
    env.fake.push_fault(Fault::UserRateLimit);
    env.fake.push_fault(Fault::TooManyRequests(None));
    env.ok("list_labels", json!({})).await;
    assert_eq!(env.fake.count("GET", LABELS), 4);
    env.fake.push_fault(Fault::Unavailable);
    env.ok("list_labels", json!({})).await;
    assert_eq!(env.fake.count("GET", LABELS), 6);
}

#[tokio::test]
async fn retries_are_bounded() {
    let env = env(&[READONLY]).await;
    for _ in 0..10 {
        env.fake.push_fault(Fault::Unavailable);
    }
    let err = env.call("list_labels", json!({})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.is_retryable());
    assert_eq!(
        env.fake.count("GET", LABELS),
        4,
        "one try and three retries"
    );
}

#[tokio::test]
async fn other_403s_fail_at_once_with_the_reason() {
    let env = env(&[READONLY]).await;
    env.fake.push_fault(Fault::Forbidden);
    let err = env.call("list_labels", json!({})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert!(
        err.model_message().contains("forbidden"),
        "{}",
        err.model_message()
    );
    assert_eq!(env.fake.count("GET", LABELS), 1);
    env.fake.push_fault(Fault::InsufficientPermissions);
    let err = env.call("list_labels", json!({})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientScope);
    for e in [format!("{err}"), format!("{err:?}"), err.model_message()] {
        assert!(!e.contains(TOKEN), "token leaked: {e}");
    }
}

#[tokio::test]
async fn a_send_is_retried_after_a_rate_limit_but_never_after_a_5xx() {
    let env = env(&[SEND]).await;
    let args = json!({"to": ["bob@example.com"], "subject": "Hi", "body": "Hello"});
    env.fake.push_fault(Fault::RateLimit);
    env.fake.push_fault(Fault::TooManyRequests(Some(0)));
    env.ok("send_message", args.clone()).await;
    assert_eq!(env.fake.count("POST", SEND_PATH), 3);
    assert_eq!(env.fake.sent().len(), 1);

    env.fake.push_fault(Fault::Unavailable);
    let err = env.call("send_message", args).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(
        env.fake.count("POST", SEND_PATH),
        4,
        "a 5xx send is not resent"
    );
    assert!(
        err.model_message().contains("Check first"),
        "{}",
        err.model_message()
    );
}

#[tokio::test]
async fn retries_stop_at_the_deadline() {
    let env = env(&[READONLY]).await;
    // A long Retry-After is not waited out past the call's deadline.
    env.fake.push_fault(Fault::TooManyRequests(Some(30)));
    let cx = CallContext::new(USER).with_timeout(Duration::from_millis(5));
    let started = std::time::Instant::now();
    let err = env
        .connector
        .call(&cx, "list_labels", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::RateLimited | ErrorKind::Timeout),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));

    // A Retry-After longer than the longest backoff is reported at once,
    // with the time to wait, even when the deadline would allow waiting.
    env.fake.push_fault(Fault::TooManyRequests(Some(30)));
    let started = std::time::Instant::now();
    let err = env.call("list_labels", json!({})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(env.fake.count("GET", LABELS), 2);
}

#[tokio::test]
async fn a_401_refreshes_once_and_retries_once() {
    const REDIRECT: &str = "http://127.0.0.1:8765/callback";
    let logs = connector_testkit::logs::LogCapture::global();
    let oauth = FakeOAuthServer::start().await;
    oauth.register_client(ClientConfig::basic("cid", "client-secret-value", REDIRECT));
    oauth.set_granted_scopes(Some(vec![READONLY.to_owned()]));
    let mut spec = connector_google::oauth_spec();
    spec.authorize_url = oauth.authorize_url();
    spec.token_url = oauth.token_url();
    spec.revocation_url = Some(oauth.revocation_url());
    spec.default_scopes = vec![READONLY.into()];
    let mut provider = OAuthProvider::new("google", spec, None).unwrap();
    provider.client_id = Some("cid".into());
    provider.client_secret = Some(Secret::new("client-secret-value"));
    provider.redirect_uri = Some(REDIRECT.into());
    let engine = OAuthEngine::builder(Vault::in_memory().unwrap())
        .provider(provider)
        .build()
        .unwrap();
    let req = engine
        .begin_with(BeginParams {
            user: USER.into(),
            provider: "google".into(),
            ..BeginParams::default()
        })
        .await
        .unwrap();
    // Nothing stored yet: Google must be asked for consent (for a refresh token).
    let query: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
    assert!(
        query.contains(&("prompt".into(), "consent".into())),
        "{query:?}"
    );
    assert!(query.contains(&("access_type".into(), "offline".into())));
    let callback = oauth.approve(req.url.as_str()).await.unwrap();
    engine
        .handle_callback(
            &CallbackParams::from_query(callback.query().unwrap_or("")),
            Some(USER),
        )
        .await
        .unwrap();
    // A refresh token is stored now: an incremental authorization does not
    // force the consent screen again.
    let again = engine
        .begin_with(BeginParams {
            user: USER.into(),
            provider: "google".into(),
            scopes: vec![
                READONLY.into(),
                "https://www.googleapis.com/auth/calendar.readonly".into(),
            ],
            ..BeginParams::default()
        })
        .await
        .unwrap();
    assert!(
        !again.url.query_pairs().any(|(k, _)| k == "prompt"),
        "{}",
        again.url
    );
    let first = engine
        .access(USER, "google", None)
        .await
        .unwrap()
        .access_token;

    let google = FakeGoogle::start().await;
    // Google has revoked the first access token early; any newer one works.
    let checker = oauth.clone();
    let revoked = first.expose().to_owned();
    google.set_token_check(move |t| t != revoked && checker.is_active(t));
    let connector = GoogleConnector::builder(engine.clone())
        .base_url(google.url())
        .retry(fast_retry())
        .build()
        .unwrap();
    let cx = CallContext::new(USER);
    let out = connector.call(&cx, "list_labels", json!({})).await.unwrap();
    assert!(!out.is_error);
    assert_eq!(google.count("GET", LABELS), 2);
    assert_eq!(oauth.counters().refresh_successes, 1);

    // A token Google keeps refusing: one refresh, then reauthorization.
    google.set_token_check(|_| false);
    let err = connector
        .call(&cx, "list_labels", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NeedsReauthorization);
    assert_eq!(google.count("GET", LABELS), 4);
    assert_eq!(oauth.counters().refresh_successes, 2);

    // Nothing secret in the error or in any log line, even at TRACE (HTTP
    // clients, the engine, the connector).
    let text = logs.text();
    assert!(text.contains("token refreshed"), "logs were captured");
    assert!(
        text.contains("hyper_util"),
        "HTTP clients' TRACE lines were captured"
    );
    let secrets = oauth.issued_secrets();
    assert!(secrets.len() >= 4, "{}", secrets.len());
    for secret in secrets
        .iter()
        .map(String::as_str)
        .chain(["client-secret-value"])
    {
        assert!(!text.contains(secret), "a secret is in the logs");
        assert!(
            !format!("{err} {err:?}").contains(secret),
            "a secret is in the error"
        );
    }
}

#[tokio::test]
async fn a_timed_out_read_is_retried_but_a_timed_out_send_is_not() {
    let env = env(&[SEND, READONLY]).await;
    let connector = GoogleConnector::builder(engine_of(&env))
        .base_url(env.fake.url())
        .retry(fast_retry())
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let cx = CallContext::new(USER);
    env.fake
        .push_fault(Fault::Stall(Duration::from_millis(400)));
    connector.call(&cx, "list_labels", json!({})).await.unwrap();
    assert_eq!(env.fake.count("GET", LABELS), 2);

    env.fake
        .push_fault(Fault::Stall(Duration::from_millis(400)));
    let args = json!({"to": ["bob@example.com"], "subject": "Once", "body": "Only once"});
    let err = connector.call(&cx, "send_message", args).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(
        env.fake.count("POST", SEND_PATH),
        1,
        "a send whose outcome is unknown is not resent"
    );
    // ...and the model is told to check before trying again, not to retry.
    let told = err.model_message();
    assert!(told.contains("may have been carried out"), "{told}");
    assert!(!told.contains("try again later"), "{told}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.fake.sent().len(), 1, "the stalled send did go out");
}

#[tokio::test]
async fn a_connection_that_never_opened_is_retried_then_reported() {
    let env = env(&[SEND]).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let connector = GoogleConnector::builder(engine_of(&env))
        .base_url(format!("http://{closed}"))
        .retry(fast_retry())
        .build()
        .unwrap();
    let err = connector
        .call(
            &CallContext::new(USER),
            "send_message",
            json!({"to": ["b@example.com"], "body": "x"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(!err.to_string().contains(TOKEN));
}

#[test]
fn base_url_must_be_https_or_loopback() {
    let engine = OAuthEngine::builder(Vault::in_memory().unwrap())
        .build()
        .unwrap();
    let err = GoogleConnector::builder(engine.clone())
        .base_url("http://gmail.example.com")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    GoogleConnector::builder(engine)
        .base_url("https://proxy.example.com")
        .build()
        .unwrap();
}

#[tokio::test]
async fn the_registry_builds_it_with_the_configured_base_url() {
    use connector_core::oauth::ProviderSettings;
    use connector_core::{BuildContext, Registry};
    let env = env(&[READONLY]).await;
    let registry = Registry::from_inventory().unwrap();
    let settings = ProviderSettings {
        base_url: Some(env.fake.url()),
        ..ProviderSettings::default()
    };
    let built = registry
        .get("google")
        .unwrap()
        .build(&BuildContext {
            oauth: engine_of(&env),
            settings: Some(settings),
        })
        .unwrap()
        .unwrap();
    let out = built
        .call(&CallContext::new(USER), "list_labels", json!({}))
        .await
        .unwrap();
    assert!(!out.is_error);
    assert_eq!(env.fake.count("GET", LABELS), 1);
}

#[tokio::test]
async fn google_refuses_what_the_grant_does_not_cover_and_nothing_is_retried() {
    // The stored record says calendar.readonly was granted, but Google's
    // grant (the user unticked it on the consent screen, or revoked it
    // since) covers Gmail only.
    let calendar_readonly = "https://www.googleapis.com/auth/calendar.readonly";
    let env = env(&[READONLY, calendar_readonly]).await;
    env.fake
        .accept_token_with_scopes(TOKEN, &["gmail.readonly"]);
    env.ok("list_labels", json!({})).await;

    let err = env.call("list_calendars", json!({})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientScope, "{err}");
    assert!(
        err.model_message().contains("reconnect"),
        "{}",
        err.model_message()
    );
    assert_eq!(
        env.fake.count("GET", "/calendar/v3/users/me/calendarList"),
        1,
        "a 403 for scopes is not retried"
    );
    assert!(
        env.fake.violations().is_empty(),
        "{:?}",
        env.fake.violations()
    );

    // Drive: metadata scopes list and describe files but do not read them.
    let drive_readonly = "https://www.googleapis.com/auth/drive.readonly";
    let drive = crate::common::env(&[drive_readonly]).await;
    drive
        .fake
        .accept_token_with_scopes(TOKEN, &["drive.metadata.readonly"]);
    let doc = "1DoCq3BuDgEtNoTeS0aBcDeFgHiJkLmNoPqRsTuVwXy";
    drive.ok("get_file", json!({"file_id": doc})).await;
    let err = drive
        .call("read_file", json!({"file_id": doc}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientScope, "{err}");
    // Refused by Google (the stored record claimed drive.readonly).
    assert!(err.detail().contains("insufficientPermissions"), "{err}");
    assert!(
        drive.fake.violations().is_empty(),
        "{:?}",
        drive.fake.violations()
    );
}
