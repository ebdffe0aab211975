package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"k8s.io/utils/clock"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/egress"
)

// Bounds on client ID metadata documents. A document is a few hundred bytes
// of JSON; some vendors' run to a few KiB, so the cap leaves room.
const (
	maxMetadataDocument    = 64 << 10
	metadataFetchTimeout   = 5 * time.Second
	metadataDefaultTTL     = 5 * time.Minute
	metadataMinTTL         = time.Minute
	metadataMaxTTL         = 24 * time.Hour
	metadataFailureTTL     = 10 * time.Second
	maxCachedMetadataDocs  = 1000
	metadataRecordPrefix   = "cimd-"
	metadataRecordHashSize = 20
)

// isMetadataURL reports whether a client_id names a client ID metadata
// document rather than a registered client: registered ids are object
// names, which never contain "://".
func isMetadataURL(id string) bool { return strings.Contains(id, "://") }

// metadataRecordName is the MCPClient that records a metadata-document
// client: object names cannot hold a URL, so the name is derived from it.
func metadataRecordName(clientID string) string {
	sum := sha256.Sum256([]byte(clientID))
	return metadataRecordPrefix + hex.EncodeToString(sum[:metadataRecordHashSize])
}

// metadataDocuments fetches client ID metadata documents, validates them
// and caches the result as their HTTP cache headers say, within bounds.
type metadataDocuments struct {
	client  *http.Client
	clock   clock.PassiveClock
	devMode bool

	mu      sync.Mutex
	entries map[string]metadataEntry
	fetches singleflight.Group
}

type metadataEntry struct {
	spec  *v1alpha1.MCPClientSpec
	err   error
	until time.Time
}

// errMetadata is a document Herald cannot use; its text tells the client's
// developer what to fix.
type errMetadata struct{ msg string }

func (e *errMetadata) Error() string { return e.msg }

func metadataErrorf(format string, args ...any) error {
	return &errMetadata{msg: fmt.Sprintf(format, args...)}
}

func newMetadataDocuments(c *http.Client, clk clock.PassiveClock, devMode bool) *metadataDocuments {
	if c == nil {
		c = &http.Client{}
	}
	// A copy, so that refusing redirects here changes nobody else's client:
	// a document that moved could move to anything, and the URL is the
	// client's identity.
	own := *c
	own.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	own.Timeout = metadataFetchTimeout
	return &metadataDocuments{client: &own, clock: clk, devMode: devMode, entries: map[string]metadataEntry{}}
}

// checkURL applies the rules for a client identifier URL: https (plain
// http only for loopback in development), a path, no fragment, no
// credentials, no dot segments.
func (m *metadataDocuments) checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return metadataErrorf("client_id %q is not an absolute URL; a client identified by a metadata document uses the document's https URL as its client_id", raw)
	}
	switch {
	case u.Scheme == "http" && m.devMode && isLoopbackHost(u.Hostname()):
	case u.Scheme != "https":
		return metadataErrorf("client_id %q is not an https URL; a client ID metadata document must be served over https", raw)
	}
	if u.User != nil {
		return metadataErrorf("client_id %q carries a user name or password; remove them", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return metadataErrorf("client_id %q has a fragment; remove the #… part", raw)
	}
	if u.Path == "" || u.Path == "/" {
		return metadataErrorf("client_id %q has no path; the document's URL must name a path such as /oauth/client-metadata.json", raw)
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return metadataErrorf("client_id %q has a . or .. path segment; use the document's normalised URL", raw)
		}
	}
	if len(raw) > 2048 {
		return metadataErrorf("client_id is longer than 2048 characters")
	}
	return nil
}

// get returns the client the document at id describes, fetching it when
// the cached copy is stale. Concurrent requests for one document share a
// fetch; failures are remembered briefly so that a broken document cannot
// make every request a fetch.
func (m *metadataDocuments) get(ctx context.Context, id string) (*v1alpha1.MCPClientSpec, error) {
	if err := m.checkURL(id); err != nil {
		return nil, err
	}
	now := m.clock.Now()
	m.mu.Lock()
	e, ok := m.entries[id]
	m.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.spec, e.err
	}
	v, _, _ := m.fetches.Do(id, func() (any, error) {
		spec, ttl, err := m.fetch(ctx, id)
		if err != nil {
			ttl = metadataFailureTTL
		}
		m.remember(id, metadataEntry{spec: spec, err: err, until: m.clock.Now().Add(ttl)})
		return metadataEntry{spec: spec, err: err}, nil
	})
	e = v.(metadataEntry)
	return e.spec, e.err
}

func (m *metadataDocuments) remember(id string, e metadataEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.entries) >= maxCachedMetadataDocs {
		now := m.clock.Now()
		for k, old := range m.entries {
			if !now.Before(old.until) {
				delete(m.entries, k)
			}
		}
		if len(m.entries) >= maxCachedMetadataDocs { // all fresh: a flood of ids; start again rather than grow
			clear(m.entries)
		}
	}
	m.entries[id] = e
}

