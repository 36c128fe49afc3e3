//! The `agent_loop` example runs to its answer: the malformed and the
//! mistyped calls come back as tool results the scripted model acts on.

#[allow(dead_code, reason = "the example's `main` is not called here")]
#[path = "../examples/agent_loop.rs"]
mod agent_loop;

#[tokio::test]
async fn the_example_loop_reaches_the_answer() {
    let answer = agent_loop::run(false).await.unwrap();
    assert_eq!(answer, "19 + 23 = 42 and 6 × 7 = 42.");
}
