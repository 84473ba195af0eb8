//! Option parsing for both attributes: `key = value` pairs separated by commas.
//!
//! Every problem becomes a spanned `syn::Error`; all of them are collected so that one compile shows them all.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Token};

/// One `key = value` (or a bare `key`, which is always an error but parses so it can be reported).
struct RawOption {
    key: Ident,
    value: Option<Expr>,
}

impl Parse for RawOption {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // `Ident::parse_any` accepts keywords, so `crate = "…"` parses like any other key.
        let key = <Ident as syn::ext::IdentExt>::parse_any(input)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(Self { key, value })
    }
}

/// Collects errors; `finish` turns them into one combined `syn::Error`.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(existing) => existing.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub(crate) fn into_compile_errors(self) -> TokenStream {
        self.0
            .map(|error| error.to_compile_error())
            .unwrap_or_default()
    }
}

/// The runtime crate path: `crate = "…"`, else found by `proc-macro-crate`, else `::posthog_mcp`.
pub(crate) fn runtime_path(explicit: Option<&syn::Path>) -> TokenStream {
    if let Some(path) = explicit {
        return quote!(#path);
    }
    match proc_macro_crate::crate_name("posthog-mcp") {
        Ok(proc_macro_crate::FoundCrate::Name(name)) => {
            let ident = Ident::new(&name, Span::call_site());
            quote!(::#ident)
        }
        // `Itself`: the runtime's own tests, examples and doctests; its `lib.rs` has `extern crate self as posthog_mcp`.
        Ok(proc_macro_crate::FoundCrate::Itself) | Err(_) => quote!(::posthog_mcp),
    }
}

/// Parses the argument list, reporting a bare key, an unknown key (listing `valid`) and a repeated key.
/// Calls `accept` with each first occurrence of a known key and its value.
fn parse_options(
    args: TokenStream,
    attribute: &str,
    valid: &[&str],
    errors: &mut Errors,
    mut accept: impl FnMut(&Ident, &Expr, &mut Errors),
) {
    let parsed = match Punctuated::<RawOption, Token![,]>::parse_terminated.parse2(args) {
        Ok(parsed) => parsed,
        Err(error) => {
            errors.push(syn::Error::new(
                error.span(),
                format!("{error}; `#[{attribute}]` takes options as `key = value` pairs separated by commas"),
            ));
            return;
        }
    };
    let listed = valid
        .iter()
        .map(|key| format!("`{key}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut seen: Vec<String> = Vec::new();
    for RawOption { key, value } in parsed {
        let name = key.to_string();
        if let Some((_, instead)) = REMOVED.iter().find(|(removed, _)| *removed == name) {
            errors.push(syn::Error::new(
                key.span(),
                format!("option `{name}` was removed from `#[{attribute}]`: {instead}"),
            ));
            continue;
        }
        if !valid.contains(&name.as_str()) {
            errors.push(syn::Error::new(
                key.span(),
                format!(
                    "unknown option `{name}` for `#[{attribute}]`; the valid options are {listed}"
                ),
            ));
            continue;
        }
        if seen.contains(&name) {
            errors.push(syn::Error::new(
                key.span(),
                format!("option `{name}` is given more than once"),
            ));
            continue;
        }
        seen.push(name.clone());
        match value {
            Some(value) => accept(&key, &value, errors),
            None => errors.push(syn::Error::new(
                key.span(),
                format!(
                    "option `{name}` needs a value: `{name} = {}`",
                    example(&name)
                ),
            )),
        }
    }
}

/// Options that no longer exist, with what to write instead.
const REMOVED: &[(&str, &str)] = &[(
    "standalone",
    "a tool reports only when its server is wrapped by `posthog_mcp::instrument(server)`; a server that \
     cannot be wrapped reports through the manual API (`posthog_mcp::manual`); remove `standalone`",
)];

/// How each option is written, for error messages.
fn example(key: &str) -> &'static str {
    match key {
        "category" => "\"orders\"",
        "capture_args" | "capture_response" => "false",
        "redact" => "[\"password\", \"card_number\"]",
        "crate" => "\"posthog_mcp\"",
        "intent_description" => {
            "\"In 15 to 25 words, why the order is looked up; no personal data.\""
        }
        _ => "…",
    }
}

fn wrong_type(key: &Ident, value: &Expr, what: &str) -> syn::Error {
    syn::Error::new_spanned(
        value,
        format!(
            "option `{key}` takes {what}, e.g. `{key} = {}`",
            example(&key.to_string())
        ),
    )
}

fn string_value(key: &Ident, value: &Expr, errors: &mut Errors) -> Option<LitStr> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => Some(text.clone()),
        _ => {
            errors.push(wrong_type(key, value, "a string literal"));
            None
        }
    }
}

fn bool_value(key: &Ident, value: &Expr, errors: &mut Errors) -> Option<bool> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(flag),
            ..
        }) => Some(flag.value),
        _ => {
            errors.push(wrong_type(key, value, "`true` or `false`"));
            None
        }
    }
}