// forget drops a document from the cache, so the next use fetches it.
func (m *metadataDocuments) forget(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, id)
}

func (m *metadataDocuments) fetch(ctx context.Context, id string) (*v1alpha1.MCPClientSpec, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), metadataFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, id, nil)
	if err != nil {
		return nil, 0, metadataErrorf("client_id %q cannot be fetched: %v", id, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := m.client.Do(req)
	if err != nil {
		// The URL's owner may be probing what Herald can reach: say that
		// it failed, and no more than the guarded client's own words.
		return nil, 0, metadataErrorf("the client's metadata document at %s could not be fetched: %s", id, egress.Describe(err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, 0, metadataErrorf("the client's metadata document at %s answered with a redirect (%d); Herald does not follow it, because the URL is the client's identity: serve the document at that URL itself", id, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return nil, 0, metadataErrorf("the client's metadata document at %s answered HTTP %d; it must answer 200 with the JSON document", id, resp.StatusCode)
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "" && ct != "application/json" && !strings.HasSuffix(ct, "+json") {
		return nil, 0, metadataErrorf("the client's metadata document at %s has Content-Type %s; it must be application/json", id, ct)
	}
	if resp.ContentLength > maxMetadataDocument {
		return nil, 0, metadataErrorf("the client's metadata document at %s is %d bytes, more than the %d Herald reads", id, resp.ContentLength, maxMetadataDocument)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataDocument+1))
	if err != nil {
		return nil, 0, metadataErrorf("the client's metadata document at %s could not be read: %s", id, egress.Describe(err))
	}
	if len(body) > maxMetadataDocument {
		return nil, 0, metadataErrorf("the client's metadata document at %s is more than the %d bytes Herald reads", id, maxMetadataDocument)
	}
	spec, err := m.parse(id, body)
	if err != nil {
		return nil, 0, err
	}
	return spec, cacheLifetime(resp.Header), nil
}

// metadataDocument is what Herald reads of a client ID metadata document:
// RFC 7591 client metadata plus the client_id.
type metadataDocument struct {
	ClientID string `json:"client_id"`
	registrationRequest
}

// parse validates a document the way a registration is validated, plus
// the rules of metadata documents: its client_id is the URL it was
// fetched from, exactly, it has a client_name, and it authenticates with
// PKCE alone.
func (m *metadataDocuments) parse(id string, body []byte) (*v1alpha1.MCPClientSpec, error) {
	var doc metadataDocument
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, metadataErrorf("the client's metadata document at %s is not a JSON object of client metadata: %v", id, err)
	}
	if doc.ClientID != id {
		return nil, metadataErrorf("the client's metadata document at %s names client_id %q; it must name its own URL, exactly", id, truncate(doc.ClientID, 200))
	}
	// A registration may leave its name out; MCP's authorization spec
	// requires a document to carry one, and the consent page names the
	// client by it.
	if strings.TrimSpace(doc.ClientName) == "" {
		return nil, metadataErrorf("the client's metadata document at %s has no client_name; it must name the client, as the consent page shows it", id)
	}
	if doc.TokenEndpointAuthMethod != "" && doc.TokenEndpointAuthMethod != "none" {
		return nil, metadataErrorf("the client's metadata document at %s asks for token_endpoint_auth_method %q; Herald accepts metadata-document clients as public clients (none, with PKCE)", id, doc.TokenEndpointAuthMethod)
	}
	// A document is written for every server the client talks to, so its
	// scope names are not Herald's: the consent page and the person's
	// role decide what is granted.
	doc.Scope = ""
	spec, code, msg := registrationSpec(&doc.registrationRequest)
	if code != "" {
		return nil, metadataErrorf("the client's metadata document at %s: %s", id, msg)
	}
	spec.Dynamic = false
	spec.MetadataDocumentURL = id
	return spec, nil
}

// cacheLifetime is how long a document may be used without fetching it
// again: its max-age, or an Expires header, bounded; no-store and no-cache
// mean the least.
func cacheLifetime(h http.Header) time.Duration {
	ttl := metadataDefaultTTL
	found := false
	for _, d := range strings.Split(h.Get("Cache-Control"), ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "no-store" || d == "no-cache":
			return metadataMinTTL
		case strings.HasPrefix(d, "max-age="):
			if n, err := strconv.Atoi(strings.TrimPrefix(d, "max-age=")); err == nil {
				ttl, found = time.Duration(n)*time.Second, true
			}
		}
	}
	if !found {
		if exp, err := http.ParseTime(h.Get("Expires")); err == nil {
			if date, err := http.ParseTime(h.Get("Date")); err == nil {
				ttl = exp.Sub(date)
			}
		}
	}
	return min(max(ttl, metadataMinTTL), metadataMaxTTL)
}
