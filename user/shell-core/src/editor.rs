//! The interactive line editor: a state machine fed one input byte at a
//! time that appends terminal output (echo, redraws) to a buffer and
//! reports finished lines.
//!
//! The console delivers raw bytes (no kernel echo or line discipline), so
//! the editor echoes what is typed. Keys: printable text (UTF-8) inserts at
//! the cursor; Backspace/DEL and Ctrl-H delete before it, Delete (`ESC[3~`)
//! and Ctrl-D (on a non-empty line) under it; Left/Right, Ctrl-B/Ctrl-F;
//! Home/End (`ESC[H`/`ESC[F`, `ESC[1~`/`ESC[4~`, `ESC[7~`/`ESC[8~`,
//! `ESCOH`/`ESCOF`), Ctrl-A/Ctrl-E; Up/Down (and Ctrl-P/Ctrl-N) walk the
//! history; Ctrl-U/Ctrl-K kill to start/end, Ctrl-W the previous word;
//! Ctrl-L clears the screen; Ctrl-C abandons the line; Ctrl-D on an empty
//! line is end-of-input; Enter (CR or LF, CR LF counts once) submits.
//!
//! Output uses plain ANSI: typing and backspacing at the end of the line
//! are echoed minimally; any other edit redraws the line as
//! `CR prompt text ESC[K` and moves the cursor back with `ESC[nD`.

use std::collections::VecDeque;

/// What a byte completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Enter was pressed: the line (without the newline).
    Line(String),
    /// Ctrl-C: the line was abandoned.
    Interrupt,
    /// Ctrl-D on an empty line: no more input.
    Eof,
}

/// Past lines, oldest first, without blanks or consecutive duplicates.
#[derive(Debug, Clone)]
pub struct History {
    entries: VecDeque<String>,
    max: usize,
}

impl History {
    /// A history keeping at most `max` lines (at least 1).
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self { entries: VecDeque::new(), max: max.max(1) }
    }

    /// Records a submitted line.
    pub fn push(&mut self, line: &str) {
        if line.trim().is_empty() || self.entries.back().is_some_and(|l| l == line) {
            return;
        }
        if self.entries.len() == self.max {
            self.entries.pop_front();
        }
        self.entries.push_back(line.to_owned());
    }

    /// Number of lines kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Line `i` (0 = oldest).
    #[must_use]
    pub fn get(&self, i: usize) -> Option<&str> {
        self.entries.get(i).map(String::as_str)
    }

    /// All lines, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(String::as_str)
    }
}

/// Escape-sequence parsing state.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Esc {
    None,
    /// Saw ESC.
    Start,
    /// Saw `ESC [`; collecting parameter bytes.
    Csi(String),
    /// Saw `ESC O`.
    Ss3,
}

/// The editor. Call [`LineEditor::start`] to print the prompt, then
/// [`LineEditor::feed`] with each input byte.
#[derive(Debug, Clone)]
pub struct LineEditor {
    prompt: String,
    buf: Vec<char>,
    cursor: usize,
    history: History,
    /// Index into history while browsing (== len when on the new line).
    hist_pos: usize,
    /// The unfinished line, saved while browsing history.
    saved: Vec<char>,
    esc: Esc,
    utf8: Vec<u8>,
    last_was_cr: bool,
}

impl LineEditor {
    /// An editor remembering up to `history_max` lines.
    #[must_use]
    pub fn new(history_max: usize) -> Self {
        Self {
            prompt: String::new(),
            buf: Vec::new(),
            cursor: 0,
            history: History::new(history_max),
            hist_pos: 0,
            saved: Vec::new(),
            esc: Esc::None,
            utf8: Vec::new(),
            last_was_cr: false,
        }
    }

    /// The history so far.
    #[must_use]
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The current (unsubmitted) line.
    #[must_use]
    pub fn line(&self) -> String {
        self.buf.iter().collect()
    }

