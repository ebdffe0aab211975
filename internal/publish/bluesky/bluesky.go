// Package bluesky publishes posts to Bluesky (or any atproto PDS) through
// XRPC: a session from com.atproto.server.createSession (identifier and app
// password), images through com.atproto.repo.uploadBlob, and the post
// through com.atproto.repo.createRecord with a record key derived from the
// idempotency key, with link, mention and hashtag facets.
//
// A PDS answers a second createRecord with the same key with HTTP 500, not
// 409 (measured against the reference PDS), so after any failed or
// interrupted createRecord the adapter asks com.atproto.repo.getRecord
// whether the record exists, and reports it published when it does.
//
// Delete removes the post's record with com.atproto.repo.deleteRecord,
// which succeeds as well for a record that is already gone.
package bluesky

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// Info declares Bluesky.
var Info = publish.Info{
	Platform: "bluesky",
	// Bluesky video goes through a separate video service Herald does not use.
	Rules: rules.Rules{Name: "Bluesky", Limit: 300, Unit: "graphemes", MaxBytes: 3000, Counter: rules.Graphemes,
		Media: rules.MediaLimits{Max: 4, Images: 4, ImageBytes: 1 * rules.MB}},
	CredentialKeys: []string{"identifier", "appPassword"},
	Endpoint:       "the PDS URL; https://bsky.social when unset",
	// The record key comes from the attempt: a repeat is refused by the
	// PDS, and getRecord then finds the first record.
	Resend:             publish.Resend{By: "the record key, derived from the attempt, and a getRecord check"},
	PostsPerHour:       1666,
	PostsPerHourSource: "5,000 write points per hour, 3 per record",
	Deletes:            true,
}

// Info declares the platform.
func (p *Publisher) Info() publish.Info { return Info }

// DefaultPLC is the public did:plc directory.
const DefaultPLC = "https://plc.directory"

// DefaultEndpoint is the PDS used when a profile names none.
const DefaultEndpoint = "https://bsky.social"

const collection = "app.bsky.feed.post"

// Publisher posts to Bluesky. It keeps one session per account (the PDS
// limits how often sessions may be created) and makes a new one when the
// PDS says it expired.
type Publisher struct {
	// Client sends every request, media downloads included; nil means
	// http.DefaultClient.
	Client *http.Client
	// Now is the clock for createdAt; nil means time.Now.
	Now func() time.Time
	// PLC is the did:plc directory that resolves an account's DID to the
	// document naming its PDS; empty means DefaultPLC.
	PLC string

	mu       sync.Mutex
	sessions map[string]session
}

// New returns a Bluesky publisher using client.
func New(client *http.Client) *Publisher { return &Publisher{Client: client} }

var _ publish.Deleter = (*Publisher)(nil)

type session struct {
	AccessJwt string `json:"accessJwt"`
	Handle    string `json:"handle"`
	DID       string `json:"did"`
	// DIDDoc is the account's DID document, which names its PDS; a PDS
	// may leave it out.
	DIDDoc *didDocument `json:"didDoc,omitempty"`
}

type didDocument struct {
	Service []struct {
		ID              string `json:"id"`
		Type            string `json:"type"`
		ServiceEndpoint string `json:"serviceEndpoint"`
	} `json:"service"`
}

// pds is the PDS the document names, or "".
func (d *didDocument) pds() string {
	if d == nil {
		return ""
	}
	for _, svc := range d.Service {
		if strings.HasSuffix(svc.ID, "#atproto_pds") && svc.Type == "AtprotoPersonalDataServer" {
			return strings.TrimRight(svc.ServiceEndpoint, "/")
		}
	}
	return ""
}

type conn struct {
	api    publish.API
	base   string
	key    string // session cache key
	login  map[string]string
	cached bool
	sess   session
}

// decodeError reads atproto's {"error", "message"}; expired or invalid
// tokens come as 400 but mean the session was refused.
func decodeError(_ int, body []byte) publish.Failure {
	var e struct{ Error string }
	_ = json.Unmarshal(body, &e)
	switch e.Error {
	case "ExpiredToken", "InvalidToken", "AuthMissing":
		return publish.Failure{Kind: publish.CredentialsRejected}
	}
	return publish.Failure{}
}

