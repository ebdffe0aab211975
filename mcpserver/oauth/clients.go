package oauth

import (
	"context"
	"fmt"
	"k8s.io/utils/clock"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/ory/fosite"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
)

// mcpClient adapts an MCPClient object to fosite.Client.
type mcpClient struct {
	obj          *v1alpha1.MCPClient
	hashedSecret []byte
	audience     string
	// portOf is the redirect URI of the authorization request being
	// served when it differs from a registered localhost URI only in its
	// port (see withRequestedRedirect).
	portOf string
}

// GetRedirectURIs are the registered URIs, plus the one requested when it
// is a localhost URI matching a registered one on another port: RFC 8252
// lets a native app listen on any loopback port, and fosite allows that
// for the IP literals only, while clients register http://localhost/….
func (m *mcpClient) GetRedirectURIs() []string {
	if m.portOf == "" {
		return m.obj.Spec.RedirectURIs
	}
	return append(slices.Clip(m.obj.Spec.RedirectURIs), m.portOf)
}

type requestedRedirectKey struct{}

// withRequestedRedirect tells the directory which redirect URI the
// authorization request asks for, so the client it loads can accept a
// localhost URI on any port.
func withRequestedRedirect(ctx context.Context, uri string) context.Context {
	return context.WithValue(ctx, requestedRedirectKey{}, uri)
}

// localhostOnAnyPort returns requested when it is http://localhost:<port>
// with the path and query of a registered http://localhost URI.
func localhostOnAnyPort(requested string, registered []string) string {
	r, err := url.Parse(requested)
	if err != nil || r.Scheme != "http" || r.Hostname() != "localhost" || r.User != nil || r.Fragment != "" {
		return ""
	}
	for _, reg := range registered {
		u, err := url.Parse(reg)
		if err == nil && u.Scheme == "http" && u.Hostname() == "localhost" && u.Path == r.Path && u.RawQuery == r.RawQuery {
			return requested
		}
	}
	return ""
}

var _ fosite.Client = (*mcpClient)(nil)

func (m *mcpClient) GetID() string                      { return m.obj.ClientID() }
func (m *mcpClient) GetHashedSecret() []byte            { return m.hashedSecret }
func (m *mcpClient) GetResponseTypes() fosite.Arguments { return fosite.Arguments{"code"} }
func (m *mcpClient) GetAudience() fosite.Arguments      { return fosite.Arguments{m.audience} }
func (m *mcpClient) IsPublic() bool {
	return m.obj.Spec.TokenEndpointAuthMethod == "" || m.obj.Spec.TokenEndpointAuthMethod == "none"
}

func (m *mcpClient) GetGrantTypes() fosite.Arguments {
	if len(m.obj.Spec.GrantTypes) == 0 {
		return fosite.Arguments{"authorization_code", "refresh_token"}
	}
	return m.obj.Spec.GrantTypes
}

func (m *mcpClient) GetScopes() fosite.Arguments {
	scopes := m.obj.Spec.Scopes
	if len(scopes) == 0 {
		scopes = AllScopes
	}
	out := make(fosite.Arguments, 0, len(scopes)+len(toleratedScopes))
	for _, s := range scopes {
		out = append(out, string(s))
	}
	return append(out, toleratedScopes...)
}

// toleratedScopes are accepted in a request but never granted: some clients
// ask for offline access out of habit, and refusing the whole request for it
// would lock them out. Every client gets refresh tokens anyway.
var toleratedScopes = []string{"offline_access", "offline"}

// clientDirectory finds the client behind a client_id: an MCPClient by
// name, or, for an id that is a URL, the client ID metadata document it
// names together with the MCPClient that records the client's approvals.
type clientDirectory struct {
	c        client.Client
	r        client.Reader
	unknown  *unknownClients
	docs     *metadataDocuments
	ns       string
	audience string
}

var errClientNotFound = fosite.ErrNotFound.WithHint("The client is not registered; register it again at /oauth/register.")

