//! The free-text pass for agent-written text: the generic steps plus personal data.
//!
//! Every step is linear in the text. Patterns that need no lookaround use the `regex` crate; the IPv6 and phone
//! rules, whose boundaries are lookarounds, are small hand-written scanners with the same semantics.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

#[cfg(any(test, feature = "__internals"))]
use super::generic::{BINARY_STUB, is_binary};
use super::json_members::redact_json_members;
use super::keys::REDACTED;
use super::secrets::{chain, redact_secrets, redact_tokens};

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,255}\.[A-Za-z]{2,24}")
        .expect("static pattern")
});

static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    let octet = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
    Regex::new(&format!(r"(?-u:\b)(?:{octet}\.){{3}}{octet}(?-u:\b)")).expect("static pattern")
});

static CARD_CANDIDATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)[0-9](?:[ ./-]?[0-9]){12,}(?-u:\b)").expect("static pattern")
});

static US_SSN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)[0-9]{3}[ .-][0-9]{2}[ .-][0-9]{4}(?-u:\b)").expect("static pattern")
});

#[cfg(any(test, feature = "__internals"))]
/// The whole free-text pass: binary gate, PostHog tokens, credential shapes, credential-keyed JSON members,
/// personal data, then URLs. Credentials
/// go before personal data, so a PII rule never cuts a credential and leaves part of it.
pub(crate) fn free_text(input: &str) -> String {
    if is_binary(input) {
        return BINARY_STUB.to_owned();
    }
    free_text_passes(input).into_owned()
}

/// The free-text pass after the binary gate.
pub(crate) fn free_text_passes(input: &str) -> Cow<'_, str> {
    let text = redact_tokens(input);
    let text = chain(text, redact_secrets);
    let text = chain(text, redact_json_members);
    let text = chain(text, redact_pii);
    chain(text, super::url::redact_urls)
}

/// The personal-data step, its rules in this order: (1) Unicode spaces, (2) emails, (3) IPv4, (4) IPv6, (5)
/// payment cards, (6) US SSNs, (7) NANP phones, (8) international phones. Each match becomes `[redacted]`.
pub(crate) fn redact_pii(text: &str) -> Cow<'_, str> {
    let text = normalize_spaces(text);
    let text = chain(text, |t| EMAIL.replace_all(t, REDACTED));
    let text = chain(text, |t| IPV4.replace_all(t, REDACTED));
    let text = chain(text, redact_ipv6);
    let text = chain(text, redact_cards);
    let text = chain(text, |t| US_SSN.replace_all(t, REDACTED));
    let text = chain(text, redact_nanp_phones);
    chain(text, redact_international_phones)
}

fn is_unicode_space(c: char) -> bool {
    matches!(
        c,
        '\u{A0}' | '\u{1680}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// Rule 1: the listed Unicode spaces become ASCII spaces.
fn normalize_spaces(text: &str) -> Cow<'_, str> {
    if text.is_ascii() || !text.chars().any(is_unicode_space) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if is_unicode_space(c) { ' ' } else { c })
            .collect(),
    )
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Replaces the byte ranges `spans` (sorted, disjoint) of `text` with `[redacted]`.
fn replace_spans(text: &str, spans: &[(usize, usize)]) -> Cow<'static, str> {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for &(start, end) in spans {
        out.push_str(&text[copied..start]);
        out.push_str(REDACTED);
        copied = end;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

fn finish<'a>(text: &'a str, spans: &[(usize, usize)]) -> Cow<'a, str> {
    if spans.is_empty() {
        Cow::Borrowed(text)
    } else {
        replace_spans(text, spans)
    }
}

/// Rule 4: IPv6. An address is a maximal run of word characters and colons (the boundaries exclude both), so each
/// such run is checked whole against the address shapes.
fn redact_ipv6(text: &str) -> Cow<'_, str> {
    if !text.contains(':') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        if !(is_word_byte(bytes[index]) || bytes[index] == b':') {
            index += 1;
            continue;
        }
        let start = index;
        while index < bytes.len() && (is_word_byte(bytes[index]) || bytes[index] == b':') {
            index += 1;
        }
        if is_ipv6(&text[start..index]) {
            spans.push((start, index));
        }
    }
    finish(text, &spans)
}

/// Colon-separated groups of 1–4 hex digits, between `min` and `max` of them; `None` when malformed.
fn hex_groups(part: &str) -> Option<usize> {
    let mut count = 0;
    for group in part.split(':') {
        if group.is_empty() || group.len() > 4 || !group.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        count += 1;
    }
    Some(count)
}

