//! The secret net over text: well-known credential shapes and PostHog tokens found in any string.
//!
//! [`redact_secrets`] runs one pass of one combined regex (the `regex` crate runs in linear time, with no
//! backtracking) to find candidate credentials; a few shapes are then confirmed in code. Each confirmed credential
//! becomes `[redacted]`; for `Bearer`/`Basic` credentials and an AWS secret key named in its context, the scheme
//! or the name before the value is kept. Which object keys name a credential is decided in `keys.rs`.

use std::borrow::Cow;
use std::sync::LazyLock;

use base64::Engine;
use regex::Regex;

use super::keys::REDACTED;
use super::splice::Splice;

/// The shapes [`redact_secrets`] looks for. Every alternative starts with a few ASCII literals, so the regex crate
/// can skip ahead with a literal prefilter.
const SHAPES: &[&str] = &[
    // A JWT (JWS or JWE compact form): a base64url JSON header (`{"` encodes as `eyJ`), then two or more parts.
    r"(?-u:\b)eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
    // An AWS access key id, long-lived (AKIA) or temporary (ASIA). No boundary after it: a key id glued to the
    // next word is still redacted (the net prefers redacting the head of a longer word to keeping a key).
    r"(?-u:\b)(?:AKIA|ASIA)[A-Z0-9]{16}",
    // An AWS secret access key, recognized by the name before it (40 base64 characters; checked in code).
    // Words are spelled in their three usual cases rather than case-insensitively, so that every alternative
    // starts with a short list of literals and the regex crate can skip ahead with a literal prefilter.
    r#"(?:(?-u:\b)(?:aws|AWS|Aws)[_.-]?(?:secret|SECRET|Secret)(?:[_.-]?(?:access|ACCESS|Access))?|(?-u:\b)(?:secret|SECRET|Secret)[_.-]?(?:access|ACCESS|Access))[_.-]?(?:key|KEY|Key)[ \t"'\\]{0,4}[:=][ \t"'\\]{0,4}[A-Za-z0-9/+]{40}"#,
    // An HTTP credential after its scheme (confirmed in code).
    r"(?-u:\b)(?:Bearer|bearer|BEARER)[ \t]+[A-Za-z0-9._~+/-]{8,}=*",
    r"(?-u:\b)(?:Basic|basic|BASIC)[ \t]+[A-Za-z0-9+/]{8,}={0,2}",
    // Stripe secret and restricted keys, in either separator style, and webhook secrets.
    r"(?-u:\b)[sr]k[_-](?:live|test)[_-][A-Za-z0-9]{8,}",
    r"(?-u:\b)whsec_[A-Za-z0-9]{20,}",
    // OpenAI-style (and Anthropic `sk-ant-…`) keys; confirmed in code by a digit.
    r"(?-u:\b)sk-[A-Za-z0-9_-]{20,}",
    // GitHub tokens: personal, OAuth, user-to-server, server-to-server, refresh; fine-grained personal tokens.
    r"(?-u:\b)gh[pousr]_[A-Za-z0-9]{30,}",
    r"(?-u:\b)github_pat_[A-Za-z0-9_]{30,}",
    // Slack bot, user, app-level, refresh and legacy tokens.
    r"(?-u:\b)xox[abeprs]-[A-Za-z0-9-]{10,}",
    r"(?-u:\b)xapp-[A-Za-z0-9-]{10,}",
    // GitLab personal tokens, Google API keys, npm and PyPI tokens, Hugging Face tokens, SendGrid keys.
    r"(?-u:\b)glpat-[A-Za-z0-9_-]{20,}",
    r"(?-u:\b)AIza[A-Za-z0-9_-]{35}",
    r"(?-u:\b)npm_[A-Za-z0-9]{36}",
    r"(?-u:\b)pypi-AgE[A-Za-z0-9_-]{50,}",
    r"(?-u:\b)hf_[A-Za-z0-9]{30,}",
    r"(?-u:\b)SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}",
];

static SECRET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&SHAPES.join("|")).expect("static pattern"));

