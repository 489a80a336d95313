// Code Runner SDK for Node.js: const { setMetadata, getMetadata } = require('./sdk');
//
// setMetadata(data)        store any JSON-serialisable value as the run's metadata (synchronous;
//                          each call replaces the previous value)
// getMetadata()            the value stored last, or null when nothing was set
// loadFile(path)           Promise<string>: a file from the flow's WebDAV store (QM_WEBDAV_URL)
// saveFile(path, content)  Promise<void>: write a file to the flow's WebDAV store
'use strict';

const fs = require('fs');
const path = require('path');

const METADATA_DIR = '/metadata';
const METADATA_FILE = path.join(METADATA_DIR, '.quartermaster_metadata.json');

/** Set structured result metadata to be returned to the backend. Accepts any JSON-serializable data. */
function setMetadata(data) {
  const text = JSON.stringify(data);
  const tmp = path.join(METADATA_DIR, `.metadata-${process.pid}-${Date.now()}`);
  fs.writeFileSync(tmp, text === undefined ? 'null' : text);
  fs.renameSync(tmp, METADATA_FILE);
}

/** Get previously set metadata. Returns null if not set. */
function getMetadata() {
  let text;
  try {
    text = fs.readFileSync(METADATA_FILE, 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw e;
  }
  if (!text.trim()) return null;
  return JSON.parse(text);
}

function webdavUrl(p, what) {
  const base = process.env.QM_WEBDAV_URL;
  if (!base) {
    throw new Error(`${what}() is only available during flow execution. For test runs, use mounted environments instead.`);
  }
  return base.replace(/\/+$/, '') + '/' + String(p).replace(/^\/+/, '');
}

/** Load a text file from the flow's file store. */
async function loadFile(p) {
  const url = webdavUrl(p, 'loadFile');
  const response = await fetch(url);
  if (response.status === 404) throw new Error(`File not found: ${p}`);
  if (!response.ok) throw new Error(`Failed to load file: HTTP ${response.status}`);
  return await response.text();
}

/** Save a file (string or bytes) to the flow's file store. */
async function saveFile(p, content) {
  const url = webdavUrl(p, 'saveFile');
  const response = await fetch(url, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: content,
  });
  if (!response.ok) throw new Error(`Failed to save file: HTTP ${response.status}`);
}

module.exports = { setMetadata, getMetadata, loadFile, saveFile };
