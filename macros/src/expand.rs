//! Code generation for `#[posthog_tool]`.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Block, Expr, ExprAsync, FnArg, Ident, ImplItemFn, LitStr, ReturnType, Stmt, Token, Type,
};

use crate::attr::{Errors, ToolOptions, runtime_path};

/// rmcp implements its tool-handler trait for at most this many extractor parameters (`impl_for!(T0 … T15)`).
const RMCP_MAX_EXTRACTORS: usize = 16;

/// The three shapes a tool method can have when the attribute sees it.
enum Shape {
    /// `async fn … -> T` (the attribute is written above `#[tool]`, or rmcp's `#[tool]` is not used).
    Async { output: Type },
    /// `fn … -> Pin<Box<dyn Future<Output = T> …>> { Box::pin(async move { … }) }` (below `#[tool]`).
    Boxed { output: Type, body: ExprAsync },
    /// A sync `fn … -> T`, which rmcp accepts as a tool.
    Sync { output: Type },
}

pub(crate) fn posthog_tool(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options = ToolOptions::parse(args, &mut errors);

    let mut func = match syn::parse2::<ImplItemFn>(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            errors.push(syn::Error::new(
                item_span(&item),
                "`#[posthog_tool]` goes on a tool method: an `async fn` (or a sync `fn`) in a `#[tool_router]` impl",
            ));
            return emit_unchanged(item, errors);
        }
    };

    if let Some(constness) = &func.sig.constness {
        errors.push(syn::Error::new(
            constness.span(),
            "`#[posthog_tool]` cannot instrument a `const fn`: a tool runs at request time; remove `const`",
        ));
    }
    if func.attrs.iter().any(is_posthog_tool) {
        errors.push(syn::Error::new(
            func.sig.ident.span(),
            "`#[posthog_tool]` is applied to this fn more than once; keep one",
        ));
    }

    let tool_name = sibling_tool_name(&func).unwrap_or_else(|| func.sig.ident.to_string());
    let shape = match shape_of(&func) {
        Ok(shape) => Some(shape),
        Err(error) => {
            errors.push(error);
            None
        }
    };

    let user_params = func
        .sig
        .inputs
        .iter()
        .filter(|arg| matches!(arg, FnArg::Typed(_)))
        .count();
    if user_params > RMCP_MAX_EXTRACTORS {
        errors.push(syn::Error::new(
            func.sig.ident.span(),
            format!(
                "this tool takes {user_params} parameters besides `&self`, but rmcp accepts at most \
                 {RMCP_MAX_EXTRACTORS} extractors per tool; combine some of them, for example into one \
                 `Parameters<T>` struct"
            ),
        ));
    }

    let (Some(shape), true) = (shape, errors.is_empty()) else {
        return emit_unchanged(item, errors);
    };

    let rt = runtime_path(options.krate.as_ref());
    let v1 = quote!(#rt::__private::v1);
    let spec = Ident::new("__POSTHOG_TOOL_SPEC", Span::mixed_site());

    // Under `posthog_mcp::instrument` the call reaches the wrapper's per-call slot through a task-local, so the
    // signature stays the user's and the method can be called from a plain unit test.
    let start = quote!(#v1::ToolCall::start(&#spec));
    let spec_item = spec_static(&spec, &v1, &tool_name, &options);

    func.block = match shape {
        Shape::Async { output } => {
            let classify = classifier(&v1, &output);
            let turbofish = turbofish(&output, true);
            let body = typed_async_block(&output, &func.block, true);
            syn::parse_quote!({
                #spec_item
                #start.run #turbofish (#body, #classify).await
            })
        }
        Shape::Boxed { output, body } => {
            let classify = classifier(&v1, &output);
            let turbofish = turbofish(&output, true);
            let moved = body.capture.is_some();
            let body = typed_async_block(&output, &body.block, moved);
            syn::parse_quote!({
                #spec_item
                ::std::boxed::Box::pin(#start.run #turbofish (#body, #classify))
            })
        }
        Shape::Sync { output } => {
            let classify = classifier(&v1, &output);
            let turbofish = turbofish(&output, false);
            let block = &func.block;
            let closure = if contains_impl_trait(&output) {
                quote!(move || #block)
            } else {
                quote!(move || -> #output #block)
            };
            syn::parse_quote!({
                #spec_item
                #start.run_sync #turbofish (#closure, #classify)
            })
        }
    };
    func.into_token_stream()
}

/// On any error the item goes out exactly as written, next to the errors, so the rest of the crate (and the IDE)
/// still sees the fn.
fn emit_unchanged(item: TokenStream, errors: Errors) -> TokenStream {
    let errors = errors.into_compile_errors();
    quote!(#item #errors)
}

/// The span to blame for a non-fn item: its name when it has one.
pub(crate) fn item_span(item: &TokenStream) -> Span {
    match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Struct(item)) => item.ident.span(),
        Ok(syn::Item::Enum(item)) => item.ident.span(),
        Ok(syn::Item::Union(item)) => item.ident.span(),
        Ok(syn::Item::Const(item)) => item.ident.span(),
        Ok(syn::Item::Static(item)) => item.ident.span(),
        Ok(syn::Item::Type(item)) => item.ident.span(),
        Ok(syn::Item::Trait(item)) => item.ident.span(),
        Ok(syn::Item::Mod(item)) => item.ident.span(),
        Ok(syn::Item::Impl(item)) => item.self_ty.span(),
        _ => Span::call_site(),
    }
}

/// A second `#[posthog_tool]` still waiting on the fn (the attribute was written twice).
fn is_posthog_tool(attr: &syn::Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "posthog_tool")
}

/// The `name = "…"` of a sibling `#[tool(…)]` (any attribute whose last path segment is `tool`, as rmcp's
/// `#[tool_router]` sees it). The sibling stays on the fn untouched for rmcp to expand.
fn sibling_tool_name(func: &ImplItemFn) -> Option<String> {
    func.attrs
        .iter()
        .filter(|attr| {
            attr.path()
                .segments
                .last()
                .is_some_and(|s| s.ident == "tool")
        })
        .find_map(|attr| {
            let list = attr.meta.require_list().ok()?;
            let metas = list
                .parse_args_with(Punctuated::<syn::Meta, Token![,]>::parse_terminated)
                .ok()?;
            metas.into_iter().find_map(|meta| match meta {
                syn::Meta::NameValue(pair) if pair.path.is_ident("name") => match pair.value {
                    Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(name),
                        ..
                    }) => Some(name.value()),
                    _ => None,
                },
                _ => None,
            })
        })
}

