//! Unit tests of `session`, in a file of their own so that the module's file holds its code.

use super::*;

#[test]
fn derived_ids_match_the_cross_sdk_vectors() {
    let vectors = [
        ("", "ses_84222325cbf29ce4805967715e2fab98"),
        ("abc", "ses_0541574b91af2a6c126301d3a7dcb510"),
        ("mcp-session-123", "ses_ce26563743171e0409e1abaf955778b8"),
        (
            "0190a5b4-7c2e-7d3f-9a1b-2c3d4e5f6a7b",
            "ses_bcae0c3b78c0ec4a87e82d8397ca19fa",
        ),
        (
            "d44c0d0d-d95c-4759-902f-d4c23721506d",
            "ses_15f6fcb8b2f994d94d724e5c968fdea5",
        ),
        ("héllo", "ses_829d74bff3c5fa684e41a0e792dcfcac"),
        ("😀", "ses_241b88d8a573a1014a3a627c2bf4387d"),
    ];
    for (input, expected) in vectors {
        assert_eq!(derive_session_id(input), expected, "derive({input:?})");
    }
}

#[test]
fn tokens_encode_and_decode_to_the_cross_sdk_vectors() {
    let vectors = [
        (SessionToken::new("ses_abc"), "eyJzaWQiOiJzZXNfYWJjIn0"),
        (
            SessionToken {
                client_name: Some("Café ☕".into()),
                ..SessionToken::new("ses_x")
            },
            "eyJzaWQiOiJzZXNfeCIsImNuIjoiQ2Fmw6kg4piVIn0",
        ),
        (
            SessionToken {
                sid: "ses_01a2120a-6b14-7c4e-a6f3-2b8d9e0c1f45".into(),
                client_name: Some("example-client".into()),
                client_version: Some("1.2.3".into()),
                protocol_version: Some("2025-11-25".into()),
            },
            "eyJzaWQiOiJzZXNfMDFhMjEyMGEtNmIxNC03YzRlLWE2ZjMtMmI4ZDllMGMxZjQ1IiwiY24iOiJleGFtcGxlLWNsaWVudCIsImN2IjoiMS4yLjMiLCJwdiI6IjIwMjUtMTEtMjUifQ",
        ),
    ];
    for (token, wire) in vectors {
        assert_eq!(token.encode().unwrap(), wire);
        assert_eq!(SessionToken::decode(wire), Some(token));
    }
}

#[test]
fn things_that_are_not_tokens_decode_to_nothing() {
    let long_sid = format!("{{\"sid\":\"{}\"}}", "s".repeat(129));
    let rejected = [
        "0190a5b4-7c2e-7d3f-9a1b-2c3d4e5f6a7b".to_owned(),
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig".to_owned(),
        "a".repeat(4097),
        URL_SAFE_NO_PAD.encode(long_sid),
        String::new(),
        URL_SAFE_NO_PAD.encode("{\"sid\":\"\"}"),
        URL_SAFE_NO_PAD.encode("[1,2]"),
        "abc===".to_owned(),
    ];
    for input in rejected {
        assert_eq!(SessionToken::decode(&input), None, "{input:.60}");
    }
}

#[test]
fn padded_tokens_and_malformed_optional_fields_are_tolerated() {
    let wire = URL_SAFE_NO_PAD.encode("{\"sid\":\"ses_a\",\"cn\":5,\"cv\":\"\",\"zz\":1}");
    let padded = format!("{wire}{}", "=".repeat((4 - wire.len() % 4) % 4));
    let token = SessionToken::decode(&padded).unwrap();
    assert_eq!(token, SessionToken::new("ses_a"));
}

#[test]
fn encoding_an_empty_session_id_is_an_error() {
    assert_eq!(
        SessionToken::new("").encode(),
        Err(TokenError::EmptySessionId)
    );
}

#[test]
fn encoding_cuts_client_fields_to_200_characters_without_a_marker() {
    let token = SessionToken {
        client_name: Some("é".repeat(250)),
        ..SessionToken::new("s")
    };
    let decoded = SessionToken::decode(&token.encode().unwrap()).unwrap();
    assert_eq!(decoded.client_name.unwrap().chars().count(), 200);
}

proptest::proptest! {
    #[test]
    fn decoding_never_panics_on_arbitrary_strings(input in ".{0,300}") {
        let _ = SessionToken::decode(&input);
    }

    #[test]
    fn decoding_never_panics_on_base64_shaped_strings(input in "[A-Za-z0-9_-]{1,200}={0,2}") {
        let _ = SessionToken::decode(&input);
    }
}

const MINUTE: Duration = Duration::from_secs(60);

