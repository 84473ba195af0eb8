//! Criterion benchmarks, all variants in one process, side by side:
//!
//! * `tools_call/*`: one `tools/call` round trip over an rmcp duplex transport, per variant, client and server
//!   on one current-thread runtime;
//! * `disabled/is_enabled`: the first thing the wrapper does on every request when analytics is disabled;
//! * `identity_cache/*`: a tool call through the manual API with 1 or 100,000 live, identified sessions (every
//!   measured call is a cache hit), and the same calls with no identify function at all (no cache lookup), so
//!   that the difference at 100,000 sessions is the cache's share and not the cost of cold session state.
//!
//! `cargo bench -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::atomic::Ordering;

use criterion::{Criterion, criterion_group, criterion_main};
use posthog_mcp_bench::{LoopbackSink, Setup, Variant, call, identity_cache, init_global_disabled};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn tools_call(c: &mut Criterion) {
    init_global_disabled();
    let sink = LoopbackSink::start();
    // Client and server share one thread, so a round trip's wall time is the work on the request path and not
    // the latency of waking parked threads, which on this shared 2-core machine swings by 2x between runs.
    // Background delivery (posthog-mcp's worker, posthog-rs's transport thread) still runs on its own thread;
    // its cost shows in the CPU report of `src/bin/cpu.rs`.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let setups: Vec<Setup> = Variant::ALL
        .iter()
        .map(|&variant| rt.block_on(Setup::new(variant, &sink.url)))
        .collect();
    let mut group = c.benchmark_group("tools_call");
    for setup in &setups {
        group.bench_function(setup.variant.name(), |b| {
            b.iter(|| rt.block_on(call(&setup.client)));
        });
        // Keep one variant's backlog from running into the next one's measurement.
        rt.block_on(setup.settle());
    }
    group.finish();
    eprintln!(
        "loopback sink: {} requests, {} body bytes",
        sink.requests.load(Ordering::Relaxed),
        sink.bytes.load(Ordering::Relaxed)
    );
}

fn disabled(c: &mut Criterion) {
    init_global_disabled();
    let analytics = posthog_mcp::global();
    assert!(!analytics.is_enabled());
    let mut group = c.benchmark_group("disabled");
    group.bench_function("is_enabled", |b| {
        b.iter(|| black_box(black_box(analytics).is_enabled()));
    });
    group.finish();
}

fn identity(c: &mut Criterion) {
    const SESSIONS: usize = 100_000;
    let rt = runtime();
    let mut group = c.benchmark_group("identity_cache");
    for (name, sessions, identify) in [
        ("no_identify_fn", 1, false),
        ("hit_1_session", 1, true),
        ("no_identify_fn_100k_sessions", SESSIONS, false),
        ("hit_100k_sessions", SESSIONS, true),
    ] {
        let populated = rt.block_on(identity_cache::populate(sessions, identify));
        let before = populated.identify_calls.load(Ordering::Relaxed);
        assert_eq!(before, if identify { sessions } else { 0 });
        let mut i: usize = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                // A stride coprime with 100,000 walks every session in a cache-unfriendly order.
                i = (i + 7_919) % sessions;
                rt.block_on(identity_cache::one_call(
                    &populated.server,
                    &populated.connections[i],
                    &populated.requests[i],
                ))
            });
        });
        let after = populated.identify_calls.load(Ordering::Relaxed);
        assert_eq!(after, before, "every measured lookup was a cache hit");
        rt.block_on(
            populated
                .analytics
                .flush(std::time::Duration::from_secs(30)),
        );
    }
    group.finish();
}

criterion_group!(benches, tools_call, disabled, identity);
criterion_main!(benches);
