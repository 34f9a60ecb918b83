//! Server-Sent Events for live views: a view subscribes to the store's change notices
//! (`Store::subscribe`), re-renders only what changed, and [`stream`] pushes the HTML to
//! the browser, where htmx's SSE extension swaps it in (`sse-swap="<event name>"`).
//!
//! Notices arriving together are handed over as one batch (a deploy writes the node and its
//! history in quick succession); a viewer that fell behind gets `Update::Resync` and
//! re-renders all it shows. A comment line every `KEEPALIVE` keeps proxies from closing the
//! stream and finds a client that has gone (the write fails and the stream is dropped).

use std::future::Future;
use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::HttpResponse;
use futures_util::stream;
use tokio::sync::broadcast::{error::RecvError, error::TryRecvError, Receiver};

use crate::db::Change;

const KEEPALIVE: Duration = Duration::from_secs(15);
/// Waiting this long after a notice lets the writes of one step arrive as one batch.
const COALESCE: Duration = Duration::from_millis(50);
/// A batch holds at most this many notices (the rest come in the next).
const MAX_BATCH: usize = 512;
/// After a render that failed (a database read did), wait this long and resync.
const RETRY: Duration = Duration::from_millis(500);

/// What a view is asked to render.
#[derive(Debug)]
pub enum Update {
    /// These committed writes (duplicates removed, in order).
    Changes(Vec<Change>),
    /// Notices were missed (or the stream just opened, when asked): re-render everything
    /// this view shows.
    Resync,
}

/// One SSE event: `name` is what the page's `sse-swap` listens for, `html` its new content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: String,
    pub html: String,
}

impl Event {
    pub fn new(name: impl Into<String>, html: impl Into<String>) -> Event {
        Event {
            name: name.into(),
            html: html.into(),
        }
    }
}

/// The wire form: `event:` then one `data:` line per line of HTML (a line break inside
/// the data would otherwise end the field). Names lose any line break.
pub fn encode(events: &[Event]) -> Bytes {
    let mut out = String::new();
    for e in events {
        out.push_str("event: ");
        out.extend(e.name.chars().filter(|c| *c != '\n' && *c != '\r'));
        out.push('\n');
        for line in e.html.split('\n') {
            out.push_str("data: ");
            out.push_str(line.trim_end_matches('\r'));
            out.push('\n');
        }
        out.push('\n');
    }
    Bytes::from(out)
}

/// The rest of a batch after its `first` notice: gives the burst `COALESCE` to arrive,
/// then takes what is queued. (Not raced against anything: `first` is already received.)
async fn rest_of_batch(
    first: Result<Change, RecvError>,
    rx: &mut Receiver<Change>,
) -> Option<Update> {
    let first = match first {
        Ok(c) => c,
        Err(RecvError::Lagged(_)) => return Some(Update::Resync),
        Err(RecvError::Closed) => return None,
    };
    tokio::time::sleep(COALESCE).await;
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(c) => {
                if !batch.contains(&c) {
                    batch.push(c);
                }
            }
            Err(TryRecvError::Lagged(_)) => return Some(Update::Resync),
            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
        }
    }
    Some(Update::Changes(batch))
}

/// The next batch of notices: waits for one, then the rest of its burst.
#[cfg(test)]
async fn next_batch(rx: &mut Receiver<Change>) -> Option<Update> {
    let first = rx.recv().await;
    rest_of_batch(first, rx).await
}

/// A `text/event-stream` response that, for every batch of changes `rx` receives, sends
/// what `render` makes of it (nothing when it returns no events). `render` returns None
/// when it could not read what changed: the stream then resyncs after `RETRY`, so the last
/// change of a burst is never lost to a failed read. With `resync_first`,
/// `render(Update::Resync)` is sent first: changes between the page's render and the
/// stream's start are then not lost.
pub fn stream<F, Fut>(rx: Receiver<Change>, resync_first: bool, render: F) -> HttpResponse
where
    F: FnMut(Update) -> Fut + 'static,
    Fut: Future<Output = Option<Vec<Event>>> + 'static,
{
    let mut tick = tokio::time::interval(KEEPALIVE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    struct St<F> {
        rx: Receiver<Change>,
        render: F,
        tick: tokio::time::Interval,
        pending: Option<Update>,
    }
    let st = St {
        rx,
        render,
        tick,
        pending: resync_first.then_some(Update::Resync),
    };
    let body = stream::unfold(st, |mut st| async move {
        loop {
            let update = match st.pending.take() {
                Some(u) => u,
                None => {
                    // Only the wait for the first notice races the keep-alive (recv is
                    // cancel-safe); the coalescing sleep after it must not be dropped.
                    let first = tokio::select! {
                        c = st.rx.recv() => c,
                        _ = st.tick.tick() => {
                            return Some((Ok::<_, actix_web::Error>(Bytes::from_static(b": keep-alive\n\n")), st));
                        }
                    };
                    rest_of_batch(first, &mut st.rx).await?
                }
            };
            match (st.render)(update).await {
                Some(events) if !events.is_empty() => return Some((Ok(encode(&events)), st)),
                Some(_) => {}
                None => {
                    tokio::time::sleep(RETRY).await;
                    st.pending = Some(Update::Resync);
                }
            }
        }
    });
    event_stream(body)
}

/// The response of every live stream: events, never cached, and passed on as they come by
/// any buffering proxy in front.
pub fn event_stream<S>(body: S) -> HttpResponse
where
    S: futures_util::Stream<Item = Result<Bytes, actix_web::Error>> + 'static,
{
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::ChangeKind;

    #[test]
    fn events_are_framed_line_by_line() {
        let b = encode(&[
            Event::new("row-1\nx", "<tr>\n<td>a</td>\r\n</tr>"),
            Event::new("counts", "<b>2</b>"),
        ]);
        assert_eq!(
            std::str::from_utf8(&b).unwrap(),
            "event: row-1x\ndata: <tr>\ndata: <td>a</td>\ndata: </tr>\n\nevent: counts\ndata: <b>2</b>\n\n"
        );
    }

    #[tokio::test]
    async fn bursts_arrive_as_one_deduplicated_batch_and_lag_means_resync() {
        let (tx, mut rx) = tokio::sync::broadcast::channel(4);
        let c = |u: &str| Change {
            node_uuid: u.into(),
            kind: ChangeKind::Node,
        };
        for u in ["a", "b", "a"] {
            tx.send(c(u)).unwrap();
        }
        match next_batch(&mut rx).await {
            Some(Update::Changes(b)) => assert_eq!(b, vec![c("a"), c("b")]),
            other => panic!("{other:?}"),
        }
        for _ in 0..6 {
            tx.send(c("x")).unwrap();
        }
        assert!(matches!(next_batch(&mut rx).await, Some(Update::Resync)));
        drop(tx);
        // What is still buffered after the lag, then the end.
        assert!(matches!(
            next_batch(&mut rx).await,
            Some(Update::Changes(_))
        ));
        assert!(next_batch(&mut rx).await.is_none());
    }
}
