//! Splitting a file's bytes into complete lines: large positioned reads into one reusable
//! buffer, newline search with `memchr`, and the over-long-line skip state.
//!
//! Nothing here allocates per line: every line is handed out as a slice of the buffer, and
//! the buffer only grows when a line longer than one read chunk (but within the cap) has to be
//! kept whole.

use std::fs::File;
use std::io;

/// How many bytes one read asks for; the buffer holds at most one over-long remainder plus this.
pub(super) const READ_CHUNK_BYTES: usize = 256 * 1024;

/// Something that can be read at an absolute position without a shared cursor.
///
/// Files use `pread`, so the same handle can be re-read from any offset; tests use byte slices.
pub(super) trait ReadAt {
    fn read_at(&self, buffer: &mut [u8], position: u64) -> io::Result<usize>;
}

impl ReadAt for File {
    fn read_at(&self, buffer: &mut [u8], position: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buffer, position)
    }
}

#[cfg(test)]
impl ReadAt for [u8] {
    fn read_at(&self, buffer: &mut [u8], position: u64) -> io::Result<usize> {
        let start = usize::try_from(position)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let available = &self[start..];
        let count = available.len().min(buffer.len());
        buffer[..count].copy_from_slice(&available[..count]);
        Ok(count)
    }
}

/// Where the unconsumed part of a file begins.
///
/// `offset` is always the first byte of a line, so it is safe to save and resume from: a
/// partial line is simply read again on the next call once its newline may have arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct LineCursor {
    /// The first byte not yet consumed; always the start of a line.
    pub offset: u64,
    /// While inside a line longer than the cap whose newline has not arrived yet: how many of
    /// its bytes (from `offset`) have already been looked at and dropped.
    pub skipped: Option<u64>,
}

impl LineCursor {
    pub fn at(offset: u64) -> LineCursor {
        LineCursor {
            offset,
            skipped: None,
        }
    }

    /// The first byte that has not been looked at yet.
    pub fn scan_position(&self) -> u64 {
        self.offset + self.skipped.unwrap_or(0)
    }
}

/// What one call hands out, in file order.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece<'a> {
    /// A complete line without its `\n` and without a trailing `\r`.
    Line(&'a [u8]),
    /// A line longer than the cap was dropped; its length without the newline.
    TooLong(u64),
}

/// The bounds of one call to [`read_lines`].
#[derive(Debug, Clone, Copy)]
pub(super) struct ReadLimits {
    /// Stop reading at this file position (the size seen when the poll began), so one busy file
    /// cannot keep a poll going forever.
    pub end: u64,
    /// Lines whose length without the newline exceeds this are skipped and reported.
    pub max_line_bytes: usize,
    /// How many bytes to ask for per read.
    pub chunk_bytes: usize,
    /// Hand out a final unterminated line too: used when the file is being closed because its
    /// writer has moved on.
    pub flush_remainder: bool,
}

