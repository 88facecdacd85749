//! Set-aside messages on Redis: the list `P:set-aside`, newest first.

use super::{RedisStore, unavailable};
use crate::store::{SET_ASIDE_KEPT, SetAside, SetAsideLog, StoreError, decode, encode};

impl SetAsideLog for RedisStore {
    async fn set_aside(&self, message: &SetAside) -> Result<(), StoreError> {
        let key = self.global("set-aside");
        redis::pipe()
            .atomic()
            .cmd("LPUSH")
            .arg(&key)
            .arg(encode(message)?)
            .ignore()
            .cmd("LTRIM")
            .arg(&key)
            .arg(0)
            .arg(SET_ASIDE_KEPT - 1)
            .ignore()
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn set_aside_messages(&self, limit: usize) -> Result<Vec<SetAside>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let messages: Vec<String> = redis::cmd("LRANGE")
            .arg(self.global("set-aside"))
            .arg(0)
            .arg(limit - 1)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        messages
            .iter()
            .map(|json| decode(json.as_bytes()))
            .collect()
    }
}
