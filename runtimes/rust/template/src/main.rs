// Built once at image build time to pre-compile the dependencies (seeded target dir).
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Warm {
    ok: bool,
}

fn main() {
    let w: Warm = serde_json::from_str(r#"{"ok": true}"#).unwrap();
    let _ = sdk::get_metadata_raw();
    println!("{}", serde_json::to_string(&w).unwrap());
}
