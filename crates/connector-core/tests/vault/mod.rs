//! The token vault, through the `Vault` API, on every backend: the same
//! behavioural checks (`checks`) run on memory, embedded and Redis (single
//! node and cluster), plus backend-specific tests.

mod checks;
mod cluster;
mod config;
mod embedded;
mod fixture;
mod redis;

/// Generates one `#[tokio::test]` per behavioural check for a backend whose
/// fixture `$make` (an async fn) builds.
macro_rules! behaviour_tests {
    ($make:path) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn roundtrip() {
            let f = $make().await;
            crate::vault::checks::roundtrip(&f).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn ttl_expiry() {
            let f = $make().await;
            crate::vault::checks::ttl_expiry(&f).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn take_is_single_use_under_50_takers() {
            let f = $make().await;
            crate::vault::checks::take_single_use(&f).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn locks_exclude_expire_and_need_the_token() {
            let f = $make().await;
            crate::vault::checks::locks(&f).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn users_cannot_reach_each_other() {
            let f = $make().await;
            crate::vault::checks::user_isolation(&f).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn no_plaintext_at_rest() {
            let f = $make().await;
            crate::vault::checks::no_plaintext(&f).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn values_are_bound_to_their_key() {
            let f = $make().await;
            crate::vault::checks::aad_binding(&f).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn key_rotation() {
            let f = $make().await;
            crate::vault::checks::rotation(&f).await;
        }
    };
}

mod memory {
    behaviour_tests!(crate::vault::fixture::memory);
}

mod embedded_behaviour {
    behaviour_tests!(crate::vault::fixture::embedded);
}

mod redis_behaviour {
    behaviour_tests!(crate::vault::fixture::redis);
}