func (p *Publisher) connect(ctx context.Context, prof publish.Profile) (*conn, error) {
	identifier, err := prof.Credentials.Get("identifier")
	if err != nil {
		return nil, err
	}
	password, err := prof.Credentials.Get("appPassword")
	if err != nil {
		return nil, err
	}
	base := strings.TrimRight(prof.Endpoint, "/")
	if base == "" {
		base = DefaultEndpoint
	}
	sum := sha256.Sum256([]byte(base + "\x00" + identifier + "\x00" + password))
	c := &conn{
		api:  publish.API{Platform: Info.Platform, Client: p.Client, Secrets: prof.Credentials, Decode: decodeError},
		base: base + "/xrpc/", key: string(sum[:]),
		login: map[string]string{"identifier": identifier, "password": password},
	}
	p.mu.Lock()
	c.sess, c.cached = p.sessions[c.key]
	p.mu.Unlock()
	if c.cached {
		return c, nil
	}
	return c, p.createSession(ctx, c)
}

func (p *Publisher) createSession(ctx context.Context, c *conn) error {
	c.cached = false
	if _, err := c.api.Do(ctx, publish.Request{Op: "com.atproto.server.createSession", Method: http.MethodPost,
		URL: c.base + "com.atproto.server.createSession", JSON: c.login, Idempotent: true, Out: &c.sess}); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sessions == nil {
		p.sessions = map[string]session{}
	}
	p.sessions[c.key] = c.sess
	return nil
}

// call runs an authenticated XRPC call; when a cached session is refused,
// it logs in again and repeats the call once (a refused call did nothing).
func (p *Publisher) call(ctx context.Context, c *conn, r publish.Request) (*publish.Response, error) {
	return p.send(ctx, c, func(auth http.Header) (*publish.Response, error) {
		r.Header = auth
		return c.api.Do(ctx, r)
	})
}

// send runs do with the session's Authorization header, and once more
// with a new session when a cached one is refused.
func (p *Publisher) send(ctx context.Context, c *conn, do func(auth http.Header) (*publish.Response, error)) (*publish.Response, error) {
	auth := func() http.Header { return http.Header{"Authorization": {"Bearer " + c.sess.AccessJwt}} }
	res, err := do(auth())
	if c.cached && publish.KindOf(err) == publish.CredentialsRejected {
		if err := p.createSession(ctx, c); err != nil {
			return nil, err
		}
		res, err = do(auth())
	}
	return res, err
}

// Verify reads the session back (com.atproto.server.getSession), logging
// in with the app password unless a session for these exact credentials is
// cached and still accepted.
func (p *Publisher) Verify(ctx context.Context, prof publish.Profile) (publish.Account, error) {
	c, err := p.connect(ctx, prof)
	if err != nil {
		return publish.Account{}, err
	}
	var s session
	if _, err := p.call(ctx, c, publish.Request{Op: "com.atproto.server.getSession", Method: http.MethodGet,
		URL: c.base + "com.atproto.server.getSession", Out: &s}); err != nil {
		return publish.Account{}, err
	}
	acct := publish.Account{ID: s.DID, Handle: s.Handle, URL: "https://bsky.app/profile/" + s.Handle, CharacterLimit: Info.Rules.Limit}
	// The account's DID document says where its repository is: in
	// createSession's answer, or from the DID's directory.
	doc := c.sess.DIDDoc
	if doc == nil {
		doc = p.resolveDID(ctx, c, s.DID)
	}
	if pds := doc.pds(); pds != "" && pds+"/xrpc/" != c.base {
		acct.Endpoint = pds
	}
	return acct, nil
}

type recordRef struct {
	URI   string `json:"uri"`
	CID   string `json:"cid"`
	Value struct {
		CreatedAt time.Time `json:"createdAt"`
	} `json:"value"`
}