// get reads an MCPClient from the cache, falling back to the API server
// because a client registered a moment ago (possibly on another replica) may
// not be cached yet.
func (d *clientDirectory) get(ctx context.Context, id string) (*mcpClient, error) {
	if isMetadataURL(id) {
		return d.metadataClient(ctx, id)
	}
	obj, err := d.record(ctx, id)
	if err != nil {
		return nil, err
	}
	m := d.adapt(ctx, obj)
	if !m.IsPublic() && obj.Spec.ClientSecretRef != nil {
		ref := obj.Spec.ClientSecretRef
		key := ref.Key
		if key == "" {
			key = "clientSecret"
		}
		var sec corev1.Secret
		if err := d.r.Get(ctx, client.ObjectKey{Namespace: d.ns, Name: ref.Name}, &sec); err != nil {
			return nil, fmt.Errorf("oauth: client %s: reading its secret hash from Secret %s/%s: %w", id, d.ns, ref.Name, err)
		}
		m.hashedSecret = sec.Data[key]
	}
	return m, nil
}

// record reads the MCPClient named name, or errClientNotFound.
func (d *clientDirectory) record(ctx context.Context, name string) (*v1alpha1.MCPClient, error) {
	if name == "" || len(name) > 253 {
		return nil, errClientNotFound
	}
	obj := &v1alpha1.MCPClient{}
	err := d.c.Get(ctx, client.ObjectKey{Name: name}, obj)
	if apierrors.IsNotFound(err) {
		// The cache may lag a registration on another replica: ask the
		// API server, but only once in a while for an id it did not know,
		// so made-up ids cannot make every request a read of it.
		if d.unknown.recent(name) {
			return nil, errClientNotFound
		}
		if err = d.r.Get(ctx, client.ObjectKey{Name: name}, obj); apierrors.IsNotFound(err) {
			d.unknown.add(name)
		}
	}
	if apierrors.IsNotFound(err) || (err == nil && !obj.DeletionTimestamp.IsZero()) {
		return nil, errClientNotFound
	}
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// metadataClient is the client a metadata document describes. The
// document is the registration; the record, once a person approved the
// client, adds its status (and is what kubectl shows and deletes).
func (d *clientDirectory) metadataClient(ctx context.Context, id string) (*mcpClient, error) {
	spec, err := d.docs.get(ctx, id)
	if err != nil {
		return nil, fosite.ErrNotFound.WithHint(err.Error())
	}
	obj := &v1alpha1.MCPClient{Spec: *spec}
	obj.Name = metadataRecordName(id)
	var rec v1alpha1.MCPClient
	if err := d.c.Get(ctx, client.ObjectKey{Name: obj.Name}, &rec); err == nil && rec.DeletionTimestamp.IsZero() {
		obj.ObjectMeta, obj.Status = rec.ObjectMeta, rec.Status
	}
	return d.adapt(ctx, obj), nil
}

func (d *clientDirectory) adapt(ctx context.Context, obj *v1alpha1.MCPClient) *mcpClient {
	m := &mcpClient{obj: obj, audience: d.audience}
	if requested, ok := ctx.Value(requestedRedirectKey{}).(string); ok {
		m.portOf = localhostOnAnyPort(requested, obj.Spec.RedirectURIs)
	}
	return m
}

// unknownClients remembers for a few seconds the client ids the API server
// did not know. A client registered since is found in the cache as soon as
// the watch brings it, well within that time.
type unknownClients struct {
	mu    sync.Mutex
	clock clock.PassiveClock
	ids   map[string]time.Time
}

// unknownClientTTL is how long a miss is remembered.
const unknownClientTTL = 5 * time.Second

func newUnknownClients(c clock.PassiveClock) *unknownClients {
	return &unknownClients{clock: c, ids: map[string]time.Time{}}
}

func (u *unknownClients) recent(id string) bool {
	if u == nil {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	at, ok := u.ids[id]
	return ok && u.clock.Since(at) < unknownClientTTL
}

func (u *unknownClients) add(id string) {
	if u == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.ids) >= 10_000 { // a flood of made-up ids: start again rather than grow
		clear(u.ids)
	}
	u.ids[id] = u.clock.Now()
}
