//! Helpers shared by the fake OAuth server tests.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use connector_testkit::oauth_server::{ClientConfig, FakeOAuthServer};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub const BASIC_ID: &str = "basic-app";
pub const POST_ID: &str = "post-app";
pub const PUBLIC_ID: &str = "public-app";
pub const SECRET: &str = "s3cr3t";

/// A client of the tests: which credentials go where.
#[derive(Clone, Copy, Debug)]
pub enum As {
    /// HTTP Basic with (id, secret).
    Basic(&'static str, &'static str),
    /// client_id and client_secret in the body.
    Post(&'static str, &'static str),
    /// client_id only.
    Public(&'static str),
}

pub const BASIC: As = As::Basic(BASIC_ID, SECRET);
pub const POST: As = As::Post(POST_ID, SECRET);
pub const PUBLIC: As = As::Public(PUBLIC_ID);

impl As {
    pub fn id(self) -> &'static str {
        match self {
            As::Basic(id, _) | As::Post(id, _) | As::Public(id) => id,
        }
    }
}

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A server with one client of each authentication method.
pub async fn server() -> FakeOAuthServer {
    let server = FakeOAuthServer::start().await;
    server.register_client(ClientConfig::basic(BASIC_ID, SECRET, REDIRECT));
    server.register_client(ClientConfig::post(POST_ID, SECRET, REDIRECT));
    server.register_client(ClientConfig::public(PUBLIC_ID, REDIRECT));
    server
}

/// A well-formed authorization URL with `extra` parameters appended.
pub fn authorization_url(
    server: &FakeOAuthServer,
    client_id: &str,
    pkce: &Pkce,
    extra: &[(&str, &str)],
) -> String {
    let mut url = url::Url::parse(&server.authorize_url()).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "st-1")
        .extend_pairs(extra);
    url.into()
}

pub fn query_param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Authorizes `client` with `scope` and returns the code.
pub async fn code(
    server: &FakeOAuthServer,
    client: As,
    pkce: &Pkce,
    scope: Option<&str>,
) -> String {
    let extra: Vec<(&str, &str)> = scope.map(|s| ("scope", s)).into_iter().collect();
    let callback = server
        .approve(&authorization_url(server, client.id(), pkce, &extra))
        .await
        .unwrap();
    assert_eq!(query_param(&callback, "state").as_deref(), Some("st-1"));
    query_param(&callback, "code").unwrap()
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Answer {
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("<no error field>")
    }

    pub fn str(&self, field: &str) -> String {
        self.json[field].as_str().unwrap().to_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        text,
        json,
    }
}

/// POSTs `form` to `url`, authenticating as `client` the way it must.
pub async fn post_form(url: &str, client: As, form: &[(&str, &str)]) -> Answer {
    let mut form: Vec<(&str, &str)> = form.to_vec();
    let mut request = http().post(url);
    match client {
        As::Basic(id, secret) => request = request.basic_auth(id, Some(secret)),
        As::Post(id, secret) => {
            form.push(("client_id", id));
            form.push(("client_secret", secret));
        }
        As::Public(id) => form.push(("client_id", id)),
    }
    answer(request.form(&form).send().await.unwrap()).await
}

pub async fn token(server: &FakeOAuthServer, client: As, form: &[(&str, &str)]) -> Answer {
    post_form(&server.token_url(), client, form).await
}

pub async fn exchange(server: &FakeOAuthServer, client: As, code: &str, pkce: &Pkce) -> Answer {
    token(
        server,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await
}

/// Authorizes and exchanges: a successful token response.
pub async fn tokens(server: &FakeOAuthServer, client: As, scope: Option<&str>) -> Answer {
    let pkce = pkce();
    let code = code(server, client, &pkce, scope).await;
    let answer = exchange(server, client, &code, &pkce).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer
}

pub async fn refresh(server: &FakeOAuthServer, client: As, refresh_token: &str) -> Answer {
    token(
        server,
        client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

pub async fn userinfo(server: &FakeOAuthServer, access_token: &str) -> Answer {
    let response = http()
        .get(server.userinfo_url())
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    answer(response).await
}

/// Asserts a token-endpoint error per RFC 6749 §5.2.
#[track_caller]
pub fn assert_oauth_error(answer: &Answer, status: StatusCode, error: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert_eq!(answer.error(), error, "{}", answer.text);
    assert!(
        answer.json["error_description"].is_string(),
        "{}",
        answer.text
    );
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
}