// Publish uploads the images, builds the facets and creates the record.
func (p *Publisher) Publish(ctx context.Context, prof publish.Profile, post publish.Post) (publish.Result, error) {
	c, err := p.connect(ctx, prof)
	if err != nil {
		return publish.Result{}, err
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	createdAt := now().UTC().Truncate(time.Millisecond)
	record := map[string]any{
		"$type":     collection,
		"text":      post.Text,
		"createdAt": createdAt.Format("2006-01-02T15:04:05.000Z"),
	}
	facets, err := p.facets(ctx, c, post.Text)
	if err != nil {
		return publish.Result{}, err
	}
	if len(facets) > 0 {
		record["facets"] = facets
	}
	if len(post.Media) > 0 {
		embed, err := p.images(ctx, c, post.Media)
		if err != nil {
			return publish.Result{}, err
		}
		record["embed"] = embed
	}
	create := map[string]any{"repo": c.sess.DID, "collection": collection, "record": record}
	rkey := RecordKey(post.IdempotencyKey)
	if rkey != "" {
		create["rkey"] = rkey
	}
	var ref recordRef
	_, err = p.call(ctx, c, publish.Request{Op: "com.atproto.repo.createRecord", Method: http.MethodPost,
		URL: c.base + "com.atproto.repo.createRecord", JSON: create, Out: &ref})
	if err != nil && rkey != "" && publish.KindOf(err) != publish.CredentialsRejected {
		// A repeated key answers 500; a timeout leaves the outcome open.
		// Either way the repository knows whether the record exists.
		existing, gerr := p.getRecord(ctx, c, rkey)
		if gerr != nil {
			return publish.Result{}, err
		}
		ref, createdAt, err = existing, existing.Value.CreatedAt.UTC(), nil
	}
	if err != nil {
		return publish.Result{}, err
	}
	return publish.Result{ExternalID: ref.URI, URL: postURL(c.sess.Handle, ref.URI), PublishedAt: createdAt}, nil
}

func (p *Publisher) getRecord(ctx context.Context, c *conn, rkey string) (recordRef, error) {
	var ref recordRef
	q := url.Values{"repo": {c.sess.DID}, "collection": {collection}, "rkey": {rkey}}
	_, err := c.api.Do(ctx, publish.Request{Op: "com.atproto.repo.getRecord", Method: http.MethodGet,
		URL: c.base + "com.atproto.repo.getRecord?" + q.Encode(), Out: &ref})
	if err == nil && ref.URI == "" {
		err = errors.New("getRecord answered without a uri")
	}
	return ref, err
}

func postURL(handle, uri string) string {
	return "https://bsky.app/profile/" + handle + "/post/" + uri[strings.LastIndex(uri, "/")+1:]
}

// images uploads each attachment as a blob and returns the
// app.bsky.embed.images embed. An unused blob is discarded by the PDS, so
// uploads count as idempotent.
func (p *Publisher) images(ctx context.Context, c *conn, media []publish.Media) (map[string]any, error) {
	var images []map[string]any
	for _, m := range media {
		blob, err := p.uploadBlob(ctx, c, m)
		if err != nil {
			return nil, err
		}
		images = append(images, map[string]any{"alt": m.AltText, "image": blob})
	}
	return map[string]any{"$type": "app.bsky.embed.images", "images": images}, nil
}

// uploadBlob streams one attachment from its host to the PDS, one at a
// time, so a post's media never sit in memory together.
func (p *Publisher) uploadBlob(ctx context.Context, c *conn, m publish.Media) (json.RawMessage, error) {
	var out struct {
		Blob json.RawMessage `json:"blob"`
	}
	// A body streamed once cannot be sent again: a retry with a new
	// session fetches the file again.
	_, err := p.send(ctx, c, func(auth http.Header) (*publish.Response, error) {
		file, err := c.api.FetchMedia(ctx, m, Info.Rules.Media.BytesFor(m.EffectiveType()))
		if err != nil {
			return nil, err
		}
		defer file.Close()
		return c.api.Do(ctx, publish.Request{Op: "com.atproto.repo.uploadBlob", Method: http.MethodPost, Header: auth,
			URL: c.base + "com.atproto.repo.uploadBlob", Upload: &publish.Upload{File: file}, Idempotent: true, Out: &out})
	})
	if err != nil {
		return nil, err
	}
	return out.Blob, nil
}

// tidAlphabet is base32-sortable, the encoding of atproto TIDs.
const tidAlphabet = "234567abcdefghijklmnopqrstuvwxyz"

// tidEpoch and tidSpan place derived keys' timestamps between 2023 and
// mid-2027, so they read as ordinary TIDs.
var tidEpoch = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()

const tidSpan = 1 << 47 // microseconds, about 4.5 years

// RecordKey derives the record key for an idempotency key: a valid TID (13
// base32-sortable characters: a microsecond timestamp and a 10-bit clock
// id) taken from the key's SHA-256, so the same key always names the same
// record. An empty key gives "" (the PDS then picks the key).
func RecordKey(idempotencyKey string) string {
	if idempotencyKey == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(idempotencyKey))
	h := binary.BigEndian.Uint64(sum[:8])
	micros := uint64(tidEpoch) + (h>>10)%tidSpan
	v := micros<<10 | h&0x3ff
	var b [13]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = tidAlphabet[v&31]
		v >>= 5
	}
	return string(b[:])
}

