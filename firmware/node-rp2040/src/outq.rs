//! The bounded queue between the node's frames and the USB CDC port: whole frames go in, bytes
//! come out as the port takes them. When the host is not reading and the queue is full, a new
//! frame is dropped whole (never half a frame, which would corrupt the next one at the hub) and
//! counted; a frame already started is always finished. No allocation: one fixed byte ring.
//!
//! Pure logic, compiled into the firmware and into the host test
//! `firmware/uf2/tests/node_rp2040.rs`, which runs the tests below.

/// Frames waiting for the USB port, at most `N` bytes of them.
pub struct FrameQueue<const N: usize> {
    buf: [u8; N],
    /// Index of the first queued byte.
    head: usize,
    /// Bytes queued.
    len: usize,
    /// Frames refused (queue full) or discarded (nobody listening) since boot.
    dropped: u32,
    /// Bytes at the front that belong to a frame already partly written to the port: they are
    /// kept by [`FrameQueue::discard`] so the host never sees a frame cut short.
    started: usize,
}

impl<const N: usize> FrameQueue<N> {
    pub const fn new() -> FrameQueue<N> {
        FrameQueue { buf: [0; N], head: 0, len: 0, dropped: 0, started: 0 }
    }

    /// Queues `frame` whole, or drops it (and counts it) when it does not fit.
    pub fn push(&mut self, frame: &[u8]) -> bool {
        if frame.len() > N - self.len {
            self.dropped = self.dropped.saturating_add(1);
            return false;
        }
        let mut tail = (self.head + self.len) % N;
        for &b in frame {
            self.buf[tail] = b;
            tail = (tail + 1) % N;
        }
        self.len += frame.len();
        true
    }

    /// The next bytes to write (contiguous, so possibly only part of what is queued).
    pub fn peek(&self) -> &[u8] {
        let end = (self.head + self.len).min(N);
        &self.buf[self.head..end]
    }

    /// Marks `n` bytes of [`FrameQueue::peek`] as written to the port.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.head = (self.head + n) % N;
        self.len -= n;
        if self.len == 0 {
            self.head = 0;
            self.started = 0;
        } else {
            self.started = self.frame_rest(n);
        }
    }

    /// Throws away every queued frame not yet started (the host closed the port), counting each.
    pub fn discard(&mut self) {
        let mut frames = 0u32;
        let mut i = self.started;
        while i < self.len {
            if self.buf[(self.head + i) % N] == 0 {
                frames += 1;
            }
            i += 1;
        }
        self.dropped = self.dropped.saturating_add(frames);
        self.len = self.started;
        if self.len == 0 {
            self.head = 0;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Frames dropped since boot.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// After `n` bytes went out: how many bytes at the new front belong to the frame that was
    /// being written (up to and including its 0x00 delimiter), 0 when a frame ended exactly.
    fn frame_rest(&self, n: usize) -> usize {
        if n == 0 {
            return self.started;
        }
        // The byte just written was a delimiter: the front starts a fresh frame.
        let last_written = self.buf[(self.head + N - 1) % N];
        if last_written == 0 {
            return 0;
        }
        let mut i = 0;
        while i < self.len {
            if self.buf[(self.head + i) % N] == 0 {
                return i + 1;
            }
            i += 1;
        }
        self.len
    }
}

impl<const N: usize> Default for FrameQueue<N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drains the queue like the USB port would, at most `chunk` bytes per write.
    fn drain<const N: usize>(q: &mut FrameQueue<N>, chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while !q.is_empty() {
            let p = q.peek();
            let n = p.len().min(chunk);
            out.extend_from_slice(&p[..n]);
            q.consume(n);
        }
        out
    }

    /// 16 bytes of room: frames of 6, 6 and 5 bytes (0x00-terminated, as COBS frames are):
    /// 6 + 6 = 12 fit, the third needs 5 > 16 − 12 = 4, so it is dropped whole.
    #[test]
    fn a_full_queue_drops_whole_frames_and_counts_them() {
        let mut q = FrameQueue::<16>::new();
        assert!(q.push(&[1, 2, 3, 4, 5, 0]));
        assert!(q.push(&[6, 7, 8, 9, 10, 0]));
        assert!(!q.push(&[11, 12, 13, 14, 0]));
        assert_eq!(q.dropped(), 1);
        assert_eq!(q.len(), 12);
        assert_eq!(drain(&mut q, 64), [1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10, 0]);
        assert_eq!(q.dropped(), 1);
    }

    /// Frames wrap round the end of the ring and come out in order and whole.
    #[test]
    fn frames_wrap_round_the_ring_in_order() {
        let mut q = FrameQueue::<10>::new();
        let mut expected = Vec::new();
        let mut got = Vec::new();
        for k in 1..=20u8 {
            let frame = [k, k, k, 0];
            assert!(q.push(&frame));
            expected.extend_from_slice(&frame);
            // Two writes of at most 3 bytes, so the head walks round the 10-byte ring at odd
            // offsets and a peek sometimes ends at the ring's end mid-frame.
            for _ in 0..2 {
                let p = q.peek();
                let n = p.len().min(3);
                got.extend_from_slice(&p[..n]);
                q.consume(n);
            }
        }
        got.extend(drain(&mut q, 5));
        assert_eq!(got, expected);
        assert_eq!(q.dropped(), 0);
    }

    /// Three 4-byte frames queued, 2 bytes of the first written: discard keeps the first frame's
    /// other 2 bytes (so the host gets it whole) and drops the other two frames.
    #[test]
    fn discard_keeps_a_started_frame_and_drops_the_rest() {
        let mut q = FrameQueue::<32>::new();
        for k in 1..=3u8 {
            q.push(&[k, k, k, 0]);
        }
        let n = 2;
        assert_eq!(&q.peek()[..n], &[1, 1]);
        q.consume(n);
        q.discard();
        assert_eq!(q.dropped(), 2);
        assert_eq!(drain(&mut q, 64), [1, 0]);
        // Nothing started: discard empties the queue.
        q.push(&[4, 0]);
        q.discard();
        assert!(q.is_empty());
        assert_eq!(q.dropped(), 3);
    }

    #[test]
    fn a_frame_bigger_than_the_queue_is_dropped() {
        let mut q = FrameQueue::<4>::new();
        assert!(!q.push(&[1, 2, 3, 4, 0]));
        assert!(q.is_empty());
        assert_eq!(q.dropped(), 1);
    }
}
