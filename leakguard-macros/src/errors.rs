//! Errors collected across one macro invocation, so that the user sees all of them in one
//! build rather than one per build.

use proc_macro2::TokenStream;
use quote::ToTokens;
use std::fmt::Display;

/// The errors of one macro invocation, reported together.
#[derive(Default)]
pub(crate) struct Errors(Vec<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.0.push(error);
    }

    /// Records `message`, pointing at the tokens of `at`.
    pub(crate) fn at(&mut self, at: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(at, message));
    }

    /// The recorded errors as `compile_error!` invocations, or `None` if there are none.
    pub(crate) fn into_compile_errors(self) -> Option<TokenStream> {
        if self.0.is_empty() {
            return None;
        }
        Some(self.0.iter().map(syn::Error::to_compile_error).collect())
    }

    pub(crate) fn has_any(&self) -> bool {
        !self.0.is_empty()
    }
}