    /// The cursor position in characters.
    #[must_use]
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Begins a new line: remembers the prompt and writes it to `out`.
    pub fn start(&mut self, prompt: &str, out: &mut Vec<u8>) {
        prompt.clone_into(&mut self.prompt);
        self.buf.clear();
        self.cursor = 0;
        self.hist_pos = self.history.len();
        self.saved.clear();
        self.esc = Esc::None;
        self.utf8.clear();
        out.extend_from_slice(prompt.as_bytes());
    }

    /// Feeds one input byte; terminal output goes to `out`.
    pub fn feed(&mut self, b: u8, out: &mut Vec<u8>) -> Option<Event> {
        let was_cr = core::mem::replace(&mut self.last_was_cr, b == b'\r');
        if self.esc != Esc::None {
            self.escape(b, out);
            return None;
        }
        if !self.utf8.is_empty() || b >= 0x80 {
            self.utf8_byte(b, out);
            return None;
        }
        match b {
            b'\r' => return Some(self.submit(out)),
            b'\n' if was_cr => {}
            b'\n' => return Some(self.submit(out)),
            0x1b => self.esc = Esc::Start,
            0x7f | 0x08 => self.backspace(out),
            0x01 => self.move_to(0, out),
            0x05 => self.move_to(self.buf.len(), out),
            0x02 => self.move_to(self.cursor.saturating_sub(1), out),
            0x06 => self.move_to((self.cursor + 1).min(self.buf.len()), out),
            0x10 => self.history_prev(out),
            0x0e => self.history_next(out),
            0x03 => {
                out.extend_from_slice(b"^C\r\n");
                self.buf.clear();
                self.cursor = 0;
                return Some(Event::Interrupt);
            }
            0x04 => {
                if self.buf.is_empty() {
                    out.extend_from_slice(b"\r\n");
                    return Some(Event::Eof);
                }
                self.delete(out);
            }
            0x15 => {
                self.buf.drain(..self.cursor);
                self.cursor = 0;
                self.redraw(out);
            }
            0x0b => {
                self.buf.truncate(self.cursor);
                self.redraw(out);
            }
            0x17 => self.delete_word(out),
            0x0c => {
                out.extend_from_slice(b"\x1b[2J\x1b[H");
                self.redraw(out);
            }
            0x20..=0x7e => self.insert(char::from(b), out),
            // Tab and other control bytes: ignored.
            _ => {}
        }
        None
    }

    // === editing ===

    fn submit(&mut self, out: &mut Vec<u8>) -> Event {
        out.extend_from_slice(b"\r\n");
        let line = self.line();
        self.history.push(&line);
        self.buf.clear();
        self.cursor = 0;
        self.hist_pos = self.history.len();
        Event::Line(line)
    }

    fn insert(&mut self, c: char, out: &mut Vec<u8>) {
        self.buf.insert(self.cursor, c);
        self.cursor += 1;
        if self.cursor == self.buf.len() {
            let mut tmp = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
        } else {
            self.redraw(out);
        }
    }

    fn backspace(&mut self, out: &mut Vec<u8>) {
        if self.cursor == 0 {
            return;
        }
        self.cursor -= 1;
        self.buf.remove(self.cursor);
        if self.cursor == self.buf.len() {
            out.extend_from_slice(b"\x08 \x08");
        } else {
            self.redraw(out);
        }
    }

    fn delete(&mut self, out: &mut Vec<u8>) {
        if self.cursor < self.buf.len() {
            self.buf.remove(self.cursor);
            self.redraw(out);
        }
    }

    fn delete_word(&mut self, out: &mut Vec<u8>) {
        let mut start = self.cursor;
        while start > 0 && self.buf[start - 1] == ' ' {
            start -= 1;
        }
        while start > 0 && self.buf[start - 1] != ' ' {
            start -= 1;
        }
        if start != self.cursor {
            self.buf.drain(start..self.cursor);
            self.cursor = start;
            self.redraw(out);
        }
    }