/// The BEGIN line of a PEM (or PGP) private key block. Found in a pass of its own, before the shapes: a block
/// written right after a token (`…sig-----BEGIN`) would otherwise be cut in two by that token's match.
static PEM_BEGIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----").expect("static pattern")
});

const PEM_START: &str = "-----BEGIN";
const PEM_END: &str = "-----END";
const PEM_DASHES: &str = "-----";

/// Every credential shape found in `text` becomes `[redacted]`. Borrows when nothing was found.
///
/// Private key blocks first, then one left-to-right pass over the other shapes: a candidate that is not confirmed
/// is skipped by one byte, so a credential inside it (after a `Bearer` that is an ordinary word) is still found.
/// Idempotent: `[redacted]` matches no shape, and a credential glued to the end of another is searched as if a
/// word began there, as it does behind `[redacted]` in a second pass.
pub(crate) fn redact_secrets(text: &str) -> Cow<'_, str> {
    match redact_pem_blocks(text) {
        Cow::Borrowed(text) => redact_shapes(text),
        Cow::Owned(text) => match redact_shapes(&text) {
            Cow::Borrowed(_) => Cow::Owned(text),
            Cow::Owned(new) => Cow::Owned(new),
        },
    }
}

/// Each private key block, from its BEGIN line to its END line (or to the end of a cut-off text).
fn redact_pem_blocks(text: &str) -> Cow<'_, str> {
    if !text.contains(PEM_START) {
        return Cow::Borrowed(text);
    }
    let mut splice = Splice::new(text);
    let mut ends = PemEnds::default();
    while let Some(found) = PEM_BEGIN.find_at(text, splice.copied()) {
        let mut end = ends.after(text, found.end());
        // A block that begins inside this one (an END line cut short, so that its closing dashes were the next
        // block's BEGIN) extends it: no part of either survives.
        let mut next_from = found.start() + 1;
        while end < text.len() {
            match PEM_BEGIN.find_at(text, next_from) {
                Some(next) if next.start() < end => {
                    end = end.max(ends.after(text, next.end()));
                    next_from = next.start() + 1;
                }
                _ => break,
            }
        }
        splice.replace(found.start(), end, REDACTED);
    }
    splice.finish()
}

/// The shortest text any of [`SHAPES`] matches (`Basic ` and 8 characters); shorter strings (most JSON values
/// and keys) skip the regex.
const SHORTEST_SHAPE: usize = 14;

/// The credential shapes of [`SHAPES`], each confirmed by [`confirm`].
fn redact_shapes(text: &str) -> Cow<'_, str> {
    if text.len() < SHORTEST_SHAPE {
        return Cow::Borrowed(text);
    }
    let mut splice = Splice::new(text);
    let mut at = 0;
    while at < text.len() {
        // Right after a redacted credential, the search starts a fresh haystack there, so a shape that needs a
        // word boundary before it (a JWT glued to an AWS key id) is found as it would be behind `[redacted]`:
        // this is what keeps the pass idempotent.
        let found = if at == splice.copied() && at > 0 {
            SECRET
                .find(&text[at..])
                .map(|m| (at + m.start(), at + m.end()))
        } else {
            SECRET.find_at(text, at).map(|m| (m.start(), m.end()))
        };
        let Some((start, end)) = found else {
            break;
        };
        let Some((keep, end)) = confirm(text, start, end) else {
            // Every shape starts with an ASCII byte, so `start + 1` is a char boundary.
            at = start + 1;
            continue;
        };
        splice.replace(start + keep, end, REDACTED);
        at = end;
    }
    splice.finish()
}

