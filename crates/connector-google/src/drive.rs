//! Google Drive tools (Drive API v3).

use std::sync::Arc;

use connector_core::{DynTool, Error};

use crate::client::GoogleClient;

pub(crate) fn tools(client: &Arc<GoogleClient>) -> Result<Vec<DynTool>, Error> {
    let _ = client;
    Ok(Vec::new())
}
