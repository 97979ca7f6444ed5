//! The fast path of the JSON-line parser: a hand-written scanner over one line that checks the
//! JSON grammar, looks keys up in the mapping's prefix tree, converts the values of mapped keys
//! and skips the rest, without allocating and without `serde`.
//!
//! It either settles a line or hands it back. [`walk`] returns `None` ("not settled") for
//! anything it does not read itself, and the caller then runs the `serde_json` walk over the
//! line from the start, so every error message, every odd input and every rarely used feature
//! keeps exactly the reading it had. When it returns `Some`, the line was one well-formed JSON
//! object and the mapped values were recorded as the `serde_json` walk would record them (the
//! same values, in the same order, through the same `LineState::record`).
//!
//! What the scanner checks, in skipped values as much as in mapped ones:
//!
//! - the structure: `{` … `}` and `[` … `]` nest and match (a stack of up to
//!   [`SKIP_DEPTH_LIMIT`] levels; deeper is handed back), keys are strings, `:` after each key,
//!   `,` between entries and none before a closing bracket, nothing but whitespace (space, tab,
//!   `\n`, `\r`) after the object;
//! - strings: closed by `"`, no raw control character (below U+0020), every `\` followed by one
//!   of `" \ / b f n r t` or by `u` and four hex digits;
//! - numbers: the JSON grammar (`-`, no leading zero, at least one digit after `.` and after the
//!   exponent's `e`); literals: exactly `true`, `false`, `null`.
//!
//! What it does not check, as `serde_json` does not when it skips a value (`IgnoredAny`): the
//! magnitude of a skipped number (`1e999` is a valid skipped number), and whether a skipped
//! string's `\u` escapes pair up into valid UTF-16 surrogates.
//!
//! The scanner reads the line as bytes and checks its UTF-8 itself: outside strings only ASCII
//! belongs to the grammar, so only the contents of strings can hold other bytes, and each run of
//! non-ASCII bytes in a string is checked with `std::str::from_utf8` (the ASCII around it is
//! passed eight bytes at a time, as before). A settled line is therefore valid UTF-8 as a whole;
//! a line with an invalid sequence anywhere is handed back, and the caller's whole-line check
//! then names it.
//!
//! What it hands back (`None`), valid or not: any grammar error above (so a truncated line, a
//! string cut short, an unbalanced bracket, a bad escape or trailing garbage never becomes a
//! record, and `serde_json` names the problem); a top level that is not an object; a key of a
//! walked object, or a mapped string value, with a `\` escape (`serde_json` unescapes them); a
//! mapped number whose digits do not fit a `u64` or whose decimal exponent is beyond ±22 (the
//! range in which `serde_json`'s own conversion is one exact operation that this one repeats);
//! `NaN` and `Infinity` (read by the lenient retry); mapped objects nested deeper than
//! [`MAPPED_DEPTH_LIMIT`].

use super::LineState;
use crate::ingest::mapping::PathNode;
use crate::ingest::values::Raw;

/// Containers nested inside one skipped value that the scanner follows; deeper ones are handed
/// back (`serde_json` skips any depth without recursion).
pub(super) const SKIP_DEPTH_LIMIT: u32 = 128;

/// Mapped objects the scanner descends into; `serde_json` stops at 128 levels, so deeper mappings
/// are left to it.
pub(super) const MAPPED_DEPTH_LIMIT: u32 = 64;

/// Exact powers of ten as `f64`: every one up to 1e22 is representable.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `10^n` for `n` up to 8.
const POWERS_OF_TEN_U64: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// Per run length `n` (up to 8 digits), the significands below which `significand * 10^n` plus
/// `n` digits stays below 10^19, so within a `u64`.
const SAFE_BELOW: [u64; 9] = [
    10_000_000_000_000_000_000,
    10_000_000_000_000_000_000 / 10,
    10_000_000_000_000_000_000 / 100,
    10_000_000_000_000_000_000 / 1_000,
    10_000_000_000_000_000_000 / 10_000,
    10_000_000_000_000_000_000 / 100_000,
    10_000_000_000_000_000_000 / 1_000_000,
    10_000_000_000_000_000_000 / 10_000_000,
    10_000_000_000_000_000_000 / 100_000_000,
];

/// How many of a word's bytes, from the lowest, are ASCII digits (0 to 8).
fn leading_digits(word: u64) -> usize {
    let values = word ^ repeated(b'0');
    // A byte is flagged when its value is 10 or more (the addition reaches its high bit) or
    // its high bit is set; a carry can only flag bytes above one already flagged.
    let not_digits = (values.wrapping_add(repeated(0x76)) | values) & repeated(0x80);
    (not_digits.trailing_zeros() / 8) as usize
}

/// The value of eight ASCII digits in a word, the first in the lowest byte; zero bytes count as
/// leading zeros.
fn eight_digits(word: u64) -> u64 {
    let digits = word & repeated(0x0F);
    let pairs = (digits.wrapping_mul(10) + (digits >> 8)) & 0x00FF_00FF_00FF_00FF;
    let quads = (pairs.wrapping_mul(100) + (pairs >> 16)) & 0x0000_FFFF_0000_FFFF;
    (quads.wrapping_mul(10_000) + (quads >> 32)) & 0xFFFF_FFFF
}

/// `significand * 10 + digit`, or `None` past `u64::MAX`.
#[inline]
fn accumulate(significand: u64, digit: u64) -> Option<u64> {
    // Below this, no overflow is possible: the common case costs one comparison.
    if significand < u64::MAX / 10 {
        Some(significand * 10 + digit)
    } else {
        significand.checked_mul(10)?.checked_add(digit)
    }
}

/// Walks `text` as one JSON object, recording the values of the keys `root` maps into `state`.
/// `None` when the line is not settled here (see the module doc); `state` is then to be
/// discarded.
pub(super) fn walk(line: &[u8], root: &PathNode, state: &mut LineState) -> Option<()> {
    let mut scanner = Scanner { bytes: line, at: 0 };
    scanner.skip_whitespace();
    scanner.expect(b'{')?;
    scanner.walk_object(root, state, 0)?;
    scanner.skip_whitespace();
    (scanner.at == scanner.bytes.len()).then_some(())
}