/// Eight groups; or `a::` (1–7 groups before); or `a::b` (1–6 each side); or `::b` (1–7 after).
fn is_ipv6(run: &str) -> bool {
    if !run.contains(':') {
        return false;
    }
    match run.split_once("::") {
        None => hex_groups(run) == Some(8),
        Some(("", "")) => false,
        Some(("", after)) => hex_groups(after).is_some_and(|n| (1..=7).contains(&n)),
        Some((before, "")) => hex_groups(before).is_some_and(|n| (1..=7).contains(&n)),
        Some((before, after)) => {
            hex_groups(before).is_some_and(|n| (1..=6).contains(&n))
                && hex_groups(after).is_some_and(|n| (1..=6).contains(&n))
        }
    }
}

/// Rule 5: payment cards. Within each candidate, starting at each digit group from the left, the longest run of
/// whole groups totalling 13–19 digits that passes Luhn is redacted.
fn redact_cards(text: &str) -> Cow<'_, str> {
    if text.bytes().filter(u8::is_ascii_digit).nth(12).is_none() {
        return Cow::Borrowed(text);
    }
    let mut spans = Vec::new();
    for candidate in CARD_CANDIDATE.find_iter(text) {
        let base = candidate.start();
        let groups: Vec<(usize, usize)> = digit_groups(candidate.as_str());
        let mut first = 0;
        while first < groups.len() {
            match longest_card_from(candidate.as_str(), &groups[first..]) {
                Some(taken) => {
                    spans.push((base + groups[first].0, base + groups[first + taken - 1].1));
                    first += taken;
                }
                None => first += 1,
            }
        }
    }
    finish(text, &spans)
}

fn digit_groups(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut groups = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index].is_ascii_digit() {
            let start = index;
            while index < bytes.len() && bytes[index].is_ascii_digit() {
                index += 1;
            }
            groups.push((start, index));
        } else {
            index += 1;
        }
    }
    groups
}

/// How many groups, from the first, form the longest Luhn-valid number of 13–19 digits.
fn longest_card_from(text: &str, groups: &[(usize, usize)]) -> Option<usize> {
    let mut digits: Vec<u8> = Vec::with_capacity(19);
    let mut longest = None;
    for (taken, &(start, end)) in groups.iter().enumerate() {
        digits.extend_from_slice(&text.as_bytes()[start..end]);
        if digits.len() > 19 {
            break;
        }
        if digits.len() >= 13 && passes_luhn(&digits) {
            longest = Some(taken + 1);
        }
    }
    longest
}

fn passes_luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(position, byte)| {
            let digit = u32::from(byte - b'0');
            if position % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn digits_at(bytes: &[u8], at: usize, count: usize) -> bool {
    bytes
        .get(at..at + count)
        .is_some_and(|run| run.iter().all(u8::is_ascii_digit))
}

fn byte_is(bytes: &[u8], at: usize, test: impl Fn(u8) -> bool) -> bool {
    bytes.get(at).is_some_and(|&b| test(b))
}

fn is_phone_separator(byte: u8) -> bool {
    matches!(byte, b' ' | b'.' | b'/' | b'-')
}

/// Not followed by a word character.
fn ends_cleanly(bytes: &[u8], end: usize) -> bool {
    !byte_is(bytes, end, is_word_byte)
}

/// Rule 7: NANP phones, `(?:\+?1[sep]?)?(?:\(ddd\)[sep]?|ddd[sep])ddd[sep]dddd`, not preceded by a word character
/// or `+` and not followed by a word character. Alternatives are tried in the order a backtracking engine would.
fn redact_nanp_phones(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    if bytes.iter().filter(|b| b.is_ascii_digit()).nth(9).is_none() {
        return Cow::Borrowed(text);
    }
    let mut spans = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let first = bytes[start];
        let may_start = first.is_ascii_digit() || first == b'+' || first == b'(';
        let clean_before =
            start == 0 || !(is_word_byte(bytes[start - 1]) || bytes[start - 1] == b'+');
        if may_start
            && clean_before
            && let Some(end) = nanp_at(bytes, start)
        {
            spans.push((start, end));
            start = end;
            continue;
        }
        start += 1;
    }
    finish(text, &spans)
}

fn nanp_at(bytes: &[u8], start: usize) -> Option<usize> {
    let mut country_ends = Vec::with_capacity(3);
    let one_at = if bytes[start] == b'+' {
        start + 1
    } else {
        start
    };
    if byte_is(bytes, one_at, |b| b == b'1') && (bytes[start] == b'1' || one_at == start + 1) {
        if byte_is(bytes, one_at + 1, is_phone_separator) {
            country_ends.push(one_at + 2);
        }
        country_ends.push(one_at + 1);
    }
    country_ends.push(start);
    for area in country_ends {
        let mut number_starts = Vec::with_capacity(2);
        if byte_is(bytes, area, |b| b == b'(')
            && digits_at(bytes, area + 1, 3)
            && byte_is(bytes, area + 4, |b| b == b')')
        {
            if byte_is(bytes, area + 5, is_phone_separator) {
                number_starts.push(area + 6);
            }
            number_starts.push(area + 5);
        }
        if digits_at(bytes, area, 3) && byte_is(bytes, area + 3, is_phone_separator) {
            number_starts.push(area + 4);
        }
        for number in number_starts {
            let end = number + 8;
            if digits_at(bytes, number, 3)
                && byte_is(bytes, number + 3, is_phone_separator)
                && digits_at(bytes, number + 4, 4)
                && ends_cleanly(bytes, end)
            {
                return Some(end);
            }
        }
    }
    None
}

