//! The 阿奇索 section of an Agiso order's page: the service, the tid, Agiso's order type, the
//! delivery step and the stored pushes / polls of that tid (payloads cut short and masked). Its
//! buttons post to the `agiso` area.

use common::db::Pool;
use common::db::agiso::{self, Source};

use super::masking::mask_text;
use super::views::{AgisoEventLine, AgisoSection};
use crate::web::page;

/// Characters of a payload shown.
const PAYLOAD_CHARS: usize = 300;

pub(super) async fn section(
    pool: &Pool,
    order_id: u64,
    configured: bool,
) -> sqlx::Result<Option<AgisoSection>> {
    let Some(side) = agiso::order(pool, order_id).await? else {
        return Ok(None);
    };
    let events = agiso::events_of_tid(pool, side.service, &side.tid)
        .await?
        .into_iter()
        .map(|e| {
            let mut payload: String = e.payload.chars().take(PAYLOAD_CHARS).collect();
            if e.payload.chars().count() > PAYLOAD_CHARS {
                payload.push('…');
            }
            AgisoEventLine {
                at: page::beijing(e.received_at),
                topic: e.topic,
                aopic: e.aopic,
                source: match e.source {
                    Source::Push => "推送",
                    Source::Poll => "轮询",
                },
                state: e.state.label_zh(),
                note: e.note.unwrap_or_default(),
                payload: mask_text(&payload),
            }
        })
        .collect();
    Ok(Some(AgisoSection {
        service: side.service.label_zh(),
        tid: side.tid,
        order_type: side.order_type.label_zh(),
        step: side.step.label_zh(),
        events,
        configured,
        not_configured: crate::web::agiso::client::NOT_CONFIGURED,
    }))
}