/// What kind of byte a string holds, for the string loops.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ByteClass {
    Plain,
    Quote,
    Backslash,
    Control,
    /// 0x80 and above: part of a multi-byte UTF-8 sequence, or invalid.
    NonAscii,
}

const fn byte_classes() -> [ByteClass; 256] {
    let mut classes = [ByteClass::Plain; 256];
    let mut byte = 0;
    while byte < 0x20 {
        classes[byte] = ByteClass::Control;
        byte += 1;
    }
    byte = 0x80;
    while byte < 0x100 {
        classes[byte] = ByteClass::NonAscii;
        byte += 1;
    }
    classes[b'"' as usize] = ByteClass::Quote;
    classes[b'\\' as usize] = ByteClass::Backslash;
    classes
}

static BYTE_CLASSES: [ByteClass; 256] = byte_classes();

/// Every byte of a word set to `byte`.
const fn repeated(byte: u8) -> u64 {
    u64::from_le_bytes([byte; 8])
}

/// A word (eight bytes of a line, the first in the lowest bits) → the high bit set in the
/// lowest byte that is a `"`, a backslash, below 0x20 or above 0x7f, if any. Bytes above that one
/// may be flagged wrongly by a borrow, so only the lowest set bit counts.
fn special_bytes(word: u64) -> u64 {
    let zero_bytes = |value: u64| value.wrapping_sub(repeated(1)) & !value & repeated(0x80);
    zero_bytes(word ^ repeated(b'"'))
        | zero_bytes(word ^ repeated(b'\\'))
        | (word.wrapping_sub(repeated(0x20)) & !word & repeated(0x80))
        | (word & repeated(0x80))
}

/// The open containers of a skipped value: one bit per level, set for an object.
#[derive(Default)]
struct Frames {
    objects: u128,
    depth: u32,
}

impl Frames {
    fn push(&mut self, object: bool) -> Option<()> {
        if self.depth >= SKIP_DEPTH_LIMIT {
            return None;
        }
        self.objects = (self.objects << 1) | u128::from(object);
        self.depth += 1;
        Some(())
    }

    fn pop(&mut self) {
        self.objects >>= 1;
        self.depth = self.depth.saturating_sub(1);
    }

    /// Whether the innermost open container is an object; `None` when none is open.
    fn innermost_is_object(&self) -> Option<bool> {
        (self.depth > 0).then_some(self.objects & 1 == 1)
    }
}

/// The parts of a well-formed number, as the scanner read them.
#[derive(Clone, Copy)]
struct NumberParts {
    /// The digits without the decimal point (when `fits`).
    significand: u64,
    /// The power of ten to apply: the exponent written, less the digits after the point.
    exponent: i64,
    negative: bool,
    /// Whether a `.` or an exponent was written.
    float: bool,
    /// Whether the digits fit a `u64`.
    fits: bool,
}

impl NumberParts {
    /// The value as `serde_json` converts it: an integer without `.` or exponent is a `u64`, or
    /// when negative an `i64` (`-0` and integers below `i64::MIN` are floats); any other number
    /// is the significand as an `f64`, multiplied or divided by an exact power of ten. `None`
    /// outside what this scanner converts (see the module doc).
    fn raw(self) -> Option<Raw<'static>> {
        let NumberParts {
            significand,
            exponent,
            negative,
            float,
            fits,
        } = self;
        if !fits {
            return None;
        }
        if !float {
            return Some(if !negative {
                Raw::Unsigned(significand)
            } else {
                let value = (significand as i64).wrapping_neg();
                if value < 0 {
                    Raw::Signed(value)
                } else {
                    Raw::Float(-(significand as f64))
                }
            });
        }
        let power = POWERS_OF_TEN.get(exponent.unsigned_abs() as usize)?;
        let magnitude = if exponent >= 0 {
            significand as f64 * power
        } else {
            significand as f64 / power
        };
        Some(Raw::Float(if negative { -magnitude } else { magnitude }))
    }
}

