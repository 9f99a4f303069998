// SPDX-License-Identifier: GPL-2.0-only
//
// event_tap.rs - the event stream for other programs (axrt-trace): the same JSON lines as
// `--events`, served on a unix socket next to the stats socket. Each subscriber gets a bounded
// queue drained by a writer thread of its own, so the event thread only ever tries to queue: a
// slow or stalled reader loses lines, never delays the loader. Lost lines are counted and
// announced to that reader, as soon as its queue has room again, in one line
// `{"kind":"dropped","dropped":N}`.
//
// Hooks (two lines): `event_tap::start()` once before the scheduler loads (main.rs), and
// `event_tap::publish(|| <the event's JSON line>)` wherever an event becomes its JSON line
// (events.rs); the closure runs only when someone listens.

//! Serving the event lines to subscribers.

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Mutex, OnceLock};

/// The socket, next to scx_stats' `/var/run/scx/root/stats`.
pub const SOCKET: &str = "/var/run/scx/root/events";
/// Lines queued per subscriber before it loses lines.
const QUEUE: usize = 65536;

struct Subscriber {
    tx: SyncSender<String>,
    /// Lines lost since the last announcement.
    missed: u64,
}

static SUBSCRIBERS: OnceLock<Mutex<Vec<Subscriber>>> = OnceLock::new();

/// Starts serving `SOCKET` on a thread of its own. Failing to serve is a warning: the
/// scheduler runs without the tap.
pub fn start() {
    let path = Path::new(SOCKET);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::remove_file(path); // a previous instance's
    let listener = match UnixListener::bind(path) {
        Ok(l) => l,
        Err(e) => {
            log::warn!("no event socket at {SOCKET}: {e}");
            return;
        }
    };
    let subs = SUBSCRIBERS.get_or_init(|| Mutex::new(Vec::new()));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let (tx, rx) = sync_channel::<String>(QUEUE);
            std::thread::spawn(move || {
                for line in rx {
                    if conn.write_all(line.as_bytes()).is_err() || conn.write_all(b"\n").is_err() {
                        break; // the reader left; dropping rx ends its subscription
                    }
                }
            });
            if let Ok(mut s) = subs.lock() {
                s.push(Subscriber { tx, missed: 0 });
            }
        }
    });
}

/// Hands one event line to every subscriber, without waiting; `line` is called only if
/// there is one.
pub fn publish(line: impl FnOnce() -> String) {
    let Some(subs) = SUBSCRIBERS.get() else {
        return;
    };
    let Ok(mut subs) = subs.lock() else { return };
    if subs.is_empty() {
        return;
    }
    let line = line();
    subs.retain_mut(|s| {
        if s.missed > 0 {
            let note = format!("{{\"kind\":\"dropped\",\"dropped\":{}}}", s.missed);
            match s.tx.try_send(note) {
                Ok(()) => s.missed = 0,
                Err(TrySendError::Full(_)) => {
                    s.missed += 1;
                    return true;
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
        match s.tx.try_send(line.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                s.missed += 1;
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_loses_lines_counts_them_and_announces_the_loss() {
        let (tx, rx) = sync_channel::<String>(2);
        let subs = SUBSCRIBERS.get_or_init(|| Mutex::new(Vec::new()));
        subs.lock().unwrap().push(Subscriber { tx, missed: 0 });
        for i in 0..5 {
            publish(|| format!("{{\"n\":{i}}}"));
        }
        assert_eq!(subs.lock().unwrap()[0].missed, 3);
        assert_eq!(rx.recv().unwrap(), "{\"n\":0}");
        assert_eq!(rx.recv().unwrap(), "{\"n\":1}");
        // Room again: the loss is announced before the next line.
        publish(|| "{\"n\":5}".into());
        assert_eq!(rx.recv().unwrap(), "{\"kind\":\"dropped\",\"dropped\":3}");
        assert_eq!(rx.recv().unwrap(), "{\"n\":5}");
        drop(rx);
        publish(|| "{}".into());
        assert!(
            subs.lock().unwrap().is_empty(),
            "a reader that left is removed"
        );
    }
}
