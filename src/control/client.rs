//! The CLI side of the control socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use super::{Reply, Request};

/// Outcome of trying the daemon.
pub enum Attempt {
    /// The daemon answered.
    Answered(Result<Reply, String>),
    /// No daemon listens on this data dir; open the database directly.
    NoDaemon,
}

/// Sends `req` to the daemon of `data_dir` if one listens.
pub fn try_call(socket: &Path, req: &Request) -> Attempt {
    let stream = match UnixStream::connect(socket) {
        Ok(s) => s,
        Err(_) => return Attempt::NoDaemon,
    };
    Attempt::Answered(call_on(stream, req))
}

fn call_on(mut stream: UnixStream, req: &Request) -> Result<Reply, String> {
    let io = |e: std::io::Error| format!("control socket: {e}");
    let mut line = serde_json::to_vec(req).map_err(|e| e.to_string())?;
    line.push(b'\n');
    stream.write_all(&line).map_err(io)?;
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    reader.read_line(&mut head).map_err(io)?;
    if head.is_empty() {
        return Err("the daemon closed the control socket without answering; see its log".into());
    }
    let v: serde_json::Value =
        serde_json::from_str(&head).map_err(|e| format!("control socket: bad reply: {e}"))?;
    if v.get("ok").and_then(|o| o.as_bool()) != Some(true) {
        let msg = v.get("error").and_then(|e| e.as_str()).unwrap_or("unknown error");
        return Err(msg.to_string());
    }
    let payload = match v.get("payload_len").and_then(|n| n.as_u64()) {
        Some(n) => {
            let mut buf = Vec::with_capacity(n.min(1 << 30) as usize);
            reader.take(n).read_to_end(&mut buf).map_err(io)?;
            if buf.len() as u64 != n {
                return Err(format!("control socket: payload cut short at {} of {n} bytes", buf.len()));
            }
            Some(buf)
        }
        None => None,
    };
    Ok(Reply { result: v.get("result").cloned().unwrap_or_default(), payload })
}
