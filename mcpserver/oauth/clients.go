package oauth

import (
	"context"
	"fmt"
	"k8s.io/utils/clock"
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
}

var _ fosite.Client = (*mcpClient)(nil)

func (m *mcpClient) GetID() string                      { return m.obj.Name }
func (m *mcpClient) GetHashedSecret() []byte            { return m.hashedSecret }
func (m *mcpClient) GetRedirectURIs() []string          { return m.obj.Spec.RedirectURIs }
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

// getClient reads an MCPClient from the cache, falling back to the API server
// because a client registered a moment ago (possibly on another replica) may
// not be cached yet.
func getClient(ctx context.Context, c client.Client, r client.Reader, unknown *unknownClients, ns, audience, id string) (*mcpClient, error) {
	notFound := fosite.ErrNotFound.WithHint("The client is not registered; register it again at /oauth/register.")
	if id == "" || len(id) > 253 {
		return nil, notFound
	}
	obj := &v1alpha1.MCPClient{}
	err := c.Get(ctx, client.ObjectKey{Name: id}, obj)
	if apierrors.IsNotFound(err) {
		// The cache may lag a registration on another replica: ask the
		// API server, but only once in a while for an id it did not know,
		// so made-up ids cannot make every request a read of it.
		if unknown.recent(id) {
			return nil, notFound
		}
		if err = r.Get(ctx, client.ObjectKey{Name: id}, obj); apierrors.IsNotFound(err) {
			unknown.add(id)
		}
	}
	if apierrors.IsNotFound(err) || (err == nil && !obj.DeletionTimestamp.IsZero()) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	m := &mcpClient{obj: obj, audience: audience}
	if !m.IsPublic() && obj.Spec.ClientSecretRef != nil {
		ref := obj.Spec.ClientSecretRef
		key := ref.Key
		if key == "" {
			key = "clientSecret"
		}
		var sec corev1.Secret
		if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, &sec); err != nil {
			return nil, fmt.Errorf("oauth: client %s: reading its secret hash from Secret %s/%s: %w", id, ns, ref.Name, err)
		}
		m.hashedSecret = sec.Data[key]
	}
	return m, nil
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
