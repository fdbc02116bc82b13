//! Accepting HTTP connections with bounds: each connection must send a
//! request's headers within [`HEADER_TIMEOUT`] (the first request, and each
//! one after on a kept-alive connection), so idle and slow clients are
//! closed and their memory returned; and at most [`MAX_CONNECTIONS`] are
//! served at once (more wait in the kernel's backlog). `axum::serve` has
//! neither: 20,000 idle connections were held for good, and 114 MB with
//! them. Once the last connection of a burst is gone, free memory goes
//! back to the system.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long a connection may take to send a request's headers, or stay
/// idle between requests.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 1024;

/// How long shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` until `shutdown` is cancelled; then stops
/// accepting, lets requests in flight finish (within a few seconds) and
/// returns.
pub async fn serve(listener: TcpListener, router: Router, shutdown: CancellationToken) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit,
            () = shutdown.cancelled() => break,
        };
        let Ok(permit) = permit else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => break,
            // Finished connections are reaped as they end; once the last
            // is gone, the memory a burst of them took goes back.
            Some(_) = connections.join_next(), if !connections.is_empty() => {
                if connections.is_empty() {
                    super::memory::release_free_memory();
                }
                continue;
            }
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, or the like: wait a moment
                // rather than spin.
                tracing::warn!("accepting an HTTP connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(router.clone());
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let _permit = permit;
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(DRAIN, connection).await;
                }
            }
        });
    }
    let _ = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.shutdown().await;
}
