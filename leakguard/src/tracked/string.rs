//! Growth and removal methods of tracked strings.

use std::fmt;
use std::ops::{AddAssign, RangeBounds};

use leakguard_macros::__field_methods;

use super::Tracked;
use super::accounted::{Accounted, storage_methods};
use crate::heap_size::HeapUsage;

#[__field_methods]
impl Accounted<String> {
    storage_methods!();

    /// Reserves room for exactly `additional` more bytes.
    pub fn reserve_exact(&mut self, additional: usize) {
        self.raw().reserve_exact(additional);
        self.storage_changed();
    }

    /// Appends a character; see [`String::push`].
    #[inline]
    #[track_caller]
    pub fn push(&mut self, ch: char) {
        self.raw().push(ch);
        self.grew(HeapUsage::NONE);
    }

    /// Appends a string slice; see [`String::push_str`].
    #[inline]
    #[track_caller]
    pub fn push_str(&mut self, string: &str) {
        self.raw().push_str(string);
        self.grew(HeapUsage::NONE);
    }

    /// Inserts a character at byte `idx`; see [`String::insert`].
    #[track_caller]
    pub fn insert(&mut self, idx: usize, ch: char) {
        self.raw().insert(idx, ch);
        self.grew(HeapUsage::NONE);
    }

    /// Inserts a string slice at byte `idx`; see [`String::insert_str`].
    #[track_caller]
    pub fn insert_str(&mut self, idx: usize, string: &str) {
        self.raw().insert_str(idx, string);
        self.grew(HeapUsage::NONE);
    }

    /// Removes and returns the last character; see [`String::pop`].
    pub fn pop(&mut self) -> Option<char> {
        let ch = self.raw().pop()?;
        self.shrank(HeapUsage::NONE);
        Some(ch)
    }

    /// Removes and returns the character at byte `idx`; see [`String::remove`].
    #[track_caller]
    pub fn remove(&mut self, idx: usize) -> char {
        let ch = self.raw().remove(idx);
        self.shrank(HeapUsage::NONE);
        ch
    }

    /// Keeps the first `new_len` bytes; see [`String::truncate`].
    #[track_caller]
    pub fn truncate(&mut self, new_len: usize) {
        self.raw().truncate(new_len);
        self.shrank(HeapUsage::NONE);
    }

    /// Empties the string, keeping the storage; see [`String::clear`].
    pub fn clear(&mut self) {
        self.raw().clear();
        self.shrank(HeapUsage::NONE);
    }

    /// Keeps the characters for which `f` returns `true`; see [`String::retain`].
    pub fn retain<F: FnMut(char) -> bool>(&mut self, f: F) {
        self.guarded(|c| c.retain(f));
        self.shrank(HeapUsage::NONE);
    }

    /// Splits off the bytes from `at` on; see [`String::split_off`].
    #[track_caller]
    pub fn split_off(&mut self, at: usize) -> String {
        let tail = self.raw().split_off(at);
        self.shrank(HeapUsage::NONE);
        tail
    }

    /// Removes the bytes in `range`, returning their characters; see [`String::drain`].
    #[track_caller]
    pub fn drain<R: RangeBounds<usize>>(&mut self, range: R) -> std::string::Drain<'_> {
        self.drained(HeapUsage::NONE);
        self.raw().drain(range)
    }
}

#[__field_methods]
impl<'a> Extend<&'a str> for Accounted<String> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = &'a str>>(&mut self, iter: It) {
        self.raw().extend(iter);
        self.grew(HeapUsage::NONE);
    }
}

#[__field_methods]
impl Extend<String> for Accounted<String> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = String>>(&mut self, iter: It) {
        self.raw().extend(iter);
        self.grew(HeapUsage::NONE);
    }
}

#[__field_methods]
impl Extend<char> for Accounted<String> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = char>>(&mut self, iter: It) {
        self.raw().extend(iter);
        self.grew(HeapUsage::NONE);
    }
}

#[__field_methods]
impl<'a> Extend<&'a char> for Accounted<String> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = &'a char>>(&mut self, iter: It) {
        self.raw().extend(iter);
        self.grew(HeapUsage::NONE);
    }
}

#[__field_methods]
impl AddAssign<&str> for Accounted<String> {
    #[track_caller]
    fn add_assign(&mut self, rhs: &str) {
        self.push_str(rhs);
    }
}

#[__field_methods]
impl fmt::Write for Accounted<String> {
    #[track_caller]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s);
        Ok(())
    }

    #[track_caller]
    fn write_char(&mut self, c: char) -> fmt::Result {
        self.push(c);
        Ok(())
    }
}