/// Reads from `cursor` up to `limits.end`, handing out every complete line and advancing the
/// cursor past it. Returns the file position up to which bytes were read.
///
/// On an error, the cursor still describes exactly what was handed out, so the next call picks
/// up where this one stopped.
pub(super) fn read_lines<R: ReadAt + ?Sized>(
    source: &R,
    cursor: &mut LineCursor,
    buffer: &mut Vec<u8>,
    limits: &ReadLimits,
    emit: &mut dyn FnMut(Piece<'_>),
) -> io::Result<u64> {
    let chunk_bytes = limits.chunk_bytes.max(1);
    let max_line_bytes = limits.max_line_bytes;
    // `buffer[..filled]` holds the file bytes starting at `buffer_position`; everything before
    // `filled` has already been searched for newlines except what the last read added.
    let mut buffer_position = cursor.scan_position();
    let mut filled = 0usize;
    loop {
        let position = buffer_position + filled as u64;
        if position >= limits.end {
            break;
        }
        if buffer.len() < filled + chunk_bytes {
            buffer.resize(filled + chunk_bytes, 0);
        }
        let wanted = usize::try_from(limits.end - position)
            .unwrap_or(usize::MAX)
            .min(buffer.len() - filled);
        // The ranges below are within bounds by construction; an empty slice instead of a panic
        // would only end the read early.
        let space = buffer.get_mut(filled..filled + wanted).unwrap_or_default();
        let count = match source.read_at(space, position) {
            Ok(0) => break,
            Ok(count) => count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        let search_from = filled;
        filled += count;

        let mut line_start = 0usize;
        for newline in
            memchr::memchr_iter(b'\n', buffer.get(search_from..filled).unwrap_or_default())
        {
            let line_end = search_from + newline;
            let line = buffer.get(line_start..line_end).unwrap_or_default();
            if let Some(skipped) = cursor.skipped.take() {
                emit(Piece::TooLong(skipped + line.len() as u64));
            } else if line.len() > max_line_bytes {
                emit(Piece::TooLong(line.len() as u64));
            } else {
                emit(Piece::Line(strip_carriage_return(line)));
            }
            line_start = line_end + 1;
            cursor.offset = buffer_position + line_start as u64;
        }

        let remainder = filled - line_start;
        if let Some(skipped) = cursor.skipped.as_mut() {
            // Still inside an over-long line: drop what was read of it.
            *skipped += remainder as u64;
            buffer_position += filled as u64;
            filled = 0;
        } else if remainder > max_line_bytes {
            cursor.skipped = Some(remainder as u64);
            buffer_position += filled as u64;
            filled = 0;
        } else {
            buffer.copy_within(line_start..filled, 0);
            buffer_position += line_start as u64;
            filled = remainder;
        }
    }

    let reached = buffer_position + filled as u64;
    if limits.flush_remainder {
        if let Some(skipped) = cursor.skipped.take() {
            emit(Piece::TooLong(skipped));
            cursor.offset += skipped;
        } else if filled > 0 {
            emit(Piece::Line(strip_carriage_return(
                buffer.get(..filled).unwrap_or_default(),
            )));
            cursor.offset += filled as u64;
        }
    }
    Ok(reached)
}

/// Where to start reading a file of `size` bytes so as to skip what it already holds without
/// starting inside a line: `size` if it ends with a newline (or is empty), else the start of
/// its unfinished last line, so that the line is handed out whole once its newline arrives.
///
/// Only the last `max_line_bytes + 1` bytes are searched, backwards, one read chunk at a time:
/// an unfinished line longer than that would be skipped as over-long anyway, so `size` is
/// returned for it.
pub(super) fn start_of_unfinished_line<R: ReadAt + ?Sized>(
    source: &R,
    size: u64,
    max_line_bytes: usize,
    buffer: &mut Vec<u8>,
) -> io::Result<u64> {
    let max_line_bytes = max_line_bytes as u64;
    // The line itself and the newline before it.
    let window_start = size.saturating_sub(max_line_bytes.saturating_add(1));
    let mut end = size;
    while end > window_start {
        let chunk = usize::try_from(end - window_start)
            .unwrap_or(usize::MAX)
            .min(READ_CHUNK_BYTES);
        let start = end - chunk as u64;
        if buffer.len() < chunk {
            buffer.resize(chunk, 0);
        }
        let bytes = buffer.get_mut(..chunk).unwrap_or_default();
        if !read_exactly_at(source, bytes, start)? {
            // The file got shorter meanwhile; the next poll sees the truncation.
            return Ok(size);
        }
        if end == size && bytes.last() == Some(&b'\n') {
            return Ok(size);
        }
        if let Some(newline) = memchr::memrchr(b'\n', bytes) {
            return Ok(start + newline as u64 + 1);
        }
        end = start;
    }
    // No newline: the whole file is one unfinished line, unless that is too long to keep.
    if size <= max_line_bytes {
        Ok(0)
    } else {
        Ok(size)
    }
}

/// Fills `buffer` from `position`; false if the source ends first.
fn read_exactly_at<R: ReadAt + ?Sized>(
    source: &R,
    buffer: &mut [u8],
    position: u64,
) -> io::Result<bool> {
    let mut got = 0usize;
    while let Some(space) = buffer.get_mut(got..).filter(|space| !space.is_empty()) {
        match source.read_at(space, position + got as u64) {
            Ok(0) => return Ok(false),
            Ok(count) => got += count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
    Ok(true)
}

fn strip_carriage_return(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `input` from `start` with every chunk size from 1 to 9 and a large one, checking
    /// that each gives the same pieces and the same final cursor.
    fn check(
        input: &str,
        max_line_bytes: usize,
        flush: bool,
        expected: &[&str],
        expected_offset: u64,
    ) {
        for chunk_bytes in (1..=9).chain([READ_CHUNK_BYTES]) {
            let mut cursor = LineCursor::at(0);
            let mut buffer = Vec::new();
            let mut seen = Vec::new();
            let limits = ReadLimits {
                end: input.len() as u64,
                max_line_bytes,
                chunk_bytes,
                flush_remainder: flush,
            };
            let reached = read_lines(
                input.as_bytes(),
                &mut cursor,
                &mut buffer,
                &limits,
                &mut |piece| {
                    seen.push(describe(&piece));
                },
            )
            .unwrap();
            assert_eq!(seen, expected, "input {input:?}, chunk {chunk_bytes}");
            assert_eq!(
                cursor.offset, expected_offset,
                "input {input:?}, chunk {chunk_bytes}"
            );
            assert_eq!(reached, input.len() as u64);
            assert!(
                buffer.len() <= max_line_bytes + chunk_bytes + 1,
                "buffer grew to {} for chunk {chunk_bytes}",
                buffer.len()
            );
        }
    }

    fn describe(piece: &Piece<'_>) -> String {
        match piece {
            Piece::Line(line) => String::from_utf8_lossy(line).into_owned(),
            Piece::TooLong(bytes) => format!("<too long: {bytes}>"),
        }
    }

    #[test]
    fn splits_complete_lines() {
        check("", 100, false, &[], 0);
        check("a\n", 100, false, &["a"], 2);
        check("a\nbb\nccc\n", 100, false, &["a", "bb", "ccc"], 9);
        check("\n\n", 100, false, &["", ""], 2);
    }

    #[test]
    fn keeps_partial_line_for_later() {
        check("a\nbb", 100, false, &["a"], 2);
        check("partial", 100, false, &[], 0);
    }

    #[test]
    fn flushes_partial_line_when_asked() {
        check("a\nbb", 100, true, &["a", "bb"], 4);
        check("a\nbb\r", 100, true, &["a", "bb"], 5);
        check("a\n", 100, true, &["a"], 2);
    }

    #[test]
    fn strips_one_carriage_return() {
        check("a\r\nb\r\r\n\r\n", 100, false, &["a", "b\r", ""], 9);
    }

    #[test]
    fn skips_lines_over_the_cap() {
        check(
            "12345\n123456\nok\n",
            5,
            false,
            &["12345", "<too long: 6>", "ok"],
            16,
        );
        check("1234567890\n", 3, false, &["<too long: 10>"], 11);
        check("ok\n1234567890", 3, false, &["ok"], 3);
        check("ok\n1234567890", 3, true, &["ok", "<too long: 10>"], 13);
        check("\r\n", 0, false, &["<too long: 1>"], 2);
    }

    #[test]
    fn over_long_line_is_skipped_across_calls() {
        let input = b"abcdefghij";
        let mut cursor = LineCursor::at(0);
        let mut buffer = Vec::new();
        let mut seen = Vec::new();
        let mut limits = ReadLimits {
            end: 4,
            max_line_bytes: 3,
            chunk_bytes: 2,
            flush_remainder: false,
        };
        let mut input_so_far = input.to_vec();
        read_lines(&input[..], &mut cursor, &mut buffer, &limits, &mut |p| {
            seen.push(describe(&p))
        })
        .unwrap();
        assert_eq!(
            cursor,
            LineCursor {
                offset: 0,
                skipped: Some(4)
            }
        );
        limits.end = 10;
        read_lines(&input[..], &mut cursor, &mut buffer, &limits, &mut |p| {
            seen.push(describe(&p))
        })
        .unwrap();
        assert_eq!(
            cursor,
            LineCursor {
                offset: 0,
                skipped: Some(10)
            }
        );
        input_so_far.extend_from_slice(b"\nok\n");
        limits.end = input_so_far.len() as u64;
        read_lines(
            &input_so_far[..],
            &mut cursor,
            &mut buffer,
            &limits,
            &mut |p| seen.push(describe(&p)),
        )
        .unwrap();
        assert_eq!(seen, ["<too long: 10>", "ok"]);
        assert_eq!(cursor, LineCursor::at(14));
    }

    #[test]
    fn stops_at_the_limit() {
        let input = b"one\ntwo\nthree\n";
        let mut cursor = LineCursor::at(0);
        let mut buffer = Vec::new();
        let mut seen = Vec::new();
        let limits = ReadLimits {
            end: 6,
            max_line_bytes: 100,
            chunk_bytes: 64,
            flush_remainder: false,
        };
        let reached = read_lines(&input[..], &mut cursor, &mut buffer, &limits, &mut |p| {
            seen.push(describe(&p))
        })
        .unwrap();
        assert_eq!(seen, ["one"]);
        assert_eq!(reached, 6);
        assert_eq!(cursor, LineCursor::at(4));
    }

    #[test]
    fn resumes_from_a_nonzero_offset() {
        let input = b"one\ntwo\nthree\n";
        let mut cursor = LineCursor::at(4);
        let mut buffer = Vec::new();
        let mut seen = Vec::new();
        let limits = ReadLimits {
            end: 14,
            max_line_bytes: 100,
            chunk_bytes: 3,
            flush_remainder: false,
        };
        read_lines(&input[..], &mut cursor, &mut buffer, &limits, &mut |p| {
            seen.push(describe(&p))
        })
        .unwrap();
        assert_eq!(seen, ["two", "three"]);
        assert_eq!(cursor, LineCursor::at(14));
    }

    #[test]
    fn buffer_is_reused_without_growing_for_short_lines() {
        let line = "x".repeat(199) + "\n";
        let input = line.repeat(10_000);
        let mut cursor = LineCursor::at(0);
        let mut buffer = Vec::new();
        let mut lines = 0usize;
        let limits = ReadLimits {
            end: input.len() as u64,
            max_line_bytes: 1 << 20,
            chunk_bytes: READ_CHUNK_BYTES,
            flush_remainder: false,
        };
        read_lines(
            input.as_bytes(),
            &mut cursor,
            &mut buffer,
            &limits,
            &mut |_| lines += 1,
        )
        .unwrap();
        assert_eq!(lines, 10_000);
        assert!(buffer.len() < 2 * READ_CHUNK_BYTES);
    }

    #[test]
    fn finds_the_start_of_an_unfinished_last_line() {
        let start = |input: &str, max_line_bytes: usize| {
            let mut buffer = Vec::new();
            start_of_unfinished_line(
                input.as_bytes(),
                input.len() as u64,
                max_line_bytes,
                &mut buffer,
            )
            .unwrap()
        };
        assert_eq!(start("", 10), 0);
        assert_eq!(start("one\ntwo\n", 10), 8);
        assert_eq!(start("one\ntw", 10), 4);
        assert_eq!(start("partial", 10), 0);
        // The unfinished line may be as long as the cap, and no longer.
        assert_eq!(start("one\n0123456789", 10), 4);
        assert_eq!(start("one\n01234567890", 10), 15);
        assert_eq!(start("0123456789", 10), 0);
        assert_eq!(start("01234567890", 10), 11);
        // Searched backwards across several read chunks.
        let long = format!("{}\n{}", "a".repeat(10), "b".repeat(3 * READ_CHUNK_BYTES));
        assert_eq!(start(&long, 4 * READ_CHUNK_BYTES), 11);
        assert_eq!(start(&long, 3 * READ_CHUNK_BYTES - 1), long.len() as u64);
    }
}