fn is_international_separator(byte: u8) -> bool {
    matches!(byte, b' ' | b'.' | b'/' | b'(' | b')' | b'-')
}

/// Rule 8: international phones, `\+\d{1,3}(?:[sep]{0,2}\d){7,13}`, not preceded or followed by a word character.
fn redact_international_phones(text: &str) -> Cow<'_, str> {
    if !text.contains('+') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        if bytes[start] == b'+'
            && (start == 0 || !is_word_byte(bytes[start - 1]))
            && let Some(end) = international_at(bytes, start)
        {
            spans.push((start, end));
            start = end;
            continue;
        }
        start += 1;
    }
    finish(text, &spans)
}

fn international_at(bytes: &[u8], plus: usize) -> Option<usize> {
    for country_digits in (1..=3).rev() {
        if !digits_at(bytes, plus + 1, country_digits) {
            continue;
        }
        // Each repetition is forced: up to two separators, then a digit.
        let mut ends = [0usize; 13];
        let mut count = 0;
        let mut at = plus + 1 + country_digits;
        while count < 13 {
            let separators = bytes[at.min(bytes.len())..]
                .iter()
                .take(3)
                .take_while(|&&b| is_international_separator(b))
                .count();
            if separators > 2 || !byte_is(bytes, at + separators, |b| b.is_ascii_digit()) {
                break;
            }
            at += separators + 1;
            ends[count] = at;
            count += 1;
        }
        for repetitions in (7..=count).rev() {
            let end = ends[repetitions - 1];
            if ends_cleanly(bytes, end) {
                return Some(end);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pii(text: &str) -> String {
        redact_pii(text).into_owned()
    }

    #[test]
    fn unicode_spaces_become_ascii_spaces() {
        assert_eq!(pii("a\u{A0}b\u{2003}c\u{3000}d\u{202F}e"), "a b c d e");
    }

    #[test]
    fn emails_are_redacted() {
        assert_eq!(
            pii("mail jane.doe+tag@example.co.uk now"),
            "mail [redacted] now"
        );
    }

    #[test]
    fn ipv4_addresses_are_redacted_even_as_versions() {
        assert_eq!(pii("version 1.2.3.4"), "version [redacted]");
        assert_eq!(pii("256.1.1.1"), "256.1.1.1");
    }

    #[test]
    fn ipv6_forms_are_redacted_but_paths_survive() {
        assert_eq!(
            pii("at 2001:db8:85a3:0:0:8a2e:370:7334 now"),
            "at [redacted] now"
        );
        assert_eq!(pii("from ::1 ok"), "from [redacted] ok");
        assert_eq!(pii("2001:db8:: x"), "[redacted] x");
        assert_eq!(pii("2001:db8::ff00:42:8329"), "[redacted]");
        assert_eq!(pii("std::bad and x::y"), "std::bad and x::y");
        assert_eq!(pii("a:: is hex"), "[redacted] is hex");
        assert_eq!(pii("only :: here"), "only :: here");
    }

    #[test]
    fn luhn_cards_are_redacted_by_whole_groups() {
        assert_eq!(pii("4111 1111 1111 1111 12/30"), "[redacted] 12/30");
        assert_eq!(pii("1234567890123456"), "1234567890123456");
        assert_eq!(pii("4111-1111-1111-1111"), "[redacted]");
    }

    #[test]
    fn ssns_need_separators() {
        assert_eq!(
            pii("SSN 123-45-6789 and id 123456789"),
            "SSN [redacted] and id 123456789"
        );
    }

    #[test]
    fn nanp_phones_are_redacted_but_dates_are_not() {
        assert_eq!(pii("call +1 (415) 555-0142 now"), "call [redacted] now");
        assert_eq!(pii("call 415.555.0142"), "call [redacted]");
        assert_eq!(pii("x415-555-0142"), "x415-555-0142");
        assert_eq!(
            pii("Deploying at 2024-01-15 12:30 UTC"),
            "Deploying at 2024-01-15 12:30 UTC"
        );
    }

    #[test]
    fn international_phones_are_redacted() {
        assert_eq!(
            pii("Ring +44 (0) 20 7946 0958 please"),
            "Ring [redacted] please"
        );
        assert_eq!(pii("+49 30 12345678"), "[redacted]");
        assert_eq!(pii("+12 34"), "+12 34");
    }

    #[test]
    fn pii_runs_before_urls_so_userinfo_emails_are_caught() {
        assert_eq!(
            free_text("mailto:jane@example.com?subject=hi"),
            "mailto:[redacted]?subject=hi"
        );
    }
}