fn declared_output(output: &ReturnType) -> Type {
    match output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    }
}

fn shape_of(func: &ImplItemFn) -> syn::Result<Shape> {
    let output = declared_output(&func.sig.output);
    if func.sig.asyncness.is_some() {
        return Ok(Shape::Async { output });
    }
    if let Some(future_output) = boxed_future_output(&output) {
        return match boxed_async_body(&func.block) {
            Some(body) => Ok(Shape::Boxed {
                output: future_output,
                body,
            }),
            None => Err(not_async_error(&func.sig)),
        };
    }
    if contains_impl_future(&output) {
        return Err(not_async_error(&func.sig));
    }
    Ok(Shape::Sync { output })
}

fn not_async_error(sig: &syn::Signature) -> syn::Error {
    syn::Error::new(
        sig.fn_token.span(),
        "`#[posthog_tool]` cannot see into a future this fn builds by hand; write the tool as an `async fn` \
         (or as a plain sync `fn`)",
    )
}

/// `T` in `Pin<Box<dyn Future<Output = T> + …>>`, the return type rmcp's `#[tool]` gives an `async fn`.
fn boxed_future_output(ty: &Type) -> Option<Type> {
    let pin = last_segment_args(ty, "Pin")?;
    let boxed = last_segment_args(pin, "Box")?;
    let Type::TraitObject(object) = boxed else {
        return None;
    };
    object.bounds.iter().find_map(|bound| {
        let syn::TypeParamBound::Trait(bound) = bound else {
            return None;
        };
        let segment = bound
            .path
            .segments
            .last()
            .filter(|segment| segment.ident == "Future")?;
        let syn::PathArguments::AngleBracketed(args) = &segment.arguments else {
            return None;
        };
        args.args.iter().find_map(|arg| match arg {
            syn::GenericArgument::AssocType(assoc) if assoc.ident == "Output" => {
                Some(assoc.ty.clone())
            }
            _ => None,
        })
    })
}

fn last_segment_args<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(path) = ty else { return None };
    let segment = path
        .path
        .segments
        .last()
        .filter(|segment| segment.ident == name)?;
    let syn::PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    args.args.iter().find_map(|arg| match arg {
        syn::GenericArgument::Type(ty) => Some(ty),
        _ => None,
    })
}

