//! Cutting a scale's byte stream into frames, with a bounded buffer.
//!
//! Two shapes cover the serial scale protocols: STX … CR (Toledo 8217) and text lines (MT-SICS,
//! CAS, generic streams). Bytes outside a frame are garbage; a frame longer than the buffer is
//! overlong and dropped up to its terminator. Each is reported once per chunk pushed, not per
//! byte, so a noisy line costs one health count per read.

pub const STX: u8 = 0x02;
pub const CR: u8 = b'\r';
pub const LF: u8 = b'\n';

/// How frames are delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameShape {
    /// STX, body, CR: the body is the frame. Bytes before an STX are garbage.
    StxCr,
    /// Lines ending in LF (a CR before it is dropped). With `cr_ends_line`, a lone CR ends a line
    /// too. Empty lines are skipped.
    Lines { cr_ends_line: bool },
}

/// What [`Framer::push`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Framed<'a> {
    Frame(&'a [u8]),
    /// This many bytes that belonged to no frame.
    Garbage(usize),
    /// A frame grew past the buffer's capacity and was dropped.
    Overlong(usize),
}

/// Assembles frames from chunks of bytes; holds at most `max` bytes.
#[derive(Debug)]
pub struct Framer {
    shape: FrameShape,
    buf: Vec<u8>,
    max: usize,
    in_frame: bool,
    /// Dropping an overlong frame up to its terminator; how many bytes so far.
    skipping: Option<usize>,
}

impl Framer {
    pub fn new(shape: FrameShape, max: usize) -> Framer {
        Framer { shape, buf: Vec::with_capacity(max), max, in_frame: false, skipping: None }
    }

    /// Drops a partial frame (after a timeout, before a new command).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.in_frame = false;
        self.skipping = None;
    }

    /// Feeds bytes; calls `on` for each complete frame, garbage run and overlong frame.
    pub fn push(&mut self, bytes: &[u8], on: &mut dyn FnMut(Framed<'_>)) {
        let mut garbage = 0usize;
        for &b in bytes {
            match self.shape {
                FrameShape::StxCr => {
                    if b == STX {
                        if let Some(n) = self.skipping.take() {
                            on(Framed::Overlong(n));
                        } else if self.in_frame && !self.buf.is_empty() {
                            // A frame cut short by a new STX.
                            garbage += self.buf.len() + 1;
                        }
                        self.buf.clear();
                        self.in_frame = true;
                        continue;
                    }
                    if !self.in_frame {
                        garbage += 1;
                        continue;
                    }
                    if b == CR {
                        if let Some(n) = self.skipping.take() {
                            on(Framed::Overlong(n));
                        } else {
                            flush_garbage(&mut garbage, on);
                            on(Framed::Frame(&self.buf));
                        }
                        self.buf.clear();
                        self.in_frame = false;
                        continue;
                    }
                    self.take(b);
                }
                FrameShape::Lines { cr_ends_line } => {
                    let ends = b == LF || (cr_ends_line && b == CR);
                    if ends {
                        if let Some(n) = self.skipping.take() {
                            on(Framed::Overlong(n));
                        } else {
                            let line: &[u8] = match self.buf.last() {
                                Some(&CR) => &self.buf[..self.buf.len() - 1],
                                _ => &self.buf,
                            };
                            if !line.is_empty() {
                                flush_garbage(&mut garbage, on);
                                on(Framed::Frame(line));
                            }
                        }
                        self.buf.clear();
                        continue;
                    }
                    self.take(b);
                }
            }
        }
        flush_garbage(&mut garbage, on);
    }

    fn take(&mut self, b: u8) {
        if let Some(n) = self.skipping.as_mut() {
            *n += 1;
            return;
        }
        if self.buf.len() >= self.max {
            self.skipping = Some(self.buf.len() + 1);
            self.buf.clear();
            return;
        }
        self.buf.push(b);
    }
}

fn flush_garbage(garbage: &mut usize, on: &mut dyn FnMut(Framed<'_>)) {
    if *garbage > 0 {
        on(Framed::Garbage(*garbage));
        *garbage = 0;
    }
}

/// Frame bytes as readable text for errors and logs: printable ASCII as is, the rest escaped
/// (`\x02`, `\r`), at most 80 bytes.
pub fn show(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes.iter().take(80) {
        s.extend(std::ascii::escape_default(b).map(char::from));
    }
    if bytes.len() > 80 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: &mut Framer, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        f.push(bytes, &mut |e| {
            out.push(match e {
                Framed::Frame(b) => format!("frame {}", show(b)),
                Framed::Garbage(n) => format!("garbage {n}"),
                Framed::Overlong(n) => format!("overlong {n}"),
            })
        });
        out
    }

    #[test]
    fn stx_cr_frames_split_across_reads_and_garbage_is_counted_per_run() {
        let mut f = Framer::new(FrameShape::StxCr, 16);
        assert_eq!(run(&mut f, b"\xff\xfe\x0201.2"), vec!["garbage 2"]);
        assert_eq!(run(&mut f, b"50\r\x02?A\r"), vec!["frame 01.250", "frame ?A"]);
        // A frame cut short by a new STX is garbage; the new one stands.
        assert_eq!(run(&mut f, b"\x0201.\x0202.000\r"), vec!["garbage 4", "frame 02.000"]);
    }

    #[test]
    fn an_overlong_frame_is_dropped_to_its_terminator_and_the_next_one_reads() {
        let mut f = Framer::new(FrameShape::StxCr, 8);
        let mut long = vec![STX];
        long.extend(std::iter::repeat_n(b'9', 100));
        long.push(CR);
        long.extend_from_slice(b"\x0201.000\r");
        assert_eq!(run(&mut f, &long), vec!["overlong 100", "frame 01.000"]);
    }

    #[test]
    fn lines_strip_cr_and_skip_empty_ones() {
        let mut f = Framer::new(FrameShape::Lines { cr_ends_line: false }, 32);
        assert_eq!(run(&mut f, b"S S      100.00 g\r\n\r\nS D"), vec!["frame S S      100.00 g"]);
        assert_eq!(run(&mut f, b" 1 g\r\n"), vec!["frame S D 1 g"]);
        let mut g = Framer::new(FrameShape::Lines { cr_ends_line: true }, 8);
        assert_eq!(run(&mut g, b"a\rb\n0123456789xyz\rc\r"), vec!["frame a", "frame b", "overlong 13", "frame c"]);
    }
}
