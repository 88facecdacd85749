//! Set-aside messages in the embedded store: [`SET_ASIDE`], oldest first.

use redb::{ReadableTable, ReadableTableMetadata};

use super::{EmbeddedStore, SET_ASIDE, db_error};
use crate::store::{SET_ASIDE_KEPT, SetAside, SetAsideLog, StoreError, decode, encode};

impl SetAsideLog for EmbeddedStore {
    async fn set_aside(&self, message: &SetAside) -> Result<(), StoreError> {
        let json = encode(message)?;
        self.write(move |txn| {
            let mut table = txn.open_table(SET_ASIDE).map_err(db_error)?;
            let next = match table.last().map_err(db_error)? {
                Some((seq, _)) => seq.value() + 1,
                None => 1,
            };
            table.insert(next, json.as_str()).map_err(db_error)?;
            while table.len().map_err(db_error)? > SET_ASIDE_KEPT as u64 {
                table.pop_first().map_err(db_error)?;
            }
            Ok(())
        })
        .await
    }

    async fn set_aside_messages(&self, limit: usize) -> Result<Vec<SetAside>, StoreError> {
        self.read(move |txn| {
            let table = txn.open_table(SET_ASIDE).map_err(db_error)?;
            let mut messages = Vec::new();
            for row in table.iter().map_err(db_error)?.rev().take(limit) {
                let (_, json) = row.map_err(db_error)?;
                messages.push(decode(json.value().as_bytes())?);
            }
            Ok(messages)
        })
        .await
    }
}
