//! The runner's second ear: a police dispatch endpoint (docs/api.md#police-dispatch) served
//! in this process, so the report can tell what reached police and when.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::sync::mpsc;
use vangnet_proto::DispatchBody;

use crate::sink::InProcessSink;

/// Serves the sink on `addr`; every dispatched revision arrives on the receiver, stamped on arrival.
pub fn listen(
    addr: SocketAddr,
) -> anyhow::Result<(
    InProcessSink,
    mpsc::UnboundedReceiver<(Instant, DispatchBody)>,
)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let sink = InProcessSink::start(
        addr,
        Box::new(move |body| {
            if let Ok(body) = serde_json::from_value::<DispatchBody>(body.clone()) {
                // The receiver is gone only once the run is judged.
                let _ = tx.send((Instant::now(), body));
            }
        }),
    )?;
    Ok((sink, rx))
}
