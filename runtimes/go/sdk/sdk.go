// Package sdk is the Code Runner SDK for Go: import "sdk".
//
//	SetMetadata(v)           store any JSON-marshalable value as the run's metadata (each call
//	                         replaces the previous value)
//	GetMetadata(&dest)       unmarshal the stored value into dest; nil and dest untouched when
//	                         nothing was set
//	LoadFile(path)           a file from the flow's WebDAV store (QM_WEBDAV_URL)
//	SaveFile(path, content)  write a file to the flow's WebDAV store
package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	metadataDir  = "/metadata"
	metadataFile = metadataDir + "/.quartermaster_metadata.json"
)

// SetMetadata sets structured result metadata to be returned to the backend. Accepts any
// JSON-serializable data.
func SetMetadata(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(metadataDir, ".metadata-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Clean(metadataFile))
}

// GetMetadata gets previously set metadata into the provided destination. Returns nil if no
// metadata has been set (dest is then left untouched).
func GetMetadata(dest any) error {
	data, err := os.ReadFile(metadataFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	return json.Unmarshal(data, dest)
}

var client = &http.Client{Timeout: 60 * time.Second}

func webdavURL(path, what string) (string, error) {
	base := os.Getenv("QM_WEBDAV_URL")
	if base == "" {
		return "", fmt.Errorf("%s is only available during flow execution. For test runs, use mounted environments instead", what)
	}
	return strings.TrimRight(base, "/") + "/" + strings.TrimLeft(path, "/"), nil
}

// LoadFile loads a text file from the flow's file store.
func LoadFile(path string) (string, error) {
	url, err := webdavURL(path, "LoadFile")
	if err != nil {
		return "", err
	}
	resp, err := client.Get(url)
	if err != nil {
		return "", fmt.Errorf("failed to load file: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return "", fmt.Errorf("file not found: %s", path)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("failed to load file: HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("failed to load file: %w", err)
	}
	return string(body), nil
}

// SaveFile saves a file to the flow's file store.
func SaveFile(path, content string) error {
	url, err := webdavURL(path, "SaveFile")
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPut, url, strings.NewReader(content))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("failed to save file: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("failed to save file: HTTP %d", resp.StatusCode)
	}
	return nil
}
