// Code Runner SDK for Bun: import { setMetadata, getMetadata } from './sdk';
//
// setMetadata(data)        store any JSON-serialisable value as the run's metadata (synchronous:
//                          written before the call returns; each call replaces the previous value)
// getMetadata()            the value stored last, or null when nothing was set (synchronous)
// loadFile(path)           Promise<string>: a file from the flow's WebDAV store (QM_WEBDAV_URL)
// saveFile(path, content)  Promise<void>: write a file to the flow's WebDAV store
import { readFileSync, renameSync, writeFileSync } from "node:fs";

const METADATA_DIR = "/metadata";
const METADATA_FILE = `${METADATA_DIR}/.quartermaster_metadata.json`;

/** Set structured result metadata to be returned to the backend. Accepts any JSON-serializable data. */
export function setMetadata(data: unknown): void {
  const text = JSON.stringify(data) ?? "null";
  const tmp = `${METADATA_DIR}/.metadata-${process.pid}-${Date.now()}`;
  writeFileSync(tmp, text);
  renameSync(tmp, METADATA_FILE);
}

/** Get previously set metadata. Returns null if not set. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function getMetadata(): any {
  let text: string;
  try {
    text = readFileSync(METADATA_FILE, "utf8");
  } catch {
    return null;
  }
  return text.trim() ? JSON.parse(text) : null;
}

function webdavUrl(path: string, what: string): string {
  const base = process.env.QM_WEBDAV_URL;
  if (!base) {
    throw new Error(
      `${what}() is only available during flow execution. For test runs, use mounted environments instead.`,
    );
  }
  return base.replace(/\/+$/, "") + "/" + path.replace(/^\/+/, "");
}

/** Load a text file from the flow's file store. */
export async function loadFile(path: string): Promise<string> {
  const response = await fetch(webdavUrl(path, "loadFile"));
  if (response.status === 404) throw new Error(`File not found: ${path}`);
  if (!response.ok) throw new Error(`Failed to load file: HTTP ${response.status}`);
  return await response.text();
}

/** Save a file (string or bytes) to the flow's file store. */
export async function saveFile(path: string, content: string | Uint8Array): Promise<void> {
  const response = await fetch(webdavUrl(path, "saveFile"), {
    method: "PUT",
    headers: { "Content-Type": "application/octet-stream" },
    body: content,
  });
  if (!response.ok) throw new Error(`Failed to save file: HTTP ${response.status}`);
}
