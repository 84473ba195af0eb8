//! Any text given to the session-token decoder (CONTRACT §4.4): it returns a token or `None`, never panics, and a
//! token it returns encodes to a token that decodes to the same fields. The bytes are also tried base64url-encoded,
//! so the decoder's JSON step sees arbitrary content, not only what survives the alphabet check.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use posthog_mcp::session::SessionToken;

fn round_trips(token: &SessionToken) {
    let Ok(encoded) = token.encode() else {
        return;
    };
    let again = SessionToken::decode(&encoded).expect("an encoded token decodes");
    assert_eq!(again.sid, token.sid);
    assert_eq!(again.client_name, token.client_name);
    assert_eq!(again.client_version, token.client_version);
    assert_eq!(again.protocol_version, token.protocol_version);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(token) = SessionToken::decode(text)
    {
        round_trips(&token);
    }
    if let Some(token) = SessionToken::decode(&URL_SAFE_NO_PAD.encode(data)) {
        round_trips(&token);
    }
});
