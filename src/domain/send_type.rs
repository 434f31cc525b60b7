//! How the carrier takes an item (`sendType`, SPEC §5): an office's setting in the
//! configuration, and a field of every order (`carrier::order`).

/// How the carrier takes the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
pub enum SendType {
    /// `"1"`: a postal worker collects it at the sender's address. Every pickup (the citizen's
    /// home), and by default every delivery (the office).
    #[default]
    #[serde(rename = "1")]
    Collect,
    /// `"2"`: the sender hands it in at a post office.
    #[serde(rename = "2")]
    DropOff,
}

impl SendType {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            SendType::Collect => "1",
            SendType::DropOff => "2",
        }
    }
}