// recordID names one record; it is also the body of deleteRecord.
type recordID struct {
	Repo       string `json:"repo"`
	Collection string `json:"collection"`
	RKey       string `json:"rkey"`
}

// didSyntax and recordKeySyntax are atproto's (a record key may not be "."
// or ".." either).
var (
	didSyntax       = regexp.MustCompile(`^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$`)
	recordKeySyntax = regexp.MustCompile(`^[A-Za-z0-9._:~-]{1,512}$`)
)

// parsePostURI reads the at://<did>/app.bsky.feed.post/<rkey> URI that
// Publish returns.
func parsePostURI(uri string) (recordID, bool) {
	rest, ok := strings.CutPrefix(uri, "at://")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 {
		return recordID{}, false
	}
	id := recordID{Repo: parts[0], Collection: parts[1], RKey: parts[2]}
	return id, didSyntax.MatchString(id.Repo) && id.Collection == collection &&
		recordKeySyntax.MatchString(id.RKey) && id.RKey != "." && id.RKey != ".."
}

// Delete deletes the post's record from the profile's repository.
func (p *Publisher) Delete(ctx context.Context, prof publish.Profile, externalID string) error {
	if externalID == "" {
		return publish.Errorf(publish.Permanent, "bluesky: cannot delete a post without its at:// URI")
	}
	rec, ok := parsePostURI(externalID)
	if !ok {
		return publish.Errorf(publish.Permanent, "bluesky: cannot delete %q: it is not the at:// URI of a post (at://<did>/%s/<rkey>)", externalID, collection)
	}
	c, err := p.connect(ctx, prof)
	if err != nil {
		return err
	}
	if rec.Repo != c.sess.DID {
		// The PDS would refuse it as unauthorized, which would read as
		// rejected credentials.
		return publish.Errorf(publish.Permanent, "bluesky: cannot delete %s: it is in the repository of %s, not in that of this profile's account %s", externalID, rec.Repo, c.sess.DID)
	}
	// Idempotent: a repeated deletion finds the record gone and succeeds.
	_, err = p.call(ctx, c, publish.Request{Op: "com.atproto.repo.deleteRecord", Method: http.MethodPost,
		URL: c.base + "com.atproto.repo.deleteRecord", JSON: rec, Idempotent: true})
	return err
}

// resolveDID fetches a DID's document: did:plc from the PLC directory,
// did:web from the host's well-known path. Nil when it cannot: the PDS that
// answered is then the one Herald uses.
func (p *Publisher) resolveDID(ctx context.Context, c *conn, did string) *didDocument {
	var u string
	switch {
	case strings.HasPrefix(did, "did:plc:"):
		plc := strings.TrimRight(p.PLC, "/")
		if plc == "" {
			plc = DefaultPLC
		}
		u = plc + "/" + did
	case strings.HasPrefix(did, "did:web:"):
		u = "https://" + strings.TrimPrefix(did, "did:web:") + "/.well-known/did.json"
	default:
		return nil
	}
	var doc didDocument
	if _, err := c.api.Do(ctx, publish.Request{Op: "resolve DID", Method: http.MethodGet, URL: u, Idempotent: true, Out: &doc}); err != nil {
		return nil
	}
	return &doc
}