    fn move_to(&mut self, pos: usize, out: &mut Vec<u8>) {
        if pos == self.cursor {
            return;
        }
        if pos < self.cursor {
            out.extend_from_slice(format!("\x1b[{}D", self.cursor - pos).as_bytes());
        } else {
            out.extend_from_slice(format!("\x1b[{}C", pos - self.cursor).as_bytes());
        }
        self.cursor = pos;
    }

    fn history_prev(&mut self, out: &mut Vec<u8>) {
        if self.hist_pos == 0 {
            return;
        }
        if self.hist_pos == self.history.len() {
            self.saved = self.buf.clone();
        }
        self.hist_pos -= 1;
        self.buf = self.history.get(self.hist_pos).unwrap_or_default().chars().collect();
        self.cursor = self.buf.len();
        self.redraw(out);
    }

    fn history_next(&mut self, out: &mut Vec<u8>) {
        if self.hist_pos >= self.history.len() {
            return;
        }
        self.hist_pos += 1;
        self.buf = if self.hist_pos == self.history.len() {
            core::mem::take(&mut self.saved)
        } else {
            self.history.get(self.hist_pos).unwrap_or_default().chars().collect()
        };
        self.cursor = self.buf.len();
        self.redraw(out);
    }

    /// Rewrites the whole line and puts the cursor back.
    fn redraw(&self, out: &mut Vec<u8>) {
        out.push(b'\r');
        out.extend_from_slice(self.prompt.as_bytes());
        out.extend(self.line().bytes());
        out.extend_from_slice(b"\x1b[K");
        let back = self.buf.len() - self.cursor;
        if back > 0 {
            out.extend_from_slice(format!("\x1b[{back}D").as_bytes());
        }
    }

    // === input decoding ===

    fn utf8_byte(&mut self, b: u8, out: &mut Vec<u8>) {
        self.utf8.push(b);
        let want = match self.utf8[0] {
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            // Not a valid lead byte: drop it.
            _ => {
                self.utf8.clear();
                return;
            }
        };
        if self.utf8.len() > 1 && (b & 0xc0) != 0x80 {
            // Not a continuation byte: drop the broken sequence.
            self.utf8.clear();
            return;
        }
        if self.utf8.len() == want {
            let bytes = core::mem::take(&mut self.utf8);
            if let Some(c) = core::str::from_utf8(&bytes).ok().and_then(|s| s.chars().next()) {
                self.insert(c, out);
            }
        }
    }

    fn escape(&mut self, b: u8, out: &mut Vec<u8>) {
        match core::mem::replace(&mut self.esc, Esc::None) {
            Esc::None => {}
            Esc::Start => match b {
                b'[' => self.esc = Esc::Csi(String::new()),
                b'O' => self.esc = Esc::Ss3,
                _ => {}
            },
            Esc::Ss3 => self.key(b, "", out),
            Esc::Csi(mut params) => {
                if (0x40..=0x7e).contains(&b) {
                    self.key(b, &params, out);
                } else {
                    // Parameters beyond 16 bytes are dropped (no known key
                    // has them); the sequence still ends at its final byte.
                    if params.len() < 16 {
                        params.push(char::from(b));
                    }
                    self.esc = Esc::Csi(params);
                }
            }
        }
    }

