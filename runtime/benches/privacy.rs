//! The generic pass in MB/s over a realistic tool response, and the free-text pass in µs over a 25-word intent,
//! each beside a baseline measured in the same run.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use posthog_mcp::privacy::{free_text, generic_string, sanitize_response};
use serde_json::{Value, json};

/// About 50 KB of JSON: text blocks with prose and links, and structured records with nested objects.
fn tool_response() -> Value {
    let prose = "The order was shipped from the central warehouse and should arrive within three business days. \
                 Tracking details are available in the customer portal; contact support for changes.";
    let records: Vec<Value> = (0..120)
        .map(|i| {
            json!({
                "id": format!("ord_{i:06}"),
                "status": if i % 3 == 0 { "shipped" } else { "pending" },
                "total": {"amount": 1999 + i, "currency": "EUR"},
                "customer": {"name": "Ada Lovelace", "tier": "gold", "tags": ["vip", "eu", "newsletter"]},
                "links": {
                    "self": format!("https://api.example.com/v1/orders/{i}?expand=items&page=2"),
                    "invoice": format!("https://files.example.com/invoices/{i}.pdf?X-Amz-Signature=abc{i}&ok=1"),
                },
                "note": prose,
            })
        })
        .collect();
    let blocks: Vec<Value> = (0..20)
        .map(|i| json!({"type": "text", "text": format!("{prose} See https://docs.example.com/guide#section-{i} for more.")}))
        .collect();
    json!({"content": blocks, "structuredContent": {"orders": records, "nextCursor": "c2VjcmV0"}, "isError": false})
}

/// The baseline: visit every string leaf, as the pass must, without changing anything.
fn walk(value: &Value) -> usize {
    let mut total = 0;
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::String(text) => total += text.len(),
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    total
}

fn generic_pass(c: &mut Criterion) {
    let response = tool_response();
    let bytes = serde_json::to_vec(&response).expect("serializable").len() as u64;
    let mut group = c.benchmark_group("generic_pass_50kb_response");
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("baseline_walk", |b| b.iter(|| walk(black_box(&response))));
    group.bench_function("baseline_clone", |b| {
        b.iter(|| black_box(&response).clone())
    });
    group.bench_function("baseline_serialize", |b| {
        b.iter(|| serde_json::to_vec(black_box(&response)))
    });
    group.bench_function("sanitize_response", |b| {
        b.iter_batched_ref(
            || response.clone(),
            sanitize_response,
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn free_text_pass(c: &mut Criterion) {
    let intent = "Looking up the three latest orders for jane.doe@example.com, then calling +1 (415) 555-0142 \
                  to confirm the refund before noon and closing the support ticket today";
    assert_eq!(intent.split_whitespace().count(), 25);
    let mut group = c.benchmark_group("free_text_25_words");
    group.bench_function("baseline_to_owned", |b| {
        b.iter(|| black_box(intent).to_owned())
    });
    group.bench_function("generic_string", |b| {
        b.iter(|| generic_string(black_box(intent)).into_owned())
    });
    group.bench_function("free_text", |b| b.iter(|| free_text(black_box(intent))));
    group.finish();
}

criterion_group!(benches, generic_pass, free_text_pass);
criterion_main!(benches);
