//! Code generation for `#[posthog_identify]`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, ReturnType, Type};

use crate::attr::{Errors, IdentifyOptions, runtime_path};
use crate::expand::{item_span, respan};

const EXPECTED: &str = "expected `async fn name(req: &RequestView) -> Option<Identity>` \
                        (or `-> Result<Option<Identity>, E>` with `E: Display`)";

pub(crate) fn posthog_identify(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options = IdentifyOptions::parse(args, &mut errors);

    let func = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            errors.push(syn::Error::new(
                item_span(&item),
                format!("`#[posthog_identify]` goes on a free async fn; {EXPECTED}"),
            ));
            return unchanged(item, errors);
        }
    };

    let sig = &func.sig;
    let mut problems: Vec<&str> = Vec::new();
    if sig.constness.is_some() {
        problems.push("it must not be a `const fn`");
    }
    if sig.asyncness.is_none() {
        problems.push("it must be `async`");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        problems.push("it must not be generic");
    }
    if sig.variadic.is_some() || sig.abi.is_some() {
        problems.push("it must be a plain Rust fn");
    }
    let argument = match sig.inputs.iter().collect::<Vec<_>>().as_slice() {
        [FnArg::Typed(arg)] => match &*arg.ty {
            Type::Reference(reference) if reference.mutability.is_none() => Some(reference.clone()),
            _ => {
                problems.push("its one parameter must be a shared reference to the request view (`&RequestView`)");
                None
            }
        },
        [FnArg::Receiver(_)] => {
            problems.push("it must be a free fn, without `self`");
            None
        }
        _ => {
            problems.push("it must take exactly one parameter, `&RequestView`");
            None
        }
    };
    if matches!(sig.output, ReturnType::Default) {
        problems.push("it must return `Option<Identity>` or `Result<Option<Identity>, E>`");
    }
    if !problems.is_empty() {
        errors.push(syn::Error::new_spanned(
            sig,
            format!(
                "invalid identify fn signature: {}; {EXPECTED}",
                problems.join(", ")
            ),
        ));
    }
    let Some(argument) = argument.filter(|_| errors.is_empty()) else {
        return unchanged(item, errors);
    };

    let rt = runtime_path(options.krate.as_ref());
    let v1 = quote!(#rt::__private::v1);
    let name = &sig.ident;
    let shim = Ident::new("__posthog_identify_shim", Span::mixed_site());
    let view = Ident::new("__posthog_view", Span::mixed_site());
    let output_span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.span(),
    };
    // Spans point mismatches at the user's own signature: the argument type, the return type, the fn name.
    let view_at_argument = Ident::new(
        "__posthog_view",
        Span::mixed_site().located_at(argument.span()),
    );
    let borrow = quote_spanned!(argument.span()=> &#view_at_argument);
    let returned = Ident::new("__posthog_returned", Span::mixed_site());
    // Located at the return type: an unsupported return type is reported there.
    let normalize = respan(
        quote!(#v1::IntoIdentifyResult::into_identify_result(#returned)),
        output_span,
    );
    let boxed = quote_spanned!(name.span()=> ::std::boxed::Box::pin);
    let location =
        quote_spanned!(name.span()=> ::core::concat!(::core::file!(), ":", ::core::line!()));

    quote! {
        #func

        const _: () = {
            fn #shim(#view: #v1::RequestView) -> #v1::IdentifyFuture {
                #boxed(async move {
                    let #returned = #name(#borrow).await;
                    #normalize
                })
            }
            #v1::inventory::submit! {
                #v1::IdentifyRegistration {
                    name: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                    location: #location,
                    func: #shim,
                }
            }
        };
    }
}

fn unchanged(item: TokenStream, errors: Errors) -> TokenStream {
    let errors = errors.into_compile_errors();
    quote!(#item #errors)
}