/// The `async move { … }` of a body that is exactly `Box::pin(async move { … })`.
fn boxed_async_body(block: &Block) -> Option<ExprAsync> {
    let [Stmt::Expr(Expr::Call(call), None)] = block.stmts.as_slice() else {
        return None;
    };
    let Expr::Path(callee) = &*call.func else {
        return None;
    };
    let is_pin = callee
        .path
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "pin");
    if !is_pin || call.args.len() != 1 {
        return None;
    }
    match call.args.first() {
        Some(Expr::Async(body)) => Some(body.clone()),
        _ => None,
    }
}

fn contains_impl_trait(ty: &Type) -> bool {
    fn walk(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|token| match token {
            TokenTree::Ident(ident) => ident == "impl",
            TokenTree::Group(group) => walk(group.stream()),
            _ => false,
        })
    }
    walk(ty.to_token_stream())
}

fn contains_impl_future(ty: &Type) -> bool {
    matches!(ty, Type::ImplTrait(bounds) if bounds.bounds.iter().any(|bound| matches!(
        bound,
        syn::TypeParamBound::Trait(bound) if bound.path.segments.last().is_some_and(|s| s.ident == "Future")
    )))
}

/// `::<T, _>` (async) or `::<T>` (sync), unless `T` mentions `impl Trait`, which cannot be written there.
fn turbofish(output: &Type, is_async: bool) -> TokenStream {
    match (contains_impl_trait(output), is_async) {
        (true, _) => TokenStream::new(),
        (false, true) => quote!(::<#output, _>),
        (false, false) => quote!(::<#output>),
    }
}

/// The user's block as an async block whose output type is pinned to the declared return type by a return edge
/// that never runs: `?` and `return` keep their meaning, inference never guesses, and a mismatch is reported
/// against the user's own return type.
fn typed_async_block(output: &Type, block: &Block, moved: bool) -> TokenStream {
    // Hygienic like every generated local, but located at the return type, so that rustc's "return type inferred
    // to be … here" note points at the user's signature.
    let fake = Ident::new(
        "__posthog_fake_return",
        Span::mixed_site().located_at(output.span()),
    );
    let edge = if contains_impl_trait(output) {
        TokenStream::new()
    } else {
        quote_spanned! {output.span()=>
            #[allow(
                unknown_lints,
                unreachable_code,
                clippy::diverging_sub_expression,
                clippy::empty_loop,
                clippy::let_unit_value,
                clippy::needless_return,
            )]
            if false {
                let #fake: #output = loop {};
                return #fake;
            }
        }
    };
    let stmts = &block.stmts;
    let capture = moved.then(|| quote!(move));
    quote!(async #capture { #edge #(#stmts)* })
}

/// `|out: &T| (&&&&Classify(out)).posthog_outcome()`: autoref specialization on the declared type.
fn classifier(v1: &TokenStream, output: &Type) -> TokenStream {
    let out = Ident::new("__posthog_out", Span::mixed_site());
    let param = typed_param(&out, output);
    quote!({
        #[allow(unused_imports)]
        use #v1::classify::{ViaDisplay as _, ViaError as _, ViaResult as _, ViaValue as _};
        |#param| (&&&&#v1::classify::Classify(#out)).posthog_outcome()
    })
}

/// `tokens` with every span moved to `span` (hygiene kept), so that an error about them points at user code.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut respanned =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                respanned.set_span(span);
                token = TokenTree::Group(respanned);
            } else {
                token.set_span(token.span().located_at(span));
            }
            token
        })
        .collect()
}

fn typed_param(name: &Ident, output: &Type) -> TokenStream {
    if contains_impl_trait(output) {
        quote!(#name)
    } else {
        quote!(#name: &#output)
    }
}

fn spec_static(spec: &Ident, v1: &TokenStream, name: &str, options: &ToolOptions) -> TokenStream {
    let category = match &options.category {
        Some(category) => quote!(::core::option::Option::Some(#category)),
        None => quote!(::core::option::Option::None),
    };
    let capture_args = options.capture_args.unwrap_or(true);
    let capture_response = options.capture_response.unwrap_or(true);
    let redact: &[LitStr] = &options.redact;
    let intent_description = match &options.intent_description {
        Some(description) => quote!(::core::option::Option::Some(#description)),
        None => quote!(::core::option::Option::None),
    };
    quote! {
        static #spec: #v1::ToolSpec = #v1::ToolSpec {
            name: #name,
            category: #category,
            capture_args: #capture_args,
            capture_response: #capture_response,
            redact: &[#(#redact),*],
            intent_description: #intent_description,
        };
        // Lets the wrapper know at `tools/list` time which tools are instrumented.
        #v1::inventory::submit! {
            #v1::ToolRegistration { spec: &#spec }
        }
    }
}
