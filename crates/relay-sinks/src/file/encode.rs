//! What goes into the file: the envelope as capture or enrichment encoded it, one line
//! per event (the line writer adds the `\n`).

use bytes::Bytes;
use relay_contracts::OutboundEvent;

/// The line for `event`.
pub(crate) fn line(event: &OutboundEvent) -> Bytes {
    event.body.clone()
}
