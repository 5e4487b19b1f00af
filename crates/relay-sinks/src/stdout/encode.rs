//! One line per event: the envelope as encoded upstream.

use bytes::Bytes;
use relay_contracts::OutboundEvent;

pub(crate) fn line(event: &OutboundEvent) -> Bytes {
    event.body.clone()
}
