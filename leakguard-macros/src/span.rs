//! Spans for errors: where an error about an item or a type should point.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;

/// The span of the last token of `tokens`. Code spanned from the first token to it
/// underlines all of them, where `Span::join` is unavailable.
pub(crate) fn last_span(tokens: impl ToTokens) -> Span {
    match tokens.into_token_stream().into_iter().last() {
        Some(TokenTree::Group(group)) => group.span_close(),
        Some(token) => token.span(),
        None => Span::call_site(),
    }
}

/// The first token of an item that is not an attribute or its visibility: `fn` in
/// `#[inline] pub fn f() {}`. Used to point at items that are not structs.
pub(crate) fn item_keyword(tokens: &TokenStream) -> Span {
    item_keyword_token(tokens).map_or_else(Span::call_site, |token| token.span())
}

/// The token [`item_keyword`] points at.
pub(crate) fn item_keyword_token(tokens: &TokenStream) -> Option<TokenTree> {
    let mut iter = tokens.clone().into_iter().peekable();
    while let Some(token) = iter.next() {
        match &token {
            TokenTree::Punct(p) if p.as_char() == '#' => {
                iter.next();
            }
            TokenTree::Ident(ident) if ident == "pub" => {
                if matches!(iter.peek(), Some(TokenTree::Group(g)) if g.delimiter() == proc_macro2::Delimiter::Parenthesis)
                {
                    iter.next();
                }
            }
            _ => return Some(token),
        }
    }
    None
}