/// Whether the candidate at `start..end` is a credential: `Some((kept, end))` with the length of the prefix that
/// stays (a scheme or a name) and where the credential ends.
fn confirm(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let found = &text[start..end];
    let bytes = found.as_bytes();
    if starts_with_ignore_case(bytes, b"bearer") {
        let value_at = value_start(bytes)?;
        let value = &found[value_at..];
        let random = value.bytes().any(|b| b.is_ascii_digit()) || value.len() >= 24;
        return random.then_some((value_at, end));
    }
    if starts_with_ignore_case(bytes, b"basic") {
        let value_at = value_start(bytes)?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&found[value_at..])
            .ok()?;
        if !decoded.contains(&b':') {
            return None;
        }
        // The credential runs on over any token characters after its base64 (the header of a JWT sent as
        // `Basic eyJ….eyJ….sig` decodes with a `:` too, and its payload must not survive).
        let rest = &text.as_bytes()[end..];
        let more = rest
            .iter()
            .take_while(|&&b| {
                b.is_ascii_alphanumeric()
                    || matches!(b, b'.' | b'_' | b'~' | b'+' | b'/' | b'=' | b'-')
            })
            .count();
        return Some((value_at, end + more));
    }
    if starts_with_ignore_case(bytes, b"aws") || starts_with_ignore_case(bytes, b"secret") {
        // Exactly 40 characters: a longer run is something else.
        let next = text.as_bytes().get(end).copied();
        if next.is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+' | b'=')) {
            return None;
        }
        return Some((found.len() - 40, end));
    }
    if let Some(rest) = found.strip_prefix("sk-")
        && !(rest.starts_with("live") || rest.starts_with("test"))
        && !rest.bytes().any(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some((0, end))
}

/// After `Bearer`/`Basic`: where the credential starts, past the spaces.
fn value_start(bytes: &[u8]) -> Option<usize> {
    let scheme = bytes.iter().position(|&b| b == b' ' || b == b'\t')?;
    let spaces = bytes[scheme..]
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    Some(scheme + spaces)
}

fn starts_with_ignore_case(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// Where PEM blocks end, remembered so that many BEGIN lines before one END line cost one search, not one each.
#[derive(Default)]
struct PemEnds {
    /// The last END marker found and where its search started; `None` inside: no END marker after that start.
    found: Option<(usize, Option<usize>)>,
}

impl PemEnds {
    /// The end of the block whose BEGIN line ends at `from`: past its END line's closing dashes, or the end of
    /// the text when the block is cut off.
    fn after(&mut self, text: &str, from: usize) -> usize {
        let end_line = match self.found {
            Some((searched, line)) if searched <= from && line.is_none_or(|line| line >= from) => {
                line
            }
            _ => {
                let line = text[from..].find(PEM_END).map(|at| from + at);
                self.found = Some((from, line));
                line
            }
        };
        let Some(end_line) = end_line else {
            return text.len();
        };
        let after_end = end_line + PEM_END.len();
        match text[after_end..].find(PEM_DASHES) {
            Some(dashes) => after_end + dashes + PEM_DASHES.len(),
            None => text.len(),
        }
    }
}

static POSTHOG_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)ph[a-z]_[A-Za-z0-9_-]{20,}(?-u:\b)").expect("static pattern")
});

/// Each PostHog token becomes `[redacted]`.
pub(crate) fn redact_tokens(text: &str) -> Cow<'_, str> {
    // `ph?_` and 20 more characters at least.
    if text.len() < 24 || !text.contains("ph") {
        return Cow::Borrowed(text);
    }
    POSTHOG_TOKEN.replace_all(text, REDACTED)
}

/// Applies a borrowing pass to a value that may already be owned.
pub(crate) fn chain<'a>(
    text: Cow<'a, str>,
    pass: for<'b> fn(&'b str) -> Cow<'b, str>,
) -> Cow<'a, str> {
    match text {
        Cow::Borrowed(text) => pass(text),
        Cow::Owned(text) => match pass(&text) {
            Cow::Borrowed(_) => Cow::Owned(text),
            Cow::Owned(new) => Cow::Owned(new),
        },
    }
}

/// PostHog tokens, then the other credential shapes: what an object key gets (a key is a name,
/// not a URL or a blob), and what [`crate::privacy::redact_secrets`] exposes.
pub(crate) fn redact_credentials(text: &str) -> Cow<'_, str> {
    chain(redact_tokens(text), redact_secrets)
}

#[cfg(test)]
#[path = "secrets_tests.rs"]
mod tests;
