//! Growth and removal methods of tracked strings.

use std::fmt;
use std::ops::{AddAssign, RangeBounds};

use super::Tracked;
use super::accounted::storage_methods;

impl<O, const I: usize> Tracked<String, O, I> {
    storage_methods!();

    /// Reserves room for exactly `additional` more bytes.
    pub fn reserve_exact(&mut self, additional: usize) {
        self.accounted.raw().reserve_exact(additional);
        self.accounted.storage_changed();
    }

    /// Appends a character; see [`String::push`].
    #[inline]
    #[track_caller]
    pub fn push(&mut self, ch: char) {
        self.accounted.raw().push(ch);
        self.accounted.grew(0);
    }

    /// Appends a string slice; see [`String::push_str`].
    #[inline]
    #[track_caller]
    pub fn push_str(&mut self, string: &str) {
        self.accounted.raw().push_str(string);
        self.accounted.grew(0);
    }

    /// Inserts a character at byte `idx`; see [`String::insert`].
    #[track_caller]
    pub fn insert(&mut self, idx: usize, ch: char) {
        self.accounted.raw().insert(idx, ch);
        self.accounted.grew(0);
    }

    /// Inserts a string slice at byte `idx`; see [`String::insert_str`].
    #[track_caller]
    pub fn insert_str(&mut self, idx: usize, string: &str) {
        self.accounted.raw().insert_str(idx, string);
        self.accounted.grew(0);
    }

    /// Removes and returns the last character; see [`String::pop`].
    pub fn pop(&mut self) -> Option<char> {
        let ch = self.accounted.raw().pop()?;
        self.accounted.shrank(0);
        Some(ch)
    }

    /// Removes and returns the character at byte `idx`; see [`String::remove`].
    #[track_caller]
    pub fn remove(&mut self, idx: usize) -> char {
        let ch = self.accounted.raw().remove(idx);
        self.accounted.shrank(0);
        ch
    }

    /// Keeps the first `new_len` bytes; see [`String::truncate`].
    #[track_caller]
    pub fn truncate(&mut self, new_len: usize) {
        self.accounted.raw().truncate(new_len);
        self.accounted.shrank(0);
    }

    /// Empties the string, keeping the storage; see [`String::clear`].
    pub fn clear(&mut self) {
        self.accounted.raw().clear();
        self.accounted.shrank(0);
    }

    /// Keeps the characters for which `f` returns `true`; see [`String::retain`].
    pub fn retain<F: FnMut(char) -> bool>(&mut self, f: F) {
        self.accounted.guarded(|c| c.retain(f));
        self.accounted.shrank(0);
    }

    /// Splits off the bytes from `at` on; see [`String::split_off`].
    #[track_caller]
    pub fn split_off(&mut self, at: usize) -> String {
        let tail = self.accounted.raw().split_off(at);
        self.accounted.shrank(0);
        tail
    }

    /// Removes the bytes in `range`, returning their characters; see [`String::drain`].
    #[track_caller]
    pub fn drain<R: RangeBounds<usize>>(&mut self, range: R) -> std::string::Drain<'_> {
        self.accounted.drained(0);
        self.accounted.raw().drain(range)
    }
}

impl<'a, O, const I: usize> Extend<&'a str> for Tracked<String, O, I> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = &'a str>>(&mut self, iter: It) {
        self.accounted.raw().extend(iter);
        self.accounted.grew(0);
    }
}

impl<O, const I: usize> Extend<String> for Tracked<String, O, I> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = String>>(&mut self, iter: It) {
        self.accounted.raw().extend(iter);
        self.accounted.grew(0);
    }
}

impl<O, const I: usize> Extend<char> for Tracked<String, O, I> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = char>>(&mut self, iter: It) {
        self.accounted.raw().extend(iter);
        self.accounted.grew(0);
    }
}

impl<'a, O, const I: usize> Extend<&'a char> for Tracked<String, O, I> {
    #[track_caller]
    fn extend<It: IntoIterator<Item = &'a char>>(&mut self, iter: It) {
        self.accounted.raw().extend(iter);
        self.accounted.grew(0);
    }
}

impl<O, const I: usize> AddAssign<&str> for Tracked<String, O, I> {
    #[track_caller]
    fn add_assign(&mut self, rhs: &str) {
        self.push_str(rhs);
    }
}

impl<O, const I: usize> fmt::Write for Tracked<String, O, I> {
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

