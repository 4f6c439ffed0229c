//! One write per frame. Crossterm's backend flushes after every cursor command, so a frame
//! reached the terminal in pieces (7 writes for the first one) and could show half-drawn over
//! a slow link. [`FrameBackend`] keeps everything a frame queues and hands it over in one
//! write when ratatui flushes the frame, inside a synchronized update (mode 2026; terminals
//! without it ignore the sequence).

use std::io::{self, Write};

use crossterm::queue;
use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};

/// Frames at most this long go out without the synchronized-update sequences: one small write
/// reaches the terminal in one piece (one read, one SSH packet), so it cannot tear, and the
/// 16 bytes of the mode would be a third of an idle second (the clock ticking).
const ATOMIC_FRAME: usize = 256;

/// A crossterm backend that sends each frame to `out` in one write.
pub struct FrameBackend<W: Write> {
    /// Crossterm encodes into this buffer; flushing a `Vec` sends nothing.
    encoder: CrosstermBackend<Vec<u8>>,
    out: W,
    /// Whether the cursor is known to be hidden: ratatui hides it on every frame.
    cursor_hidden: bool,
}

impl<W: Write> FrameBackend<W> {
    pub fn new(out: W) -> Self {
        FrameBackend {
            encoder: CrosstermBackend::new(Vec::with_capacity(16 * 1024)),
            out,
            cursor_hidden: false,
        }
    }

    /// Hands what was queued since the last frame to `out` in one write.
    fn send(&mut self) -> io::Result<()> {
        let queued = self.encoder.writer_mut();
        if queued.is_empty() {
            return Ok(());
        }
        let written = if queued.len() <= ATOMIC_FRAME {
            self.out.write_all(queued)
        } else {
            let mut frame = Vec::with_capacity(queued.len() + 16);
            queue!(frame, BeginSynchronizedUpdate)?;
            frame.extend_from_slice(queued);
            queue!(frame, EndSynchronizedUpdate)?;
            self.out.write_all(&frame)
        };
        queued.clear();
        written.and_then(|()| self.out.flush())
    }
}

impl<W: Write> Backend for FrameBackend<W> {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        // An unchanged frame sends nothing (crossterm would still reset the colours).
        let mut content = content.peekable();
        if content.peek().is_none() {
            return Ok(());
        }
        self.encoder.draw(content)
    }

    fn hide_cursor(&mut self) -> io::Result<()> {
        if self.cursor_hidden {
            return Ok(());
        }
        self.encoder.hide_cursor()?;
        self.cursor_hidden = true;
        Ok(())
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        self.encoder.show_cursor()?;
        self.cursor_hidden = false;
        Ok(())
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        self.encoder.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        self.encoder.set_cursor_position(position)
    }

    fn clear(&mut self) -> io::Result<()> {
        self.encoder.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        self.encoder.clear_region(clear_type)
    }

    fn size(&self) -> io::Result<Size> {
        self.encoder.size()
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        self.encoder.window_size()
    }

    /// Ratatui flushes once, at the end of each frame: the frame goes out here.
    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// Bytes written between frames (a notification's escape) go out with the next flush.
impl<W: Write> Write for FrameBackend<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.encoder.writer_mut().write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
