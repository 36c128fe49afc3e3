use std::hint::black_box;
use std::time::Instant;
use connector_core::vault::*;
use connector_core::Secret;
fn main() {
    let now = now_unix();
    let access = format!("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.{}.sig", "A".repeat(700));
    let mut extra = serde_json::Map::new();
    extra.insert("team_id".into(), serde_json::json!("T0123456789"));
    extra.insert("bot_user_id".into(), serde_json::json!("U0ABCDEF12"));
    let rec = TokenRecord {
        access_token: Secret::new(access),
        refresh_token: Some(Secret::new(format!("xoxe-1-{}", "r".repeat(120)))),
        token_type: "Bearer".into(),
        scopes: ["channels:read", "chat:write", "users:read", "files:read"].iter().map(|s| (*s).to_owned()).collect(),
        expires_at: Some(now + 43_200),
        issuer: Some("https://slack.com".into()),
        account_label: Some("acme-corp.slack.com".into()),
        created_at: now, updated_at: now, extra,
    };
    let key = TokenKey::new("slack", "user-42@example.com", None);
    let n = 1_000_000;
    let t = Instant::now();
    for _ in 0..n { let sk = black_box(&key).store_key(); black_box(sk.logical()); black_box(sk.render("bench")); }
    println!("keys: {:.3} us", t.elapsed().as_secs_f64()*1e6/n as f64);
    let t = Instant::now();
    for _ in 0..n { black_box(black_box(&rec).clone()); }
    println!("clone: {:.3} us", t.elapsed().as_secs_f64()*1e6/n as f64);
    let m = std::sync::Mutex::new(std::collections::HashMap::new());
    let sealed = vec![7u8; 1230];
    m.lock().unwrap().insert(key.store_key().logical(), (sealed.clone(), rec.clone()));
    let name = key.store_key().logical();
    let t = Instant::now();
    for _ in 0..n { let g = m.lock().unwrap(); let e = g.get(black_box(&name)).unwrap(); black_box(e.0 == sealed); }
    println!("lookup+cmp: {:.3} us", t.elapsed().as_secs_f64()*1e6/n as f64);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let t = Instant::now();
        for _ in 0..n { let r = tokio::time::timeout(std::time::Duration::from_secs(4), async { tokio::task::yield_now().await; 1 }).await; black_box(r.ok()); }
        println!("timeout+yield: {:.3} us", t.elapsed().as_secs_f64()*1e6/n as f64);
        let t = Instant::now();
        for _ in 0..n { let r = async { tokio::task::yield_now().await; 1 }.await; black_box(r); }
        println!("yield: {:.3} us", t.elapsed().as_secs_f64()*1e6/n as f64);
    });
}
