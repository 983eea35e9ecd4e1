//! The clients of `websocket_sink` in server mode: an accept loop that completes each
//! WebSocket handshake, and one writer task per client that owns its connection and drains
//! its own bounded queue, so a slow client never holds the others back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use streamloom_runtime::metrics::Gauge;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::ws::server::{Admission, Refusal};

/// Longest wait for a client to answer the closing handshake.
const CLOSE_REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// Most messages written before one flush.
const WRITE_CHUNK: usize = 256;

/// One connected client, as the sink sees it.
pub struct Client {
    tx: mpsc::Sender<Utf8Bytes>,
    task: JoinHandle<()>,
    /// Messages not queued for it because its queue was full.
    pub skipped: u64,
}

/// What offering a message to a client did.
pub enum Offer {
    /// Queued for it.
    Queued,
    /// Its queue was full: skipped for this client.
    Skipped,
    /// It has gone.
    Gone,
}

impl Client {
    /// Queues `text` for this client without waiting.
    pub fn offer(&mut self, text: Utf8Bytes) -> Offer {
        match self.tx.try_send(text) {
            Ok(()) => Offer::Queued,
            Err(TrySendError::Full(_)) => {
                self.skipped += 1;
                Offer::Skipped
            }
            Err(TrySendError::Closed(_)) => Offer::Gone,
        }
    }

    /// Whether its connection has ended.
    pub fn is_gone(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Closes every client after it has written its queue, waiting at most `timeout` in all;
/// clients still writing then are cut off.
pub async fn close_all(clients: Vec<Client>, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    let tasks: Vec<JoinHandle<()>> = clients.into_iter().map(|c| c.task).collect();
    for mut task in tasks {
        if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
            task.abort();
        }
    }
}

/// A listening socket whose new clients arrive on `new_clients`; accepting stops on drop.
pub struct Listening {
    /// The address bound (with the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// Clients whose handshake is complete.
    pub new_clients: mpsc::Receiver<Client>,
    accept: JoinHandle<()>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Binds `bind` and accepts the clients `admission` lets in (the others counted in
/// `refused`), each with a queue of `queue` messages.
pub async fn listen(bind: &str, queue: usize, admission: Admission, refused: Gauge) -> std::io::Result<Listening> {
    let listener = TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let (tx, new_clients) = mpsc::channel(16);
    let accept = tokio::spawn(accept_loop(listener, queue.max(1), tx, Arc::new(admission), refused));
    Ok(Listening { addr, new_clients, accept })
}

async fn accept_loop(
    listener: TcpListener,
    queue: usize,
    clients: mpsc::Sender<Client>,
    admission: Arc<Admission>,
    refused: Gauge,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("websocket_sink: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (clients, admission, refused) = (clients.clone(), admission.clone(), refused.clone());
        tokio::spawn(async move {
            let ws = match admission.accept(tcp, None).await {
                Ok(ws) => ws,
                Err(Refusal::Unauthorized) => {
                    refused.add(1);
                    return tracing::info!("websocket_sink: refused {peer}: wrong or missing token");
                }
                Err(Refusal::Handshake(why)) => {
                    refused.add(1);
                    return tracing::debug!("websocket_sink: handshake with {peer} failed: {why}");
                }
            };
            let (tx, rx) = mpsc::channel(queue);
            let task = tokio::spawn(write_loop(ws, rx));
            // The sink has ended when this fails: the client is dropped (and its task ends).
            let _ = clients.send(Client { tx, task, skipped: 0 }).await;
        });
    }
}

/// Writes the client's queue until the queue closes (then a closing handshake) or the client
/// goes away. What the client sends is read and ignored (pings are answered).
async fn write_loop(mut ws: WebSocketStream<TcpStream>, mut rx: mpsc::Receiver<Utf8Bytes>) {
    loop {
        tokio::select! {
            text = rx.recv() => {
                let Some(text) = text else { break };
                let mut written = ws.feed(Message::Text(text)).await;
                let mut n = 1;
                while written.is_ok() && n < WRITE_CHUNK {
                    let Ok(text) = rx.try_recv() else { break };
                    written = ws.feed(Message::Text(text)).await;
                    n += 1;
                }
                if written.is_err() || ws.flush().await.is_err() {
                    return;
                }
            }
            read = ws.next() => match read {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
    if ws.close(None).await.is_ok() {
        // Wait for the client's reply to the close, briefly.
        let _ = tokio::time::timeout(CLOSE_REPLY_TIMEOUT, async { while let Some(Ok(_)) = ws.next().await {} }).await;
    }
}