#[test]
fn a_generated_session_survives_30_minutes_of_inactivity_but_not_more() {
    let connection = Connection::new();
    let first = connection
        .resolve(SessionSignals::default(), Duration::ZERO)
        .session_id;
    assert!(first.starts_with("ses_") && first.len() == 40);
    let same = connection
        .resolve(SessionSignals::default(), 30 * MINUTE)
        .session_id;
    assert_eq!(first, same);
    let rolled = connection
        .resolve(
            SessionSignals::default(),
            60 * MINUTE + Duration::from_millis(1),
        )
        .session_id;
    assert_ne!(first, rolled);
}

#[test]
fn a_token_whose_sid_is_not_one_of_ours_is_used_only_derived() {
    let connection = Connection::new();
    let forged = SessionToken::new("alice").encode().unwrap();
    let snap = connection.resolve(
        SessionSignals {
            session_header: Some(&forged),
            ..SessionSignals::default()
        },
        Duration::ZERO,
    );
    assert_eq!(&*snap.session_id, derive_session_id("alice"));
    assert!(is_crate_session_id(&snap.session_id));
    let ours = generate_session_id();
    let genuine = SessionToken::new(ours.clone()).encode().unwrap();
    let snap = Connection::new().resolve(
        SessionSignals {
            session_header: Some(&genuine),
            ..SessionSignals::default()
        },
        Duration::ZERO,
    );
    assert_eq!(&*snap.session_id, ours, "a minted token keeps its session id");
    for id in ["ses_", "ses_ABCDEF", "ses_x", "alice", "ses_0123456789abcdef0123456789abcdeg"] {
        assert!(!is_crate_session_id(id), "{id}");
    }
    assert!(is_crate_session_id(&derive_session_id("x")));
}

#[test]
fn a_token_session_is_kept_by_later_bare_requests_and_never_rolls_over() {
    let connection = Connection::new();
    let wire = SessionToken {
        client_name: Some("cli".into()),
        ..SessionToken::new("ses_0123456789abcdef0123456789abcdef")
    }
    .encode()
    .unwrap();
    let snap = connection.resolve(
        SessionSignals {
            session_header: Some(&wire),
            ..SessionSignals::default()
        },
        Duration::ZERO,
    );
    assert_eq!(&*snap.session_id, "ses_0123456789abcdef0123456789abcdef");
    assert_eq!(snap.source, SessionSource::Token);
    assert_eq!(snap.snapshot_client_name.as_deref(), Some("cli"));
    let later = connection.resolve(SessionSignals::default(), 120 * MINUTE);
    assert_eq!(&*later.session_id, "ses_0123456789abcdef0123456789abcdef");
}

#[test]
fn a_transport_id_is_derived_and_a_new_one_yields_a_new_session() {
    let connection = Connection::new();
    let a = connection.resolve(
        SessionSignals {
            transport_id: Some("t-1"),
            ..SessionSignals::default()
        },
        Duration::ZERO,
    );
    assert_eq!(&*a.session_id, derive_session_id("t-1"));
    let b = connection.resolve(
        SessionSignals {
            session_header: Some("t-2"),
            ..SessionSignals::default()
        },
        MINUTE,
    );
    assert_eq!(&*b.session_id, derive_session_id("t-2"));
    let gone = connection.resolve(SessionSignals::default(), 90 * MINUTE);
    assert_eq!(
        gone.session_id, b.session_id,
        "a transport id that disappears keeps the last id"
    );
}

#[test]
fn a_delayed_handshake_persists_its_protocol_only_on_its_own_session() {
    let connection = Connection::new();
    let first = connection
        .resolve(SessionSignals::default(), Duration::ZERO)
        .session_id;
    connection.record_handshake("ses_other", Some("c"), Some("1"), Some("2025-11-25"));
    let snap = connection.resolve(SessionSignals::default(), Duration::ZERO);
    assert_eq!(snap.negotiated_protocol, None);
    assert_eq!(snap.handshake_client_name.as_deref(), Some("c"));
    connection.record_handshake(&first, None, None, Some("2025-11-25"));
    let snap = connection.resolve(SessionSignals::default(), Duration::ZERO);
    assert_eq!(snap.negotiated_protocol.as_deref(), Some("2025-11-25"));
}

#[test]
fn a_mint_slot_delivers_one_token_and_an_empty_fill_releases_the_receiver() {
    let (slot, mut receiver) = MintSlot::new();
    slot.clone().fill(Some("tok".into()));
    slot.fill(Some("second".into()));
    assert_eq!(receiver.try_recv().unwrap(), "tok");
    let (slot, mut receiver) = MintSlot::new();
    slot.fill(None);
    assert!(matches!(
        receiver.try_recv(),
        Err(tokio::sync::oneshot::error::TryRecvError::Closed)
    ));
}
