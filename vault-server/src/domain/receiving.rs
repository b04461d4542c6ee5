//! Uploads whose data is being received right now: one request at a time per part
//! (`<recording>/<part>`), or per upload for a server-encrypted one (`<recording>`).
//!
//! Two requests sending the same part at once would both reach the store (the later
//! replacing the earlier) while the database records only the first. So a second
//! request for a part already being received is refused (409 `upload-busy`; clients
//! retry). Across instances the database's key on (recording, part) keeps one row, and
//! the store's per-part checksum makes a commit of other bytes fail rather than pass.

/// The uploads (or parts) receiving data in this process; a [`Claim`] per request.
pub(crate) use crate::claims::{Claim, Claims as Receiving};
