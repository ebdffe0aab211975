package oauth

import (
	"context"
	"fmt"

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
func getClient(ctx context.Context, c client.Client, r client.Reader, ns, audience, id string) (*mcpClient, error) {
	if id == "" {
		return nil, fosite.ErrNotFound
	}
	obj := &v1alpha1.MCPClient{}
	err := c.Get(ctx, client.ObjectKey{Name: id}, obj)
	if apierrors.IsNotFound(err) {
		err = r.Get(ctx, client.ObjectKey{Name: id}, obj)
	}
	if apierrors.IsNotFound(err) || (err == nil && !obj.DeletionTimestamp.IsZero()) {
		return nil, fosite.ErrNotFound.WithHint("The client is not registered; register it again at /oauth/register.")
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