struct Scanner<'a> {
    bytes: &'a [u8],
    /// The next byte to read.
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// The entries of an object whose `{` was just read, looked up among `node`'s children.
    fn walk_object(&mut self, node: &PathNode, state: &mut LineState, depth: u32) -> Option<()> {
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Some(());
        }
        self.expect(b'"')?;
        loop {
            // Just past the `"` that opens a key.
            let word = self.word();
            let key = self.string_bytes()?;
            // The usual `": "` in one test; any other spacing byte by byte.
            if self.bytes.get(self.at..self.at + 2) == Some(b": ") {
                self.at += 2;
            } else {
                self.skip_whitespace();
                self.expect(b':')?;
            }
            self.skip_whitespace();
            let child = match word {
                Some(word) => node.child_at(key, word),
                None => node.child_of_bytes(key),
            };
            match child {
                Some(child) => self.mapped_value(child, state, depth)?,
                None => self.skip_value()?,
            }
            // The usual `, "` between entries in one test, the rest byte by byte.
            if self.bytes.get(self.at..self.at + 3) == Some(b", \"") {
                self.at += 3;
                continue;
            }
            self.skip_whitespace();
            match self.next()? {
                b',' => {
                    self.skip_whitespace();
                    self.expect(b'"')?;
                }
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// The value of a key the mapping knows, as the `serde_json` walk's `MappedValue` records it:
    /// scalars for the node's fields, `null` as absent, containers after their contents.
    fn mapped_value(&mut self, node: &PathNode, state: &mut LineState, depth: u32) -> Option<()> {
        // One call to `record` at the end keeps the value in registers on its way there.
        let raw = match self.peek()? {
            b'"' => {
                self.at += 1;
                Raw::Str(self.unescaped_string()?)
            }
            b'{' => {
                self.at += 1;
                // Walked even without children: `serde_json` unescapes the keys of a mapped
                // object (and refuses a lone surrogate), and a walk leaves escaped keys to it.
                if depth >= MAPPED_DEPTH_LIMIT {
                    return None;
                }
                self.walk_object(node, state, depth + 1)?;
                Raw::Object
            }
            b'[' => {
                self.at += 1;
                self.skip_rest_of_container(false)?;
                Raw::Array
            }
            b't' => {
                self.literal(b"true")?;
                Raw::Bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                Raw::Bool(false)
            }
            b'n' => return self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number()?.raw()?,
            _ => return None,
        };
        state.record(node, raw);
        Some(())
    }

    /// Skips one value of any kind, checking it (see the module doc).
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            open @ (b'{' | b'[') => {
                self.at += 1;
                self.skip_rest_of_container(open == b'{')
            }
            _ => self.skip_scalar(),
        }
    }

    /// Skips a container whose opening bracket was just read, however its contents nest (up to
    /// [`SKIP_DEPTH_LIMIT`] levels), without recursion.
    fn skip_rest_of_container(&mut self, object: bool) -> Option<()> {
        let mut frames = Frames::default();
        let mut opened = Some(object);
        loop {
            if let Some(object) = opened.take() {
                // Just inside a `{` or `[`: it may close at once.
                self.skip_whitespace();
                let close = if object { b'}' } else { b']' };
                if self.peek() == Some(close) {
                    self.at += 1;
                } else {
                    frames.push(object)?;
                    if object {
                        self.skipped_key()?;
                    }
                    self.skip_whitespace();
                    match self.peek()? {
                        open @ (b'{' | b'[') => {
                            self.at += 1;
                            opened = Some(open == b'{');
                            continue;
                        }
                        _ => self.skip_scalar()?,
                    }
                }
            }
            // A value has ended: close containers until one takes a next element.
            loop {
                let Some(object) = frames.innermost_is_object() else {
                    return Some(());
                };
                self.skip_whitespace();
                match self.next()? {
                    b',' => {
                        if object {
                            self.skipped_key()?;
                        }
                        break;
                    }
                    b'}' if object => frames.pop(),
                    b']' if !object => frames.pop(),
                    _ => return None,
                }
            }
            self.skip_whitespace();
            match self.peek()? {
                open @ (b'{' | b'[') => {
                    self.at += 1;
                    opened = Some(open == b'{');
                }
                _ => self.skip_scalar()?,
            }
        }
    }

    /// A key inside a skipped object and its `:`.
    fn skipped_key(&mut self) -> Option<()> {
        self.skip_whitespace();
        self.expect(b'"')?;
        self.skip_string()?;
        self.skip_whitespace();
        self.expect(b':')
    }

    fn skip_scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                self.skip_string()
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => None,
        }
    }

    /// A skipped number: the grammar of [`Scanner::number`] without the value.
    fn skip_number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.next()? {
            b'0' => {
                if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    return None;
                }
            }
            b'1'..=b'9' => {
                self.skip_digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.skip_digits() == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'-' | b'+') = self.peek() {
                self.at += 1;
            }
            if self.skip_digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    /// Moves past a run of digits, eight at a time; how many.
    fn skip_digits(&mut self) -> usize {
        let start = self.at;
        while let Some(word) = self.word() {
            let run = leading_digits(word);
            self.at += run;
            if run < 8 {
                return self.at - start;
            }
        }
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at.checked_add(word.len())?;
        if self.bytes.get(self.at..end)? != word {
            return None;
        }
        self.at = end;
        Some(())
    }

    /// The eight bytes from the next one, first in the lowest bits, when the line has them.
    fn word(&self) -> Option<u64> {
        let word = self.bytes.get(self.at..self.at + 8)?;
        Some(u64::from_le_bytes(<[u8; 8]>::try_from(word).ok()?))
    }

    /// Moves to the next byte of a string that is a `"`, a backslash, a control character or not
    /// ASCII, eight bytes at a time; `None` when the line ends first.
    fn find_special_in_string(&mut self) -> Option<u8> {
        while let Some(word) = self.word() {
            let special = special_bytes(word);
            if special != 0 {
                self.at += (special.trailing_zeros() / 8) as usize;
                return self.peek();
            }
            self.at += 8;
        }
        while let Some(byte) = self.peek() {
            if BYTE_CLASSES[usize::from(byte)] != ByteClass::Plain {
                return Some(byte);
            }
            self.at += 1;
        }
        None
    }

    /// The contents of a string whose `"` was just read, when it holds no escape, its non-ASCII
    /// bytes checked as UTF-8; `None` for an escape (left to `serde_json`, which unescapes), a
    /// control character, invalid UTF-8 or a missing `"`.
    #[inline]
    fn string_bytes(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        loop {
            let special = self.find_special_in_string()?;
            // Most strings end at the first special byte: test for it before the table.
            if special == b'"' {
                break;
            }
            match BYTE_CLASSES[usize::from(special)] {
                ByteClass::Quote => break,
                ByteClass::NonAscii => self.skip_non_ascii()?,
                ByteClass::Plain | ByteClass::Backslash | ByteClass::Control => return None,
            }
        }
        self.at += 1;
        self.bytes.get(start..self.at - 1)
    }

    /// [`Scanner::string_bytes`] as text.
    #[inline]
    fn unescaped_string(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.string_bytes()?).ok()
    }

    /// Moves past the run of non-ASCII bytes that starts at the next byte, when it is valid UTF-8.
    /// The run ends at an ASCII byte, which no multi-byte sequence holds.
    #[cold]
    fn skip_non_ascii(&mut self) -> Option<()> {
        let rest = self.bytes.get(self.at..)?;
        let run = rest.iter().position(u8::is_ascii).unwrap_or(rest.len());
        std::str::from_utf8(rest.get(..run)?).ok()?;
        self.at += run;
        Some(())
    }

    /// Skips the rest of a string whose `"` was just read, checking its escapes.
    fn skip_string(&mut self) -> Option<()> {
        loop {
            let special = self.find_special_in_string()?;
            if special == b'"' {
                self.at += 1;
                return Some(());
            }
            if BYTE_CLASSES[usize::from(special)] == ByteClass::NonAscii {
                self.skip_non_ascii()?;
                continue;
            }
            self.at += 1;
            match BYTE_CLASSES[usize::from(special)] {
                ByteClass::Quote => return Some(()),
                ByteClass::Backslash => match self.next()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        for _ in 0..4 {
                            if !self.next()?.is_ascii_hexdigit() {
                                return None;
                            }
                        }
                    }
                    _ => return None,
                },
                ByteClass::Plain | ByteClass::Control | ByteClass::NonAscii => return None,
            }
        }
    }

    /// A number, checked against the JSON grammar, in parts.
    #[inline(always)]
    fn number(&mut self) -> Option<NumberParts> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let mut significand: u64 = 0;
        let mut fits = true;
        match self.next()? {
            b'0' => {
                if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    return None;
                }
            }
            first @ b'1'..=b'9' => {
                significand = u64::from(first - b'0');
                self.digits(&mut significand, &mut fits);
            }
            _ => return None,
        }
        let mut exponent: i64 = 0;
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.at += 1;
            float = true;
            let digits = self.digits(&mut significand, &mut fits);
            if digits == 0 {
                return None;
            }
            // Once the digits do not fit, the number is not converted here and the exponent
            // does not matter.
            exponent -= digits as i64;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            float = true;
            let negative_exponent = match self.peek() {
                Some(b'-') => {
                    self.at += 1;
                    true
                }
                Some(b'+') => {
                    self.at += 1;
                    false
                }
                _ => false,
            };
            let mut written: i64 = 0;
            let mut digits = 0usize;
            while let Some(digit) = self.digit() {
                digits += 1;
                // Far beyond any exponent converted here; only the grammar matters past it.
                written = (written * 10 + digit as i64).min(1_000_000);
            }
            if digits == 0 {
                return None;
            }
            exponent += if negative_exponent { -written } else { written };
        }
        Some(NumberParts {
            significand,
            exponent,
            negative,
            float,
            fits,
        })
    }

    /// Reads a run of digits, eight at a time, into `significand` (`fits` turns false when
    /// they overflow a `u64`, exactly where digit-by-digit accumulation would); how many.
    #[inline(always)]
    fn digits(&mut self, significand: &mut u64, fits: &mut bool) -> usize {
        let mut count = 0;
        while let Some(word) = self.word() {
            let run = leading_digits(word);
            if run == 0 {
                return count;
            }
            // `run` is 1 to 8, so the shift is 0 to 56: the run's digits move to the top
            // bytes and the ones below become leading zeros.
            let value = eight_digits(word << (8 * (8 - run)));
            match (SAFE_BELOW.get(run), POWERS_OF_TEN_U64.get(run)) {
                (Some(&safe_below), Some(&power)) if *significand < safe_below => {
                    *significand = *significand * power + value;
                }
                _ => {
                    for place in 0..run {
                        let digit = (word >> (8 * place)) & 0x0F;
                        match accumulate(*significand, digit) {
                            Some(next) => *significand = next,
                            None => *fits = false,
                        }
                    }
                }
            }
            self.at += run;
            count += run;
            if run < 8 {
                return count;
            }
        }
        // The last bytes of the line, one at a time.
        while let Some(digit) = self.digit() {
            count += 1;
            match accumulate(*significand, digit) {
                Some(next) => *significand = next,
                None => *fits = false,
            }
        }
        count
    }

    fn digit(&mut self) -> Option<u64> {
        let byte = self.peek()?;
        if byte.is_ascii_digit() {
            self.at += 1;
            Some(u64::from(byte - b'0'))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse_json_line, serde_walk_line, walk_line, JsonOptions};
    use super::*;
    use crate::ingest::mapping::{FieldMapping, FieldPath, FieldSpec};
    use crate::ingest::observation::{Field, ParseErrorReason};

    pub(super) fn settled(text: &str, mapping: &FieldMapping) -> bool {
        walk(text.as_bytes(), &mapping.root, &mut LineState::default()).is_some()
    }

    /// A mapping with nested paths and pointers besides the default keys.
    fn nested_mapping() -> FieldMapping {
        let spec = |path: &str, scale: f64| FieldSpec::new(FieldPath::parse(path).unwrap(), scale);
        FieldMapping::default()
            .with_override(
                Field::TokensPerSecond,
                vec![
                    spec("metrics.throughput.tokens", 1.0).unwrap(),
                    spec("/perf/tps", 1.0).unwrap(),
                    spec("tps", 1.0).unwrap(),
                ],
            )
            .with_override(Field::Loss, vec![spec("train.loss", 1.0).unwrap()])
    }

    /// The reading of the whole parser (scanner, then `serde_json` for what it leaves) against
    /// the `serde_json` walk alone, as text.
    #[track_caller]
    pub(super) fn same_as_serde(text: &str, mapping: &FieldMapping) {
        assert_eq!(
            format!("{:?}", walk_line(text, mapping)),
            format!("{:?}", serde_walk_line(text, mapping)),
            "{text:?}"
        );
    }

    const LINES: [&str; 5] = [
        r#"{"time": "2024-05-01T12:00:00.000Z", "step": 12, "loss": 2.0123, "lr": 0.0003, "grad_norm": 1.0213, "tokens": 524288, "step_time": 0.5123, "tokens_per_sec": 1023400.5}"#,
        r#"{"event":"train","tps":-1.5e3,"cfg":{"a":[1,2,{"b":null}],"s":"x\"\\\/\b\f\n\r\t\u00e9y"},"ok":true,"no":false,"x":null,"mfu":0.41}"#,
        r#"{"metrics": {"throughput": {"tokens": 900, "other": [[], {}]}, "step_ms": 500}, "perf": {"tps": 3}, "train": {"loss": -0.0}}"#,
        r#"  {"step": "7", "loss": "2.5", "tps": " 12 ", "note": "héllo wörld", "deep": [[[[{"k": [0, -0, 1E+2, 2e-2]}]]]]}  "#,
        r#"{"time": 1714564800.25, "step": 0, "iteration": 18446744073709551615, "tokens": -5, "total_tokens": 1e9, "loss": 12345678901234567, "dt": 0.1e-21}"#,
    ];

    #[test]
    fn the_word_at_a_time_search_finds_the_first_special_byte() {
        for position in 0..8 {
            for byte in 0..=255u8 {
                // A special byte after the tested one, so that a borrow could show.
                let mut word = *b"abcdefg\\";
                word[position] = byte;
                let class = BYTE_CLASSES[usize::from(byte)];
                let expected = match (class, position) {
                    (ByteClass::Plain, 7) => 8,
                    (ByteClass::Plain, _) => 7,
                    _ => position,
                };
                let found = special_bytes(u64::from_le_bytes(word)).trailing_zeros() / 8;
                assert_eq!(found as usize, expected, "byte {byte:#x} at {position}");
            }
        }
        let non_ascii = special_bytes(u64::from_le_bytes(*b"abc\xc3\xa9def"));
        assert_eq!(non_ascii.trailing_zeros() / 8, 3);
        assert_eq!(special_bytes(u64::from_le_bytes(*b"abcdefgh")), 0);
    }

    #[test]
    fn digits_are_read_eight_at_a_time() {
        for (text, run, value) in [
            (*b"12345678", 8, 12_345_678),
            (*b"1234567,", 7, 1_234_567),
            (*b"0005, \"a", 4, 5),
            (*b"9}      ", 1, 9),
            (*b".5000000", 0, 0),
            (*b"12:45678", 2, 12),
            (*b"1/345678", 1, 1),
            (*b"\xb9\xb9\xb9\xb9\xb9\xb9\xb9\xb9", 0, 0),
        ] {
            let word = u64::from_le_bytes(text);
            assert_eq!(leading_digits(word), run, "{text:?}");
            if run > 0 {
                assert_eq!(eight_digits(word << (8 * (8 - run))), value, "{text:?}");
            }
        }
        for byte in 0..=255u8 {
            let word = u64::from_le_bytes([byte, b'1', b'2', b'3', b'4', b'5', b'6', b'7']);
            assert_eq!(leading_digits(word) > 0, byte.is_ascii_digit(), "{byte:#x}");
        }
    }

    #[test]
    fn ordinary_lines_are_settled_by_the_scanner() {
        for mapping in [FieldMapping::default(), nested_mapping()] {
            for line in LINES {
                assert!(settled(line, &mapping), "{line}");
                same_as_serde(line, &mapping);
            }
        }
    }

    #[test]
    fn malformed_lines_are_left_to_serde_json() {
        let malformed = [
            // Truncated strings, in a skipped value, a key and a mapped value.
            r#"{"tps": 1, "note": "unfinished}"#,
            r#"{"tps": 1, "no"#,
            r#"{"tps": "12"#,
            r#"{"tps": 1, "cfg": {"a": "b}}"#,
            // Unbalanced or mismatched brackets.
            r#"{"tps": 1, "cfg": {"a": [1, 2}}"#,
            r#"{"tps": 1, "cfg": [1, 2]]}"#,
            r#"{"tps": 1, "cfg": {"a": 1}"#,
            r#"{"tps": 1, "cfg": [[[1]]}"#,
            r#"{"tps": 1, "cfg": {"a": {"b": [}]}}"#,
            r#"{"tps": 1"#,
            r#"{"tps": 1}}"#,
            // Bad escapes in skipped strings and keys.
            r#"{"tps": 1, "note": "a\qb"}"#,
            r#"{"tps": 1, "note": "a\u12g4"}"#,
            r#"{"tps": 1, "note": "a\u12"}"#,
            r#"{"tps": 1, "cfg": {"k\x": 1}}"#,
            r#"{"tps": 1, "note": "a\"#,
            // Trailing garbage.
            r#"{"tps": 1} x"#,
            r#"{"tps": 1}{}"#,
            r#"{"tps": 1},"#,
            // Broken structure and scalars.
            r#"{"tps": 1,}"#,
            r#"{"tps": 1, "a": [1,]}"#,
            r#"{"tps": 1, "a": {"b": 1,}}"#,
            r#"{"tps" 1}"#,
            r#"{"tps": 1 "loss": 2}"#,
            r#"{tps: 1}"#,
            r#"{"tps": 1, "a": {b: 1}}"#,
            r#"{"tps": 01}"#,
            r#"{"tps": 1, "a": 01}"#,
            r#"{"tps": 1, "a": 1.}"#,
            r#"{"tps": 1, "a": .5}"#,
            r#"{"tps": 1, "a": 1e}"#,
            r#"{"tps": 1, "a": 1e+}"#,
            r#"{"tps": 1, "a": -}"#,
            r#"{"tps": 1, "a": +1}"#,
            r#"{"tps": 1, "a": tru}"#,
            r#"{"tps": 1, "a": nul}"#,
            r#"{"tps": 1, "a": falsey}"#,
            r#"{"tps": 1, "a": [true false]}"#,
            r#"{"tps": 1, "a": [1 2]}"#,
            "{\"tps\": 1, \"a\": \"tab\there\"}",
            "{\"tps\": 1, \"a\": \"new\nline\"}",
        ];
        for line in malformed {
            assert!(!settled(line, &FieldMapping::default()), "{line}");
            let outcome = parse_json_line(
                line.as_bytes(),
                &FieldMapping::default(),
                JsonOptions::default(),
            );
            assert_eq!(
                outcome.as_ref().map_err(|error| error.reason).err(),
                Some(ParseErrorReason::InvalidJson),
                "{line}: {outcome:?}"
            );
        }
    }

    #[test]
    fn what_the_scanner_leaves_valid_is_read_by_serde_json() {
        let mapping = nested_mapping();
        for line in [
            r#"{"t\u0070s": 5}"#,
            r#"{"tps": "1\u0032"}"#,
            r#"{"tps": 1e999}"#,
            r#"{"tps": 1e-400}"#,
            r#"{"tps": 123456789012345678901234567890}"#,
            r#"{"tps": 1.00000000000000000000001}"#,
            r#"{"tps": NaN, "loss": 2}"#,
            r#"{"tps": 1, "metrics": {"\ud800": 1}}"#,
            "[1, 2]",
            "42",
        ] {
            assert!(!settled(line, &mapping), "{line}");
            same_as_serde(line, &mapping);
        }
        // Skipped values hold what the scanner does not convert.
        for line in [
            r#"{"tps": 1, "x": 1e999}"#,
            r#"{"tps": 1, "x": 123456789012345678901234567890}"#,
            r#"{"tps": 1, "x": "\ud800"}"#,
            r#"{"tps": 1, "x": {"\ud800": [1]}}"#,
        ] {
            assert!(settled(line, &mapping), "{line}");
            same_as_serde(line, &mapping);
        }
    }

    #[test]
    fn nesting_deeper_than_the_limits_is_left_to_serde_json() {
        let nested = |depth: u32| {
            format!(
                r#"{{"tps": 1, "x": {}1{}}}"#,
                "[".repeat(depth as usize),
                "]".repeat(depth as usize)
            )
        };
        let mapping = FieldMapping::default();
        assert!(settled(&nested(SKIP_DEPTH_LIMIT), &mapping));
        assert!(!settled(&nested(SKIP_DEPTH_LIMIT + 1), &mapping));
        same_as_serde(&nested(SKIP_DEPTH_LIMIT + 1), &mapping);
        let levels = MAPPED_DEPTH_LIMIT as usize + 1;
        let mapping = FieldMapping::default().with_override(
            Field::Loss,
            vec![
                FieldSpec::new(FieldPath::Pointer(vec!["m".to_owned(); levels + 1]), 1.0).unwrap(),
            ],
        );
        let mut value = "1".to_owned();
        for _ in 0..levels {
            value = format!(r#"{{"m": {value}}}"#);
        }
        let line = format!(r#"{{"tps": 1, "m": {value}}}"#);
        assert!(!settled(&line, &mapping), "{line}");
        same_as_serde(&line, &mapping);
    }

    #[test]
    fn numbers_convert_as_serde_json_converts_them() {
        let numbers = [
            "0",
            "-0",
            "7",
            "-7",
            "0.0",
            "-0.0",
            "1.5",
            "2.0123",
            "0.0003",
            "1023400.5",
            "3e-4",
            "1E3",
            "1e+3",
            "12.5e-3",
            "0.1e22",
            "1e22",
            "1e23",
            "1e-22",
            "1e-23",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "9007199254740993",
            "9007199254740993.0",
            "0.30000000000000004",
            "123456789.123456789",
            "1234567890123456789",
            "12345678901234567890",
            "99999999999999999999",
            "1844674407370955161",
            "18446744073709551614.5",
            "0.00000000001234567",
            "12345678.87654321",
            "1.2345678901234567890123",
            "-1234567812345678",
            "4.35",
            "1.7976931348623157e308",
            "5e-324",
        ];
        let mapping = FieldMapping::default();
        for number in numbers {
            for key in ["loss", "step", "time", "tps", "mfu"] {
                let line = format!(r#"{{"{key}": {number}, "dt": 1}}"#);
                same_as_serde(&line, &mapping);
            }
        }
    }

    /// Every prefix of a line, and the line with any one byte deleted or replaced by one that
    /// matters to JSON, reads as `serde_json` alone reads it.
    #[test]
    fn damaged_lines_read_as_serde_json_reads_them() {
        let replacements = b"{}[]\":,\\ 0-.eE+tnfx\t";
        let mut settled_count = 0usize;
        let mut checked = 0usize;
        for mapping in [FieldMapping::default(), nested_mapping()] {
            for line in LINES {
                let bytes = line.as_bytes();
                let mut variants: Vec<Vec<u8>> =
                    (0..bytes.len()).map(|end| bytes[..end].to_vec()).collect();
                for at in 0..bytes.len() {
                    let mut deleted = bytes.to_vec();
                    deleted.remove(at);
                    variants.push(deleted);
                    for &replacement in replacements {
                        let mut replaced = bytes.to_vec();
                        replaced[at] = replacement;
                        variants.push(replaced);
                    }
                }
                for variant in variants {
                    let Ok(text) = std::str::from_utf8(&variant) else {
                        continue;
                    };
                    checked += 1;
                    settled_count += usize::from(settled(text, &mapping));
                    same_as_serde(text, &mapping);
                }
            }
        }
        // Most replacements inside strings and numbers leave valid JSON.
        assert!(settled_count > checked / 10, "{settled_count} of {checked}");
    }

    /// A line with multi-byte characters in keys, mapped values and skipped values.
    const UNICODE_LINE: &str = r#"{"time": "2024-05-01T12:00:00Z", "note": "ünïcødé ✓ 日本語 🚀", "名前": {"ключ": ["é", "x"]}, "loss": 2.5, "msg": "aé", "tps": 12}"#;

    #[test]
    fn multi_byte_characters_in_strings_are_settled_by_the_scanner() {
        for mapping in [FieldMapping::default(), nested_mapping()] {
            assert!(settled(UNICODE_LINE, &mapping));
            same_as_serde(UNICODE_LINE, &mapping);
        }
    }

    /// Invalid UTF-8 anywhere in a line (inside strings, in keys, between tokens, at either end,
    /// cutting a multi-byte character) is refused as invalid UTF-8 at the offset `std` names,
    /// whatever else the line holds; the byte sequences that stay valid read as before.
    #[test]
    fn invalid_utf8_anywhere_is_refused_as_before() {
        let insertions: [&[u8]; 7] = [
            b"\xff",
            b"\x80",
            b"\xe2\x82",
            b"\xc0\xaf",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
            b"\xc3\xa9",
        ];
        let mapping = FieldMapping::default();
        let mut refused = 0usize;
        for line in LINES.iter().chain([&UNICODE_LINE]) {
            let bytes = line.as_bytes();
            for at in 0..=bytes.len() {
                for insertion in insertions {
                    let mut inserted = bytes.to_vec();
                    inserted.splice(at..at, insertion.iter().copied());
                    let mut replaced = bytes.to_vec();
                    if let Some(byte) = replaced.get_mut(at) {
                        *byte = insertion[0];
                    }
                    for variant in [inserted, replaced] {
                        for options in [
                            JsonOptions::default(),
                            JsonOptions {
                                after_prefix: true,
                                python_literals: false,
                            },
                        ] {
                            let outcome = parse_json_line(&variant, &mapping, options);
                            match std::str::from_utf8(&variant) {
                                Err(error) => {
                                    refused += 1;
                                    let error_seen = outcome.as_ref().err();
                                    assert_eq!(
                                        error_seen.map(|e| e.reason),
                                        Some(ParseErrorReason::InvalidUtf8),
                                        "{variant:?}"
                                    );
                                    let offset = format!("offset {})", error.valid_up_to());
                                    assert!(
                                        error_seen.is_some_and(|e| e.detail.contains(&offset)),
                                        "{variant:?}: {error_seen:?}"
                                    );
                                }
                                Ok(text) if !options.after_prefix => {
                                    let serde = serde_walk_line(text.trim_ascii(), &mapping);
                                    assert_eq!(
                                        format!("{:?}", outcome.map_err(|e| e.reason)),
                                        format!("{:?}", serde.map_err(|e| e.reason)),
                                        "{text:?}"
                                    );
                                }
                                Ok(_) => {}
                            }
                        }
                    }
                }
            }
        }
        assert!(refused > 1000, "{refused}");
    }
}

#[cfg(test)]
mod differential_tests {
    //! Generated lines around the scanner's one-comparison paths (`": "` after a key, `, "`
    //! between entries, a string's closing quote), every prefix of each and single-byte edits,
    //! read by the whole parser and by `serde_json` alone.

    use super::super::lenient_to_json;
    use super::tests::{same_as_serde as read_alike, settled};
    use crate::ingest::mapping::{FieldMapping, FieldPath, FieldSpec};
    use crate::ingest::observation::Field;
    use crate::test_rng::Rng;

    /// Keys as written between quotes: mapped ones (top level and nested), skipped ones, the
    /// empty key, escapes, and keys that hold the fast paths' byte patterns.
    const KEYS: [&str; 21] = [
        "tps",
        "loss",
        "step",
        "time",
        "dt",
        "metrics",
        "throughput",
        "tokens",
        "perf",
        "train",
        "m",
        "",
        "a",
        "t\\u0070s",
        "x\\\"y",
        "\\\\",
        "é",
        ", \\\"",
        "\\\": ",
        ": ",
        ", ",
    ];

    /// What follows a key's closing quote up to its value.
    const COLONS: [&str; 12] = [
        ": ",
        ":",
        " : ",
        " :",
        ":\t",
        ":  ",
        ": \t",
        ":\n",
        "\r\n:\r\n",
        ": \r",
        ":\r",
        "\t:",
    ];

    /// What follows a value up to the next key's opening quote.
    const COMMAS: [&str; 11] = [
        ", ", ",", " , ", ",\t", ",  ", ",\n", "\t,", ", \t", ",\r\n", " ,", ", \r",
    ];

    /// What closes an object after its last value (the last two are not JSON).
    const CLOSES: [&str; 7] = ["}", " }", "\n}", "\t}", "\r\n}", ", }", ",}"];

    const SCALARS: [&str; 30] = [
        "0",
        "-0",
        "1",
        "12",
        "2.5",
        "1e3",
        "-1.5e-3",
        "18446744073709551616",
        "0.1e-21",
        "true",
        "false",
        "null",
        "\"\"",
        "\"x\"",
        "\", \\\"\"",
        "\"\\\", \\\"\"",
        "\"a, \\\"b\\\": \\\"c\"",
        "\", \"",
        "\": \"",
        "\"\\n\"",
        "\"\\\"\"",
        "\"\\u00e9\"",
        "\"é, \\\"\"",
        "\"2024-05-01T12:00:00.250Z\"",
        "\"2024-05-01 12:00:00,250\"",
        "\"12\"",
        "\" 7 \"",
        "\"\\/\"",
        "\"abcdefgh\\\"ijklmnop\"",
        "\"abcdefg\\\"\"",
    ];

    fn value(rng: &mut Rng, depth: u32, out: &mut String) {
        match (depth, rng.below(8)) {
            (0..=2, 0 | 1) => object(rng, depth + 1, out),
            (0..=2, 2) => {
                out.push('[');
                let count = rng.below(3);
                for index in 0..count {
                    if index > 0 {
                        out.push_str(rng.pick(&COMMAS));
                    }
                    value(rng, depth + 1, out);
                }
                out.push_str(rng.pick(&[" ]", "]", "\t]", "]"]));
            }
            _ => out.push_str(rng.pick(&SCALARS)),
        }
    }

    fn object(rng: &mut Rng, depth: u32, out: &mut String) {
        out.push('{');
        let count = rng.below(5);
        if count == 0 {
            out.push_str(rng.pick(&["}", " }", "\t}", ""]));
            if out.ends_with('{') {
                out.push('}');
            }
            return;
        }
        out.push_str(rng.pick(&["", "", " ", "\n", "\t"]));
        for index in 0..count {
            if index > 0 {
                out.push_str(rng.pick(&COMMAS));
            }
            out.push('"');
            out.push_str(rng.pick(&KEYS));
            out.push('"');
            out.push_str(rng.pick(&COLONS));
            value(rng, depth, out);
        }
        // Mostly a closing brace; now and then a comma that is followed by nothing valid.
        let close = if rng.below(16) == 0 {
            rng.pick(&CLOSES)
        } else {
            rng.pick(&CLOSES[..5])
        };
        out.push_str(close);
    }

    /// The default keys, nested paths, and a mapped object holding a mapped object.
    fn mappings() -> [FieldMapping; 2] {
        let spec = |path: &str| FieldSpec::new(FieldPath::parse(path).unwrap(), 1.0).unwrap();
        let pointer = |keys: &[&str]| {
            let keys = keys.iter().map(|key| (*key).to_owned()).collect();
            FieldSpec::new(FieldPath::Pointer(keys), 1.0).unwrap()
        };
        [
            FieldMapping::default(),
            FieldMapping::default()
                .with_override(
                    Field::TokensPerSecond,
                    vec![
                        spec("metrics.throughput.tokens"),
                        spec("/perf/tps"),
                        spec("tps"),
                        spec("m.m.tps"),
                    ],
                )
                .with_override(Field::Loss, vec![spec("train.loss"), spec("m.loss")])
                .with_override(
                    Field::Step,
                    vec![
                        pointer(&[""]),
                        pointer(&["m", ""]),
                        pointer(&["m", "m", ""]),
                    ],
                ),
        ]
    }

    /// The whole parser against `serde_json` alone; whether the scanner settled the line.
    #[track_caller]
    fn same_as_serde(text: &str, mapping: &FieldMapping) -> bool {
        read_alike(text, mapping);
        settled(text, mapping)
    }

    /// Every prefix of `line` and a few single-byte edits of it.
    fn variants(rng: &mut Rng, line: &str) -> Vec<Vec<u8>> {
        let bytes = line.as_bytes();
        let mut variants: Vec<Vec<u8>> =
            (0..=bytes.len()).map(|end| bytes[..end].to_vec()).collect();
        let edits = b"{}[]\":, \t\n\r\\0-.eu";
        for _ in 0..12 {
            let at = rng.below(bytes.len().max(1));
            let byte = edits[rng.below(edits.len())];
            let mut edited = bytes.to_vec();
            match rng.below(3) {
                0 => {
                    edited.insert(at, byte);
                }
                1 if at < edited.len() => {
                    edited.remove(at);
                }
                _ => {
                    if let Some(slot) = edited.get_mut(at) {
                        *slot = byte;
                    }
                }
            }
            variants.push(edited);
        }
        variants
    }

    #[test]
    fn generated_lines_read_as_serde_json_reads_them() {
        let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
        let mappings = mappings();
        let (mut lines, mut settled, mut checked) = (0usize, 0usize, 0usize);
        for _ in 0..1500 {
            let mut line = String::new();
            line.push_str(rng.pick(&["", "", " ", "\t"]));
            object(&mut rng, 0, &mut line);
            line.push_str(rng.pick(&["", "", " ", "\n", "\r\n", ", ", ", \""]));
            for mapping in &mappings {
                lines += 1;
                settled += usize::from(same_as_serde(&line, mapping));
                for variant in variants(&mut rng, &line) {
                    if let Ok(text) = std::str::from_utf8(&variant) {
                        checked += 1;
                        same_as_serde(text, mapping);
                    }
                }
            }
        }
        // The generator mostly writes JSON the scanner reads itself.
        assert!(settled > lines / 3, "{settled} of {lines} lines settled");
        assert!(checked > 100_000, "{checked}");
    }

    /// Two entries, every spacing around the fast paths against every key and value kind, and
    /// the line cut after each of its bytes; the whole line, when it is JSON without escapes,
    /// settled by the scanner.
    #[test]
    fn every_spacing_around_the_fast_paths_reads_as_serde_json_reads_it() {
        let mappings = mappings();
        let values = [
            "1",
            "\"x\"",
            "\"\"",
            "\", \\\"\"",
            "{}",
            "{\"tps\": 2}",
            "[]",
            "null",
        ];
        let keys = ["tps", "", "a", "m", "t\\u0070s", "\\\": "];
        for first in keys {
            for colon in COLONS {
                for value in values {
                    for comma in COMMAS.iter().chain(&[" }", "}", ", }", ", ", ", \""]) {
                        let line = if comma.contains('}') || comma.ends_with('"') {
                            format!("{{\"{first}\"{colon}{value}{comma}")
                        } else {
                            format!("{{\"{first}\"{colon}{value}{comma}\"loss\": 3}}")
                        };
                        // Valid JSON without escapes is the scanner's own to read.
                        let plain = !first.contains('\\') && !value.contains('\\');
                        let valid = serde_json::from_str::<serde_json::Value>(&line).is_ok();
                        for mapping in &mappings {
                            let whole = same_as_serde(&line, mapping);
                            assert!(whole || !(plain && valid), "{line:?}");
                            for end in 0..=line.len() {
                                if let Some(prefix) = line.get(..end) {
                                    same_as_serde(prefix, mapping);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The JSON lines and Python dict prints of the fixture logs (as the lenient reading
    /// rewrites the dicts), every prefix of each and single-byte edits.
    #[test]
    fn fixture_lines_read_as_serde_json_reads_them() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/logs");
        let mut files = vec![root.join("trainer.jsonl")];
        for entry in std::fs::read_dir(&root).unwrap() {
            let dir = entry.unwrap().path();
            if dir.is_dir() {
                for file in std::fs::read_dir(&dir).unwrap() {
                    let path = file.unwrap().path();
                    if path.extension().is_some_and(|ext| ext == "log") {
                        files.push(path);
                    }
                }
            }
        }
        files.sort();
        let mut rng = Rng::new(0xD1B5_4A32_D192_ED03);
        let mappings = mappings();
        let (mut objects, mut settled) = (0usize, 0usize);
        for path in files {
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            let mut seen = std::collections::HashSet::new();
            for line in text.lines() {
                let Some(start) = line.find('{') else {
                    continue;
                };
                let object = &line[start..];
                let object = lenient_to_json(object).unwrap_or_else(|| object.to_owned());
                // Repeated lines add nothing; a few per file keep the test quick.
                if !seen.insert(object.clone()) || seen.len() > 40 {
                    continue;
                }
                for mapping in &mappings {
                    objects += 1;
                    settled += usize::from(same_as_serde(&object, mapping));
                    for variant in variants(&mut rng, &object) {
                        if let Ok(text) = std::str::from_utf8(&variant) {
                            same_as_serde(text, mapping);
                        }
                    }
                }
            }
        }
        assert!(
            settled > 100,
            "{settled} of {objects} fixture objects settled"
        );
    }
}
