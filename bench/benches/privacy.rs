//! The generic pass in MB/s over a realistic tool response, the free-text pass in µs over a 25-word intent, and
//! the event-budget measure and the batch-item write of a typical tool-call payload, each beside a baseline
//! measured in the same run.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use posthog_mcp::Payload;
use posthog_mcp::privacy::{free_text, generic_string, payload_len, sanitize_response};
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

/// A tool-call event of about 2 KB, shaped as the pipeline builds one: envelope strings, counters, the
/// arguments and a text reply.
fn tool_call_payload() -> Payload {
    let mut payload = Payload::new(
        "$mcp_tool_call",
        "0193a6f2-7c1e-7d4a-9b2e-5f8c1d2e3a4b",
        chrono::Utc::now(),
    );
    let properties = json!({
        "$session_id": "0193a6f2-7c1e-7d4a-9b2e-5f8c1d2e3a4b",
        "$mcp_source": "posthog_mcp_analytics",
        "$lib": "posthog-rs-mcp",
        "$lib_version": "0.1.0",
        "$lib_version__major": 0,
        "$mcp_tool_name": "search_orders",
        "$mcp_method": "tools/call",
        "$mcp_server_name": "orders",
        "$mcp_server_version": "1.4.2",
        "$mcp_client_name": "claude-ai",
        "$mcp_client_version": "0.1.0",
        "$mcp_protocol_version": "2025-06-18",
        "$mcp_transport": "streamable_http",
        "$mcp_duration_ms": 12.5,
        "$mcp_is_error": false,
        "$mcp_request_id": 42,
        "$mcp_parameters": {"query": "open orders for ACME", "limit": 20, "include": ["items", "totals"]},
        "$mcp_response": {"content": [{"type": "text", "text": "Found 3 open orders for ACME Corp.\n\
            1. ord_000112, 3 items, EUR 1,999.00, shipped on 2026-11-30 from the central warehouse.\n\
            2. ord_000118, 1 item, EUR 49.00, pending payment confirmation.\n\
            3. ord_000121, 12 items, EUR 12,400.00, awaiting stock for two items; the rest ships on Monday.\n\
            Tracking links are in the customer portal."}], "isError": false},
        "$mcp_response_size_bytes": 512,
        "$process_person_profile": false,
    });
    if let Value::Object(map) = properties {
        payload.properties = map;
    }
    payload
}

fn budget_measure(c: &mut Criterion) {
    let payload = tool_call_payload();
    assert_eq!(payload_len(&payload), payload.encoded_len());
    let mut group = c.benchmark_group("budget_measure_tool_call");
    group.bench_function("baseline_encoded_len", |b| {
        b.iter(|| black_box(&payload).encoded_len())
    });
    group.bench_function("payload_len", |b| {
        b.iter(|| payload_len(black_box(&payload)))
    });
    group.finish();
}

/// Writing the same payload as one batch item: by hand (`write_json`), beside serde_json's serializer.
fn batch_item_write(c: &mut Criterion) {
    let payload = tool_call_payload();
    let mut out = Vec::with_capacity(4096);
    let mut group = c.benchmark_group("batch_item_write_tool_call");
    group.bench_function("baseline_serde_json", |b| {
        b.iter(|| {
            out.clear();
            serde_json::to_writer(&mut out, black_box(&payload)).unwrap();
            out.len()
        })
    });
    group.bench_function("write_json", |b| {
        b.iter(|| {
            out.clear();
            black_box(&payload).write_json(&mut out);
            out.len()
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    generic_pass,
    free_text_pass,
    budget_measure,
    batch_item_write
);
criterion_main!(benches);