fn crate_value(key: &Ident, value: &Expr, errors: &mut Errors) -> Option<syn::Path> {
    let text = string_value(key, value, errors)?;
    match text.parse::<syn::Path>() {
        Ok(path) => Some(path),
        Err(_) => {
            errors.push(syn::Error::new(
                text.span(),
                format!("`{}` is not a path; write the runtime crate's name, e.g. `crate = \"posthog_mcp\"`", text.value()),
            ));
            None
        }
    }
}

/// The options of `#[posthog_tool]`.
#[derive(Default)]
pub(crate) struct ToolOptions {
    pub(crate) category: Option<LitStr>,
    pub(crate) capture_args: Option<bool>,
    pub(crate) capture_response: Option<bool>,
    pub(crate) redact: Vec<LitStr>,
    pub(crate) intent_description: Option<LitStr>,
    pub(crate) krate: Option<syn::Path>,
}

pub(crate) const TOOL_OPTIONS: &[&str] = &[
    "category",
    "capture_args",
    "capture_response",
    "redact",
    "intent_description",
    "crate",
];

impl ToolOptions {
    pub(crate) fn parse(args: TokenStream, errors: &mut Errors) -> Self {
        let mut options = Self::default();
        parse_options(
            args,
            "posthog_tool",
            TOOL_OPTIONS,
            errors,
            |key, value, errors| match key.to_string().as_str() {
                "category" => {
                    if let Some(text) = string_value(key, value, errors) {
                        if text.value().trim().is_empty() {
                            errors
                                .push(syn::Error::new(text.span(), "`category` must not be empty"));
                        } else {
                            options.category = Some(text);
                        }
                    }
                }
                "capture_args" => options.capture_args = bool_value(key, value, errors),
                "capture_response" => options.capture_response = bool_value(key, value, errors),
                "redact" => options.redact = redact_value(key, value, errors),
                "intent_description" => {
                    options.intent_description = intent_description_value(key, value, errors);
                }
                "crate" => options.krate = crate_value(key, value, errors),
                _ => {}
            },
        );
        options
    }
}

/// The per-tool description of the injected `context` argument: a string literal with some text in it.
fn intent_description_value(key: &Ident, value: &Expr, errors: &mut Errors) -> Option<LitStr> {
    let text = string_value(key, value, errors)?;
    if text.value().trim().is_empty() {
        errors.push(syn::Error::new(
            text.span(),
            format!(
                "`intent_description` must not be blank: write what the agent should put in this tool's `context` \
                 argument, e.g. `intent_description = {}`, or remove the option to keep the default description",
                example("intent_description")
            ),
        ));
        return None;
    }
    Some(text)
}

fn redact_value(key: &Ident, value: &Expr, errors: &mut Errors) -> Vec<LitStr> {
    let Expr::Array(array) = value else {
        errors.push(wrong_type(key, value, "an array of string literals"));
        return Vec::new();
    };
    let mut fields = Vec::new();
    for element in &array.elems {
        match element {
            Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) if !text.value().is_empty() => fields.push(text.clone()),
            Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) => {
                errors.push(syn::Error::new(text.span(), "a field name in `redact` must not be empty"));
            }
            other => errors.push(syn::Error::new_spanned(
                other,
                "each entry of `redact` is a field name as a string literal, e.g. `redact = [\"password\"]`",
            )),
        }
    }
    fields
}

/// The options of `#[posthog_identify]`.
#[derive(Default)]
pub(crate) struct IdentifyOptions {
    pub(crate) krate: Option<syn::Path>,
}

pub(crate) const IDENTIFY_OPTIONS: &[&str] = &["crate"];

impl IdentifyOptions {
    pub(crate) fn parse(args: TokenStream, errors: &mut Errors) -> Self {
        let mut options = Self::default();
        parse_options(
            args,
            "posthog_identify",
            IDENTIFY_OPTIONS,
            errors,
            |key, value, errors| {
                if key == "crate" {
                    options.krate = crate_value(key, value, errors);
                }
            },
        );
        options
    }
}
