// Package blueskytest is a fake Bluesky PDS for tests of the adapter, the
// reconcilers, the soak and the benchmarks: one fake, following the atproto
// XRPC endpoints Herald uses. (test/pds runs the reference PDS itself.)
package blueskytest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/herald-dev/herald/internal/publish/platformtest"
)

// Fake follows the atproto XRPC endpoints Herald uses, with the
// reference PDS's behaviour: errors as {"error","message"}, 401 for a bad
// password, 400 ExpiredToken for an expired access token, 400
// RecordNotFound from getRecord, HTTP 500 (not 409) for a second
// createRecord with the same rkey, and success from deleteRecord whether or
// not the record exists.
type Fake struct {
	*platformtest.Server
	// Identifier and Password are the account's credentials; DID and
	// AccountHandle name it.
	Identifier, Password, DID, AccountHandle string
	// Handles are the handles the fake resolves, to DIDs.
	Handles map[string]string
	// PDS, when set, is the PDS the account's DID document names in
	// createSession's answer, as an entryway's answer does.
	PDS string

	mu       sync.Mutex
	sessions int
	valid    map[string]bool // access tokens accepted
	records  map[string]map[string]any
}

var tid = regexp.MustCompile(`^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$`)

// New starts a fake PDS that closes when the test ends.
func New(t testing.TB) *Fake {
	f := &Fake{Server: platformtest.NewServer(t), Identifier: "herald.test", Password: "app-pass-word-1234",
		DID: "did:plc:herald", AccountHandle: "herald.test", Handles: map[string]string{"alice.test": "did:plc:alice"},
		valid: map[string]bool{}, records: map[string]map[string]any{}}
	xrpcErr := func(w http.ResponseWriter, status int, code, msg string) {
		platformtest.WriteJSON(w, status, map[string]string{"error": code, "message": msg})
	}
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			ok := f.valid[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
			f.mu.Unlock()
			if !ok {
				xrpcErr(w, 400, "ExpiredToken", "Token has expired")
				return
			}
			h(w, r)
		}
	}
	f.Handle("POST /xrpc/com.atproto.server.createSession", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Identifier, Password string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in.Identifier != f.Identifier || in.Password != f.Password {
			xrpcErr(w, 401, "AuthenticationRequired", "Invalid identifier or password")
			return
		}
		f.mu.Lock()
		f.sessions++
		token := fmt.Sprintf("access-jwt-%d", f.sessions)
		f.valid[token] = true
		f.mu.Unlock()
		answer := map[string]any{"accessJwt": token, "refreshJwt": "refresh", "handle": f.AccountHandle, "did": f.DID, "active": true}
		if f.PDS != "" {
			answer["didDoc"] = map[string]any{"id": f.DID, "service": []map[string]any{
				{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": f.PDS}}}
		}
		platformtest.WriteJSON(w, 200, answer)
	})
	f.Handle("GET /xrpc/com.atproto.server.getSession", authed(func(w http.ResponseWriter, r *http.Request) {
		platformtest.WriteJSON(w, 200, map[string]any{"handle": f.AccountHandle, "did": f.DID})
	}))
	f.Handle("GET /xrpc/com.atproto.identity.resolveHandle", func(w http.ResponseWriter, r *http.Request) {
		if did, ok := f.Handles[r.URL.Query().Get("handle")]; ok {
			platformtest.WriteJSON(w, 200, map[string]string{"did": did})
			return
		}
		xrpcErr(w, 400, "InvalidRequest", "Unable to resolve handle")
	})
	f.Handle("POST /xrpc/com.atproto.repo.uploadBlob", authed(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		platformtest.WriteJSON(w, 200, map[string]any{"blob": map[string]any{"$type": "blob",
			"ref": map[string]string{"$link": fmt.Sprintf("bafkrei%d", len(data))}, "mimeType": r.Header.Get("Content-Type"), "size": len(data)}})
	}))
	f.Handle("POST /xrpc/com.atproto.repo.createRecord", authed(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Repo, Collection, Rkey string
			Record                 map[string]any
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in.Repo != f.DID || in.Collection != "app.bsky.feed.post" || !tid.MatchString(in.Rkey) {
			xrpcErr(w, 400, "InvalidRequest", "Invalid record key")
			return
		}
		if !f.store(in.Rkey, in.Record) {
			xrpcErr(w, 500, "InternalServerError", "Internal Server Error")
			return
		}
		platformtest.WriteJSON(w, 200, map[string]any{"uri": f.URI(in.Rkey), "cid": "bafyrecord"})
	}))
	f.Handle("GET /xrpc/com.atproto.repo.getRecord", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f.mu.Lock()
		rec, ok := f.records[q.Get("rkey")]
		f.mu.Unlock()
		if !ok || q.Get("repo") != f.DID || q.Get("collection") != "app.bsky.feed.post" {
			xrpcErr(w, 400, "RecordNotFound", "Could not locate record: "+f.URI(q.Get("rkey")))
			return
		}
		platformtest.WriteJSON(w, 200, map[string]any{"uri": f.URI(q.Get("rkey")), "cid": "bafyrecord", "value": rec})
	})
	f.Handle("POST /xrpc/com.atproto.repo.deleteRecord", authed(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Repo, Collection, Rkey string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in.Repo != f.DID || in.Collection != "app.bsky.feed.post" || in.Rkey == "" {
			xrpcErr(w, 400, "InvalidRequest", "Invalid record")
			return
		}
		f.mu.Lock()
		_, held := f.records[in.Rkey]
		delete(f.records, in.Rkey)
		f.mu.Unlock()
		if !held {
			platformtest.WriteJSON(w, 200, map[string]any{})
			return
		}
		platformtest.WriteJSON(w, 200, map[string]any{"commit": map[string]string{"cid": "bafycommit", "rev": "3lrev"}})
	}))
	f.Handle("GET /img/{name}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		fmt.Fprintf(w, "jpeg:%s", r.PathValue("name"))
	})
	return f
}

// URI is the at:// URI of the post with record key rkey.
func (f *Fake) URI(rkey string) string { return "at://" + f.DID + "/app.bsky.feed.post/" + rkey }

// store keeps a record unless its key is taken.
func (f *Fake) store(rkey string, rec map[string]any) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, taken := f.records[rkey]; taken {
		return false
	}
	f.records[rkey] = rec
	return true
}

// Holds reports whether the repository has the record.
func (f *Fake) Holds(rkey string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.records[rkey]
	return ok
}

// ExpireSessions makes every access token expire.
func (f *Fake) ExpireSessions() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.valid = map[string]bool{}
}

// Count returns how many sessions were made and how many records the repository holds.
func (f *Fake) Count() (sessions, records int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sessions, len(f.records)
}
