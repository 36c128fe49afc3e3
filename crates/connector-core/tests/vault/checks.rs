//! Behavioural checks every backend must pass, through the `Vault` API.

use std::sync::Arc;
use std::time::Duration;

use connector_core::ErrorKind;
use connector_core::vault::{Keyring, StoreKey, TokenKey, Vault, key};

use super::fixture::{Fixture, Raw, RawRedis, dump_redis};
use crate::common::{bounded, contains, keyring, record};

const LIMIT: Duration = Duration::from_secs(20);

fn vault(f: &Fixture) -> Vault {
    Vault::new(Arc::clone(&f.store), keyring("k1").0)
}

pub async fn roundtrip(f: &Fixture) {
    bounded(LIMIT, "roundtrip", async {
        let v = vault(f);
        let slack = TokenKey::new("slack", "alice", None);
        let gh_work = TokenKey::new("github", "alice", Some("work"));
        let gh_home = TokenKey::new("github", "alice", Some("home"));
        let bob = TokenKey::new("slack", "bob", None);
        assert_eq!(v.load_token(&slack).await.unwrap(), None);
        assert!(v.list_tokens("alice").await.unwrap().is_empty());

        let r1 = record("xoxb-roundtrip-1", "xoxe-roundtrip-1");
        v.save_token(&slack, &r1).await.unwrap();
        v.save_token(&gh_work, &record("gho-work", "ghr-work"))
            .await
            .unwrap();
        v.save_token(&gh_home, &record("gho-home", "ghr-home"))
            .await
            .unwrap();
        v.save_token(&bob, &record("xoxb-bob", "xoxe-bob"))
            .await
            .unwrap();
        assert_eq!(v.load_token(&slack).await.unwrap(), Some(r1.clone()));
        assert_eq!(
            v.list_tokens("alice").await.unwrap(),
            vec![gh_home.clone(), gh_work.clone(), slack.clone()]
        );
        assert_eq!(v.list_tokens("bob").await.unwrap(), vec![bob.clone()]);

        // Overwrite.
        let r2 = record("xoxb-roundtrip-2", "xoxe-roundtrip-2");
        v.save_token(&slack, &r2).await.unwrap();
        assert_eq!(v.load_token(&slack).await.unwrap(), Some(r2));
        assert_eq!(v.list_tokens("alice").await.unwrap().len(), 3);

        // Delete.
        assert!(v.delete_token(&slack).await.unwrap());
        assert!(!v.delete_token(&slack).await.unwrap());
        assert_eq!(v.load_token(&slack).await.unwrap(), None);
        assert_eq!(
            v.list_tokens("alice").await.unwrap(),
            vec![gh_home, gh_work]
        );
        assert_eq!(v.list_tokens("bob").await.unwrap(), vec![bob]);

        // A record rewritten by another process (another vault on the same
        // store) is seen at once, although this vault opened the old one.
        let gh = TokenKey::new("github", "alice", Some("work"));
        assert_eq!(
            v.load_token(&gh)
                .await
                .unwrap()
                .unwrap()
                .access_token
                .expose(),
            "gho-work"
        );
        let other_process = Vault::new(Arc::clone(&f.store), v.keyring().clone());
        other_process
            .save_token(&gh, &record("gho-work-refreshed", "ghr-work"))
            .await
            .unwrap();
        assert_eq!(
            v.load_token(&gh)
                .await
                .unwrap()
                .unwrap()
                .access_token
                .expose(),
            "gho-work-refreshed"
        );
        other_process.delete_token(&gh).await.unwrap();
        assert_eq!(v.load_token(&gh).await.unwrap(), None);
        other_process
            .save_token(&gh, &record("gho-work", "ghr-work"))
            .await
            .unwrap();

        // Other namespaces are not listed as tokens.
        let state = StoreKey::new(key::NS_STATE, Some("alice"), &["s1"]);
        v.put_value(&state, &"pending", None).await.unwrap();
        assert_eq!(v.list_tokens("alice").await.unwrap().len(), 2);
        assert_eq!(
            f.store.list(key::NS_STATE, "alice").await.unwrap(),
            vec![state.clone()]
        );
        assert_eq!(
            v.take_value::<String>(&state).await.unwrap().as_deref(),
            Some("pending")
        );
        assert!(
            f.store
                .list(key::NS_STATE, "alice")
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

pub async fn ttl_expiry(f: &Fixture) {
    bounded(LIMIT, "ttl expiry", async {
        let v = vault(f);
        let short = StoreKey::new(key::NS_STATE, Some("carol"), &["short"]);
        let long = StoreKey::new(key::NS_STATE, Some("carol"), &["long"]);
        let global = StoreKey::new(key::NS_STATE, None, &["global"]);
        v.put_value(&short, &"s", Some(Duration::from_millis(300)))
            .await
            .unwrap();
        v.put_value(&global, &"g", Some(Duration::from_millis(300)))
            .await
            .unwrap();
        v.put_value(&long, &"l", Some(Duration::from_secs(60)))
            .await
            .unwrap();
        assert_eq!(
            v.get_value::<String>(&short).await.unwrap().as_deref(),
            Some("s")
        );
        // Keys with a ttl are never listed.
        assert!(
            f.store
                .list(key::NS_STATE, "carol")
                .await
                .unwrap()
                .is_empty()
        );

        // A listed key that gets a ttl leaves the list.
        let tok = TokenKey::new("slack", "carol", None);
        v.save_token(&tok, &record("xoxb-carol", "xoxe-carol"))
            .await
            .unwrap();
        assert_eq!(v.list_tokens("carol").await.unwrap(), vec![tok.clone()]);
        v.put_value(
            &tok.store_key(),
            &record("xoxb-carol", "xoxe-carol"),
            Some(Duration::from_millis(300)),
        )
        .await
        .unwrap();
        assert!(v.list_tokens("carol").await.unwrap().is_empty());

        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(v.get_value::<String>(&short).await.unwrap(), None);
        assert_eq!(v.get_value::<String>(&global).await.unwrap(), None);
        assert_eq!(v.take_value::<String>(&short).await.unwrap(), None);
        assert!(!v.delete_value(&short).await.unwrap());
        assert_eq!(v.load_token(&tok).await.unwrap(), None);
        assert_eq!(
            v.get_value::<String>(&long).await.unwrap().as_deref(),
            Some("l")
        );

        // A zero ttl is expired at once.
        v.put_value(&short, &"z", Some(Duration::ZERO))
            .await
            .unwrap();
        assert_eq!(v.get_value::<String>(&short).await.unwrap(), None);

        // An expired key can be written again, without a ttl this time.
        v.save_token(&tok, &record("xoxb-carol-2", "xoxe-carol-2"))
            .await
            .unwrap();
        assert_eq!(v.list_tokens("carol").await.unwrap(), vec![tok]);
    })
    .await;
}

pub async fn take_single_use(f: &Fixture) {
    bounded(LIMIT, "50 concurrent takes", async {
        let v = vault(f);
        for round in 0..3 {
            let state = StoreKey::new(key::NS_STATE, Some("dave"), &[&format!("st-{round}")]);
            v.put_value(
                &state,
                &format!("verifier-{round}"),
                Some(Duration::from_secs(60)),
            )
            .await
            .unwrap();
            let barrier = Arc::new(tokio::sync::Barrier::new(50));
            let mut tasks = Vec::new();
            for _ in 0..50 {
                let (v, state, barrier) = (v.clone(), state.clone(), Arc::clone(&barrier));
                tasks.push(tokio::spawn(async move {
                    barrier.wait().await;
                    v.take_value::<String>(&state).await.unwrap()
                }));
            }
            let mut winners = Vec::new();
            for t in tasks {
                if let Some(val) = t.await.unwrap() {
                    winners.push(val);
                }
            }
            assert_eq!(winners, vec![format!("verifier-{round}")], "round {round}");
            assert_eq!(v.get_value::<String>(&state).await.unwrap(), None);
        }
    })
    .await;
}

pub async fn locks(f: &Fixture) {
    bounded(LIMIT, "locks", async {
        let store = &f.store;
        let lk = TokenKey::new("slack", "erin", None).lock_key();
        let other = TokenKey::new("slack", "erin", Some("other")).lock_key();

        let t1 = store
            .try_lock(&lk, Duration::from_secs(30))
            .await
            .unwrap()
            .expect("a free lock is taken");
        assert_eq!(
            store.try_lock(&lk, Duration::from_secs(30)).await.unwrap(),
            None
        );
        // Another lock is independent.
        let t_other = store
            .try_lock(&other, Duration::from_secs(30))
            .await
            .unwrap();
        assert!(t_other.is_some());

        // The wrong token does not release it.
        let forged = connector_core::vault::LockToken("not-the-token".into());
        store.unlock(&lk, &forged).await.unwrap();
        assert_eq!(
            store.try_lock(&lk, Duration::from_secs(30)).await.unwrap(),
            None
        );
        // The right one does.
        store.unlock(&lk, &t1).await.unwrap();
        let t2 = store
            .try_lock(&lk, Duration::from_millis(300))
            .await
            .unwrap()
            .expect("released lock is free");
        assert_ne!(t1, t2);

        // It expires; whoever takes it next is not released by the old token.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let t3 = store
            .try_lock(&lk, Duration::from_secs(30))
            .await
            .unwrap()
            .expect("expired lock is free");
        store.unlock(&lk, &t2).await.unwrap();
        assert_eq!(
            store.try_lock(&lk, Duration::from_secs(30)).await.unwrap(),
            None
        );
        store.unlock(&lk, &t3).await.unwrap();
        assert!(
            store
                .try_lock(&lk, Duration::from_secs(1))
                .await
                .unwrap()
                .is_some()
        );
        // Locks are never listed.
        assert!(store.list(key::NS_LOCK, "erin").await.unwrap().is_empty());

        // Of 20 concurrent contenders, exactly one gets it.
        let contested = TokenKey::new("github", "erin", None).lock_key();
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (s, k) = (Arc::clone(store), contested.clone());
            tasks.push(tokio::spawn(async move {
                s.try_lock(&k, Duration::from_secs(30)).await.unwrap()
            }));
        }
        let mut got = 0;
        for t in tasks {
            got += usize::from(t.await.unwrap().is_some());
        }
        assert_eq!(got, 1);
    })
    .await;
}

/// User ids that try to reach each other's keys.
pub const TRICKY_USERS: &[&str] = &[
    "a:b",
    "a",
    "{x}",
    "x",
    "}x{",
    "line\nbreak",
    "line",
    "ünïcødé-ユーザー",
    "",
    "~",
    "%7E",
    "a%3Ab",
    "tok:{a}:b",
];

pub async fn user_isolation(f: &Fixture) {
    bounded(LIMIT, "user isolation", async {
        let v = vault(f);
        let token_of = |i: usize| format!("isolation-token-{i}");
        for (i, user) in TRICKY_USERS.iter().enumerate() {
            let k = TokenKey::new("p", user, None);
            v.save_token(&k, &record(&token_of(i), "r")).await.unwrap();
        }
        // `a` with provider `b:p` would be `a:b` with provider `p` under a
        // naive `user:provider` scheme.
        let sneaky = TokenKey::new("b:p", "a", None);
        v.save_token(&sneaky, &record("sneaky-token", "r"))
            .await
            .unwrap();
        let sneaky2 = TokenKey::new("p", "a", Some("default:x"));
        v.save_token(&sneaky2, &record("sneaky-token-2", "r"))
            .await
            .unwrap();

        for (i, user) in TRICKY_USERS.iter().enumerate() {
            let k = TokenKey::new("p", user, None);
            let got = v.load_token(&k).await.unwrap().expect("own token");
            assert_eq!(got.access_token.expose(), token_of(i), "user {user:?}");
            let mut listed = v.list_tokens(user).await.unwrap();
            listed.retain(|t| t.provider == "p" && t.account == "default");
            assert_eq!(listed, vec![k], "user {user:?}");
        }
        let mut a = v.list_tokens("a").await.unwrap();
        a.sort();
        let mut want = vec![
            TokenKey::new("p", "a", None),
            TokenKey::new("b:p", "a", None),
            sneaky2.clone(),
        ];
        want.sort();
        assert_eq!(a, want);
        assert_eq!(v.list_tokens("a:b").await.unwrap().len(), 1);
        assert_eq!(v.list_tokens("x").await.unwrap().len(), 1);
        assert_eq!(v.list_tokens("{x}").await.unwrap().len(), 1);
        assert_eq!(v.list_tokens("").await.unwrap().len(), 1);
        assert!(v.list_tokens("nobody").await.unwrap().is_empty());

        // Deleting one user's token leaves the look-alikes alone.
        assert!(
            v.delete_token(&TokenKey::new("p", "a:b", None))
                .await
                .unwrap()
        );
        for (i, user) in TRICKY_USERS
            .iter()
            .enumerate()
            .filter(|(_, u)| **u != "a:b")
        {
            let got = v.load_token(&TokenKey::new("p", user, None)).await.unwrap();
            assert_eq!(got.unwrap().access_token.expose(), token_of(i));
        }
    })
    .await;
}

/// Distinctive strings that must never be found at rest.
pub const PLAIN_TOKENS: &[&str] = &["xoxb-PLAINTEXT-CANARY-4417", "xoxe-REFRESH-CANARY-9921"];
pub const PLAIN_USER: &str = "canary-user-zebra-8841";

pub async fn no_plaintext(f: &Fixture) {
    bounded(LIMIT, "no plaintext at rest", async {
        let v = vault(f);
        let keys = [
            TokenKey::new("slack", PLAIN_USER, None),
            TokenKey::new("github", PLAIN_USER, Some("work")),
            TokenKey::new("slack", "a:b{c}\n", None),
        ];
        for k in &keys {
            v.save_token(k, &record(PLAIN_TOKENS[0], PLAIN_TOKENS[1]))
                .await
                .unwrap();
        }
        let state = StoreKey::new(key::NS_STATE, Some(PLAIN_USER), &["st"]);
        v.put_value(&state, &PLAIN_TOKENS[0], Some(Duration::from_secs(60)))
            .await
            .unwrap();

        let mut values: Vec<Vec<u8>> = Vec::new();
        for k in &keys {
            values.push(f.store.get(&k.store_key()).await.unwrap().unwrap());
        }
        values.push(f.store.get(&state).await.unwrap().unwrap());
        match &f.raw {
            Raw::Memory => {}
            Raw::File(path) => {
                let bytes = std::fs::read(path).unwrap();
                for t in PLAIN_TOKENS {
                    assert!(!contains(&bytes, t.as_bytes()), "{t} in the embedded file");
                }
            }
            Raw::Redis { urls, prefix } => {
                let dump = dump_redis(urls, prefix).await;
                // 3 tokens + 1 state + the index sets of 2 users.
                assert_eq!(
                    dump.len(),
                    6,
                    "{:?}",
                    dump.iter().map(|d| &d.0).collect::<Vec<_>>()
                );
                for (k, vals) in dump {
                    for t in PLAIN_TOKENS {
                        assert!(!k.contains(t), "{t} in a key name");
                    }
                    values.extend(vals);
                }
            }
        }
        for val in &values {
            for t in PLAIN_TOKENS {
                assert!(!contains(val, t.as_bytes()), "{t} in a stored value");
            }
            assert!(
                !contains(val, PLAIN_USER.as_bytes()),
                "user id in a stored value"
            );
            assert!(!contains(val, b"zebra"), "user id in a stored value");
        }
    })
    .await;
}

pub async fn aad_binding(f: &Fixture) {
    bounded(LIMIT, "aad binding", async {
        let v = vault(f);
        let alice = TokenKey::new("slack", "alice", None);
        let mallory = TokenKey::new("slack", "mallory", None);
        v.save_token(&alice, &record("xoxb-alice-aad", "r"))
            .await
            .unwrap();
        // Mallory's own record, loaded once (so this vault has opened it).
        v.save_token(&mallory, &record("xoxb-mallory-own", "r"))
            .await
            .unwrap();
        assert!(v.load_token(&mallory).await.unwrap().is_some());
        let sealed = f.store.get(&alice.store_key()).await.unwrap().unwrap();
        f.store
            .set(&mallory.store_key(), &sealed, None)
            .await
            .unwrap();
        let err = v.load_token(&mallory).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Store, "{err}");
        assert!(!err.to_string().contains("xoxb-alice-aad"));
        // Moved to another provider or account of the same user: refused too.
        let moved = TokenKey::new("github", "alice", None);
        f.store
            .set(&moved.store_key(), &sealed, None)
            .await
            .unwrap();
        assert_eq!(
            v.load_token(&moved).await.unwrap_err().kind(),
            ErrorKind::Store
        );
        // Garbage is a store error, not a panic.
        f.store
            .set(&mallory.store_key(), b"garbage", None)
            .await
            .unwrap();
        assert_eq!(
            v.load_token(&mallory).await.unwrap_err().kind(),
            ErrorKind::Store
        );
        assert_eq!(
            v.load_token(&alice)
                .await
                .unwrap()
                .unwrap()
                .access_token
                .expose(),
            "xoxb-alice-aad"
        );
    })
    .await;
}

/// The key id a sealed value names.
fn sealed_key_id(sealed: &[u8]) -> &str {
    let len = sealed[2] as usize;
    std::str::from_utf8(&sealed[3..3 + len]).unwrap()
}

pub async fn rotation(f: &Fixture) {
    bounded(LIMIT, "key rotation", async {
        let (ring_a, spec_a) = keyring("A");
        let (_, spec_b) = keyring("B");
        let va = Vault::new(Arc::clone(&f.store), ring_a);
        let old = TokenKey::new("slack", "frank", None);
        va.save_token(&old, &record("xoxb-old-key", "r"))
            .await
            .unwrap();

        let vba = Vault::new(
            Arc::clone(&f.store),
            Keyring::parse(&format!("{spec_b},{spec_a}")).unwrap(),
        );
        assert_eq!(
            vba.load_token(&old)
                .await
                .unwrap()
                .unwrap()
                .access_token
                .expose(),
            "xoxb-old-key"
        );
        let new = TokenKey::new("github", "frank", None);
        vba.save_token(&new, &record("gho-new-key", "r"))
            .await
            .unwrap();
        let sealed = f.store.get(&new.store_key()).await.unwrap().unwrap();
        assert_eq!(sealed_key_id(&sealed), "B");
        // Re-saving the old record moves it to B.
        let rec = vba.load_token(&old).await.unwrap().unwrap();
        vba.save_token(&old, &rec).await.unwrap();
        let sealed = f.store.get(&old.store_key()).await.unwrap().unwrap();
        assert_eq!(sealed_key_id(&sealed), "B");

        // A process still on A alone cannot read B's values.
        let err = va.load_token(&new).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Store);
        assert!(err.to_string().contains("`B`"), "{err}");
        // B alone reads everything once re-sealed.
        let vb = Vault::new(Arc::clone(&f.store), Keyring::parse(&spec_b).unwrap());
        assert!(vb.load_token(&old).await.unwrap().is_some());
        assert!(vb.load_token(&new).await.unwrap().is_some());
    })
    .await;
}

/// Raw-redis variant of [`aad_binding`]: copies the bytes with GET/SET.
pub async fn aad_binding_raw_redis(f: &Fixture) {
    let Raw::Redis { urls, prefix } = &f.raw else {
        panic!("not a redis fixture")
    };
    bounded(LIMIT, "raw aad binding", async {
        let v = vault(f);
        let alice = TokenKey::new("slack", "alice", None);
        let mallory = TokenKey::new("slack", "mallory", None);
        v.save_token(&alice, &record("xoxb-alice-raw", "r"))
            .await
            .unwrap();
        v.save_token(&mallory, &record("xoxb-mallory-raw", "r"))
            .await
            .unwrap();
        let mut raw = RawRedis::connect(urls).await;
        let sealed = raw.get(&alice.store_key().render(prefix)).await.unwrap();
        raw.set(&mallory.store_key().render(prefix), &sealed).await;
        let err = v.load_token(&mallory).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Store, "{err}");
        assert!(err.to_string().contains("failed to decrypt"), "{err}");
    })
    .await;
}
