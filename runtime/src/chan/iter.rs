//! iter — iterating a [`Receiver`]: Go's `for v := range ch`.

#![forbid(unsafe_code)]

use std::fmt;

use super::Receiver;

/// Blocking iterator over a receiver's messages; ends when the channel is
/// empty and disconnected. From [`Receiver::iter`] or `for v in &rx`.
///
/// ```
/// let (tx, rx) = gort::chan::bounded(2);
/// gort::go!(move || { tx.send(1).unwrap(); tx.send(2).unwrap(); });
/// let mut sum = 0;
/// for v in &rx {
///     sum += v;
/// }
/// assert_eq!(sum, 3);
/// ```
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

/// Non-blocking iterator over the messages ready now. From
/// [`Receiver::try_iter`].
///
/// ```
/// let (tx, rx) = gort::chan::bounded(2);
/// tx.send(1).unwrap();
/// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1]);
/// ```
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

/// Owning blocking iterator: `for v in rx`.
///
/// ```
/// let (tx, rx) = gort::chan::bounded(1);
/// gort::go!(move || tx.send("only").unwrap());
/// assert_eq!(rx.into_iter().collect::<Vec<_>>(), ["only"]);
/// ```
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<'a, T> Iter<'a, T> {
    pub(super) fn new(rx: &'a Receiver<T>) -> Self {
        Iter { rx }
    }
}

impl<'a, T> TryIter<'a, T> {
    pub(super) fn new(rx: &'a Receiver<T>) -> Self {
        TryIter { rx }
    }
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Iter { .. }")
    }
}

impl<T> fmt::Debug for TryIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TryIter { .. }")
    }
}

impl<T> fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IntoIter { .. }")
    }
}
