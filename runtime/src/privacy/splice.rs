//! A text with some of its ranges replaced, as every redaction pass builds it: the copy is made at the first
//! replacement, so a text with nothing to redact is borrowed and never copied.

use std::borrow::Cow;

/// `text` with ranges replaced left to right.
pub(super) struct Splice<'a> {
    text: &'a str,
    out: Option<String>,
    copied: usize,
}

impl<'a> Splice<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self {
            text,
            out: None,
            copied: 0,
        }
    }

    /// Where the text not yet copied starts: the end of the last replaced range, or 0.
    pub(super) fn copied(&self) -> usize {
        self.copied
    }

    /// Replaces `start..end` (at or after [`Self::copied`], both char boundaries) with `with`.
    pub(super) fn replace(&mut self, start: usize, end: usize, with: &str) {
        let text = self.text;
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(text.len() + 16));
        out.push_str(&text[self.copied..start]);
        out.push_str(with);
        self.copied = end;
    }

    /// The text with its replacements; borrowed when there were none.
    pub(super) fn finish(self) -> Cow<'a, str> {
        match self.out {
            None => Cow::Borrowed(self.text),
            Some(mut out) => {
                out.push_str(&self.text[self.copied..]);
                Cow::Owned(out)
            }
        }
    }
}