    fn key(&mut self, last: u8, params: &str, out: &mut Vec<u8>) {
        match (last, params) {
            (b'A', _) => self.history_prev(out),
            (b'B', _) => self.history_next(out),
            (b'C', _) => self.move_to((self.cursor + 1).min(self.buf.len()), out),
            (b'D', _) => self.move_to(self.cursor.saturating_sub(1), out),
            (b'H', _) | (b'~', "1" | "7") => self.move_to(0, out),
            (b'F', _) | (b'~', "4" | "8") => self.move_to(self.buf.len(), out),
            (b'~', "3") => self.delete(out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input`; returns (events, output as lossy text).
    fn run(ed: &mut LineEditor, input: &[u8]) -> (Vec<Event>, String) {
        let mut out = Vec::new();
        let events = input.iter().filter_map(|&b| ed.feed(b, &mut out)).collect();
        (events, String::from_utf8_lossy(&out).into_owned())
    }

    fn editor() -> LineEditor {
        let mut ed = LineEditor::new(10);
        let mut out = Vec::new();
        ed.start("$ ", &mut out);
        assert_eq!(out, b"$ ");
        ed
    }

    fn line(s: &str) -> Event {
        Event::Line(s.to_owned())
    }

    #[test]
    fn typing_echoes_and_enter_submits() {
        let mut ed = editor();
        let (ev, out) = run(&mut ed, b"ls -l\r");
        assert_eq!(ev, [line("ls -l")]);
        assert_eq!(out, "ls -l\r\n");
        assert_eq!(ed.line(), "");
    }

    #[test]
    fn crlf_submits_once_and_lf_alone_submits() {
        let mut ed = editor();
        let (ev, _) = run(&mut ed, b"a\r\nb\n\n");
        assert_eq!(ev, [line("a"), line("b"), line("")]);
    }

    #[test]
    fn backspace_at_end_and_in_middle() {
        let mut ed = editor();
        let (_, out) = run(&mut ed, b"abc\x7f");
        assert_eq!(ed.line(), "ab");
        assert!(out.ends_with("\x08 \x08"));
        // Move left once, backspace deletes 'a'.
        let (_, out) = run(&mut ed, b"\x1b[D\x08");
        assert_eq!(ed.line(), "b");
        assert_eq!(ed.cursor(), 0);
        assert!(out.ends_with("\r$ b\x1b[K\x1b[1D"), "{out:?}");
        // Backspace at the start does nothing.
        let (_, out) = run(&mut ed, b"\x7f");
        assert_eq!((ed.line().as_str(), out.as_str()), ("b", ""));
    }

    #[test]
    fn arrows_insert_in_middle() {
        let mut ed = editor();
        let (ev, out) = run(&mut ed, b"ac\x1b[Db\r");
        assert_eq!(ev, [line("abc")]);
        assert!(out.contains("\x1b[1D"));
        assert!(out.contains("\r$ abc\x1b[K\x1b[1D"));
        // Right arrow past the end is a no-op.
        let mut ed = editor();
        let (_, out) = run(&mut ed, b"x\x1b[C\x1b[C");
        assert_eq!(out, "x");
        assert_eq!(ed.cursor(), 1);
    }

    #[test]
    fn home_end_variants() {
        for home in [&b"\x1b[H"[..], b"\x1b[1~", b"\x1b[7~", b"\x1bOH", b"\x01"] {
            let mut ed = editor();
            run(&mut ed, b"bc");
            run(&mut ed, home);
            assert_eq!(ed.cursor(), 0, "home {home:?}");
            run(&mut ed, b"a");
            assert_eq!(ed.line(), "abc");
        }
        for end in [&b"\x1b[F"[..], b"\x1b[4~", b"\x1b[8~", b"\x1bOF", b"\x05"] {
            let mut ed = editor();
            run(&mut ed, b"ab\x01");
            run(&mut ed, end);
            assert_eq!(ed.cursor(), 2, "end {end:?}");
        }
    }

    #[test]
    fn delete_key_and_ctrl_d() {
        let mut ed = editor();
        run(&mut ed, b"abc\x01\x1b[3~");
        assert_eq!(ed.line(), "bc");
        let (ev, _) = run(&mut ed, b"\x04");
        assert!(ev.is_empty());
        assert_eq!(ed.line(), "c");
        // Delete at end: nothing.
        run(&mut ed, b"\x05\x1b[3~");
        assert_eq!(ed.line(), "c");
    }

    #[test]
    fn ctrl_d_on_empty_line_is_eof() {
        let mut ed = editor();
        let (ev, out) = run(&mut ed, b"\x04");
        assert_eq!(ev, [Event::Eof]);
        assert_eq!(out, "\r\n");
    }

    #[test]
    fn ctrl_c_abandons() {
        let mut ed = editor();
        let (ev, out) = run(&mut ed, b"oops\x03");
        assert_eq!(ev, [Event::Interrupt]);
        assert!(out.ends_with("^C\r\n"));
        assert_eq!(ed.line(), "");
        assert!(ed.history().is_empty());
    }

    #[test]
    fn kill_commands() {
        let mut ed = editor();
        run(&mut ed, b"one two three\x17");
        assert_eq!(ed.line(), "one two ");
        run(&mut ed, b"\x17");
        assert_eq!(ed.line(), "one ");
        run(&mut ed, b"\x1b[D\x1b[D\x0b");
        assert_eq!(ed.line(), "on");
        run(&mut ed, b"\x1b[D\x15");
        assert_eq!(ed.line(), "n");
        assert_eq!(ed.cursor(), 0);
    }

    #[test]
    fn history_up_down_restores_draft() {
        let mut ed = editor();
        run(&mut ed, b"first\rsecond\rsecond\r  \r");
        assert_eq!(ed.history().iter().collect::<Vec<_>>(), ["first", "second"]);
        run(&mut ed, b"dra");
        run(&mut ed, b"\x1b[A");
        assert_eq!(ed.line(), "second");
        run(&mut ed, b"\x1b[A");
        assert_eq!(ed.line(), "first");
        let (_, out) = run(&mut ed, b"\x1b[A");
        assert_eq!(ed.line(), "first");
        assert_eq!(out, "", "up at the oldest entry does nothing");
        run(&mut ed, b"\x1b[B\x1b[B");
        assert_eq!(ed.line(), "dra");
        let (_, out) = run(&mut ed, b"\x1b[B");
        assert_eq!(out, "");
        // Ctrl-P recalls, Enter resubmits.
        let (ev, _) = run(&mut ed, b"\x15\x10\r");
        assert_eq!(ev, [line("second")]);
    }

    #[test]
    fn history_is_bounded() {
        let mut h = History::new(2);
        h.push("a");
        h.push("b");
        h.push("c");
        assert_eq!(h.iter().collect::<Vec<_>>(), ["b", "c"]);
        assert_eq!(h.len(), 2);
        assert_eq!(h.get(0), Some("b"));
        assert_eq!(History::new(0).max, 1);
    }

    #[test]
    fn utf8_input() {
        let mut ed = editor();
        let (ev, out) = run(&mut ed, "héllo ✓\r".as_bytes());
        assert_eq!(ev, [line("héllo ✓")]);
        assert!(out.starts_with("héllo ✓"));
        // Cursor moves by characters, not bytes.
        run(&mut ed, "é\x1b[Da".as_bytes());
        assert_eq!(ed.line(), "aé");
        // Invalid bytes are dropped.
        let mut ed = editor();
        run(&mut ed, b"a\xffb\xc3(c");
        assert_eq!(ed.line(), "abc");
    }

    #[test]
    fn unknown_sequences_and_controls_are_ignored() {
        let mut ed = editor();
        let (ev, out) = run(&mut ed, b"a\x1b[99Z\x1bx\tb\x1b[1;5C");
        assert!(ev.is_empty());
        assert_eq!(ed.line(), "ab");
        assert_eq!(out, "ab");
        // Over-long parameters are dropped without growing forever.
        let mut long = b"\x1b[".to_vec();
        long.extend(std::iter::repeat_n(b'1', 100));
        long.extend_from_slice(b"~c");
        run(&mut ed, &long);
        assert_eq!(ed.line(), "abc");
    }

    #[test]
    fn ctrl_l_redraws() {
        let mut ed = editor();
        let (_, out) = run(&mut ed, b"ab\x0c");
        assert!(out.ends_with("\x1b[2J\x1b[H\r$ ab\x1b[K"));
    }
}
