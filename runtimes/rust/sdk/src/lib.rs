//! Code Runner SDK for Rust (crate `sdk`, a dependency of the default `Cargo.toml`).
//!
//! ```ignore
//! use sdk::{set_metadata, get_metadata};
//! set_metadata(&serde_json::json!({"status": "ok"})).unwrap();
//! let m: Option<serde_json::Value> = get_metadata().unwrap();
//! ```
//!
//! * `set_metadata(&T)` / `set_metadata_raw(&str)`: store the run's metadata (each call replaces
//!   the previous value).
//! * `get_metadata::<T>()` / `get_metadata_raw()`: the value stored last, `None` when unset.
//! * `load_file(path)` / `save_file(path, content)`: the flow's WebDAV store (`QM_WEBDAV_URL`,
//!   plain `http://` only in this offline build).

use serde::{de::DeserializeOwned, Serialize};
use std::fs;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

const METADATA_DIR: &str = "/metadata";
const METADATA_FILE: &str = "/metadata/.quartermaster_metadata.json";

/// Set structured result metadata to be returned to the backend. Accepts any Serialize type.
pub fn set_metadata<T: Serialize + ?Sized>(data: &T) -> io::Result<()> {
    let json = serde_json::to_string(data).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    set_metadata_raw(&json)
}

/// Set the metadata from a JSON text, stored as given.
pub fn set_metadata_raw(json: &str) -> io::Result<()> {
    let tmp = Path::new(METADATA_DIR).join(format!(".metadata-{}", std::process::id()));
    fs::write(&tmp, json)?;
    fs::rename(&tmp, METADATA_FILE).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        e
    })
}

/// Get previously set metadata, deserializing into the specified type. Returns None if not set.
pub fn get_metadata<T: DeserializeOwned>() -> io::Result<Option<T>> {
    match get_metadata_raw()? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
    }
}

/// Get the metadata JSON text as stored. Returns None if not set.
pub fn get_metadata_raw() -> io::Result<Option<String>> {
    match fs::read_to_string(METADATA_FILE) {
        Ok(text) if text.trim().is_empty() => Ok(None),
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn webdav_url(path: &str, what: &str) -> io::Result<String> {
    match std::env::var("QM_WEBDAV_URL") {
        Ok(base) if !base.is_empty() => {
            Ok(format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/')))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::Other,
            format!("{what} is only available during flow execution. For test runs, use mounted environments instead."),
        )),
    }
}

/// Minimal HTTP/1.1 request (http:// only): returns (status, body).
fn http(method: &str, url: &str, body: &[u8]) -> io::Result<(u16, Vec<u8>)> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        io::Error::new(io::ErrorKind::Unsupported, "only http:// URLs are supported by this SDK build")
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority_no_auth = authority.rsplit('@').next().unwrap_or(authority);
    let addr = if authority_no_auth.contains(':') { authority_no_auth.to_string() } else { format!("{authority_no_auth}:80") };
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.set_write_timeout(Some(Duration::from_secs(60)))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority_no_auth}\r\nConnection: close\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed HTTP response"))?;
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed HTTP status line"))?;
    let mut payload = response[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        payload = dechunk(&payload)?;
    }
    Ok((status, payload))
}

fn dechunk(mut data: &[u8]) -> io::Result<Vec<u8>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed chunked body");
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).map_err(|_| bad())?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err(bad());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// Load a text file from the flow's file store.
pub fn load_file(path: &str) -> io::Result<String> {
    let url = webdav_url(path, "load_file")?;
    let (status, body) = http("GET", &url, &[])
        .map_err(|e| io::Error::new(e.kind(), format!("Failed to load file: {e}")))?;
    match status {
        200..=299 => String::from_utf8(body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        404 => Err(io::Error::new(io::ErrorKind::NotFound, format!("File not found: {path}"))),
        code => Err(io::Error::new(io::ErrorKind::Other, format!("Failed to load file: HTTP {code}"))),
    }
}

/// Save a file to the flow's file store.
pub fn save_file(path: &str, content: &str) -> io::Result<()> {
    let url = webdav_url(path, "save_file")?;
    let (status, _) = http("PUT", &url, content.as_bytes())
        .map_err(|e| io::Error::new(e.kind(), format!("Failed to save file: {e}")))?;
    match status {
        200..=299 => Ok(()),
        code => Err(io::Error::new(io::ErrorKind::Other, format!("Failed to save file: HTTP {code}"))),
    }
}
