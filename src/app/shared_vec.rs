//! A vector in chunks that can be handed to another thread without copying it: a clone
//! shares every chunk, and a change copies only the chunk it touches, and only while a
//! clone still holds it. The inbox keeps its tasks and its SLA order in these so that a
//! filter's match starts on a background thread without copying 100,000 rows per keystroke.

use std::ops::Index;
use std::sync::Arc;

/// Items in one chunk: a change during a match copies at most this many.
const CHUNK: usize = 1024;

#[derive(Clone, Debug)]
pub struct SharedVec<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T> Default for SharedVec<T> {
    fn default() -> Self {
        SharedVec {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Clone> SharedVec<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn push(&mut self, item: T) {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Arc::new(Vec::with_capacity(CHUNK)));
        }
        if let Some(last) = self.chunks.last_mut() {
            Arc::make_mut(last).push(item);
            self.len += 1;
        }
    }

    pub fn get_mut(&mut self, index: usize) -> &mut T {
        &mut Arc::make_mut(&mut self.chunks[index / CHUNK])[index % CHUNK]
    }

    /// Chunks that a clone (or `other`) still shares with this one, for tests.
    #[cfg(test)]
    pub fn shared_chunks(&self, other: &SharedVec<T>) -> usize {
        self.chunks
            .iter()
            .zip(&other.chunks)
            .filter(|(a, b)| Arc::ptr_eq(a, b))
            .count()
    }
}

impl<T> Index<usize> for SharedVec<T> {
    type Output = T;

    fn index(&self, index: usize) -> &T {
        &self.chunks[index / CHUNK][index % CHUNK]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_shares_every_chunk_and_a_change_copies_only_its_own() {
        let mut all = SharedVec::default();
        for i in 0..10 * CHUNK {
            all.push(i);
        }
        let held = all.clone();
        assert_eq!(all.shared_chunks(&held), 10);
        *all.get_mut(3 * CHUNK + 5) = 0;
        all.push(7);
        assert_eq!(all.shared_chunks(&held), 9, "one chunk copied");
        assert_eq!(
            (held[3 * CHUNK + 5], all[3 * CHUNK + 5]),
            (3 * CHUNK + 5, 0)
        );
        assert_eq!(
            (held.len(), all.len(), all[10 * CHUNK]),
            (10 * CHUNK, 10 * CHUNK + 1, 7)
        );
    }
}
