//! CPU time and wall time per `tools/call`, per variant, summed over all threads of the process.
//!
//! For each round and variant: warm up, then read `getrusage(RUSAGE_SELF)`, make N calls one after another,
//! wait until the variant's background delivery has handled every event (posthog-mcp's worker, posthog-rs's
//! transport thread), and read it again. The loopback sink's own CPU time is subtracted: it stands in for
//! PostHog, not for the host. Rounds interleave the variants; each round is compared with its own bare figures
//! and the median over rounds is reported.
//!
//! `cargo run --release --bin cpu -- [CALLS] [ROUNDS] [VARIANT…]` (defaults 20000, 3 and every variant)

use std::time::{Duration, Instant};

use posthog_mcp_bench::{LoopbackSink, Setup, Variant, call, init_global_disabled, process_cpu};

fn main() {
    let mut args = std::env::args().skip(1);
    let calls: u32 = args.next().map_or(20_000, |a| a.parse().expect("CALLS"));
    let rounds: usize = args.next().map_or(3, |a| a.parse().expect("ROUNDS"));
    // Optional: only the variants whose names contain one of these words (`bare_rmcp` always runs: the ratios
    // are taken to it).
    let only: Vec<String> = args.collect();
    init_global_disabled();
    let sink = LoopbackSink::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let setups: Vec<Setup> = Variant::ALL
        .iter()
        .filter(|v| {
            **v == Variant::Bare
                || only.is_empty()
                || only.iter().any(|o| v.name().contains(o.as_str()))
        })
        .map(|&variant| rt.block_on(Setup::new(variant, &sink.url)))
        .collect();

    // (cpu per call, wall per call) per variant per round.
    let mut samples: Vec<Vec<(Duration, Duration)>> = vec![Vec::new(); setups.len()];
    for _ in 0..rounds {
        for (index, setup) in setups.iter().enumerate() {
            rt.block_on(async {
                for _ in 0..calls / 10 {
                    call(&setup.client).await;
                }
                setup.settle().await;
            });
            let sink_before = sink.cpu();
            let cpu_before = process_cpu();
            let wall_before = Instant::now();
            rt.block_on(async {
                for _ in 0..calls {
                    call(&setup.client).await;
                }
                setup.settle().await;
            });
            let wall = wall_before.elapsed();
            let cpu = process_cpu()
                .saturating_sub(cpu_before)
                .saturating_sub(sink.cpu().saturating_sub(sink_before));
            samples[index].push((cpu / calls, wall / calls));
        }
    }

    // Each round's figures are divided by the same round's bare figures (paired), so that drift in the
    // machine's speed between rounds cancels; the median over rounds is reported.
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    println!(
        "{calls} calls per variant, {rounds} rounds interleaved, median over rounds; CPU is all threads, sink excluded"
    );
    println!(
        "{:<30} {:>12} {:>10} {:>12} {:>10} {:>14}",
        "variant", "cpu/call", "cpu x bare", "wall/call", "wall x bare", "added cpu"
    );
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    for (setup, own) in setups.iter().zip(&samples) {
        let bare = &samples[0];
        let cpu = median(own.iter().map(|s| micros(s.0)).collect());
        let wall = median(own.iter().map(|s| micros(s.1)).collect());
        let cpu_ratio = median(
            own.iter()
                .zip(bare)
                .map(|(s, b)| micros(s.0) / micros(b.0))
                .collect(),
        );
        let wall_ratio = median(
            own.iter()
                .zip(bare)
                .map(|(s, b)| micros(s.1) / micros(b.1))
                .collect(),
        );
        let added = median(
            own.iter()
                .zip(bare)
                .map(|(s, b)| micros(s.0) - micros(b.0))
                .collect(),
        );
        println!(
            "{:<30} {:>9.2} µs {:>9.3}x {:>9.2} µs {:>9.3}x {:>11.2} µs",
            setup.variant.name(),
            cpu,
            cpu_ratio,
            wall,
            wall_ratio,
            added,
        );
    }
    println!(
        "loopback sink: {} requests, {} body bytes, {:.1} ms CPU (excluded)",
        sink.requests.load(std::sync::atomic::Ordering::Relaxed),
        sink.bytes.load(std::sync::atomic::Ordering::Relaxed),
        sink.cpu().as_secs_f64() * 1e3
    );
}
