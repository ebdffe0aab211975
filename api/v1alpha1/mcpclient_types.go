package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Scope is a permission an MCP client can be granted.
// +kubebuilder:validation:Enum="workspace:read";"brand_kits:write";"social_profiles:read";"social_profiles:write";"posts:read";"posts:write";"posts:publish";"posts:approve";"workflows:read";"workflows:run"
type Scope string

// The scopes Herald grants; each MCP tool requires one.
const (
	ScopeWorkspaceRead      Scope = "workspace:read"
	ScopeBrandKitsWrite     Scope = "brand_kits:write"
	ScopeSocialProfilesRead Scope = "social_profiles:read"
	// ScopeSocialProfilesWrite connects accounts: it lets a client hand
	// the person a connection link for the workspace.
	ScopeSocialProfilesWrite Scope = "social_profiles:write"
	ScopePostsRead           Scope = "posts:read"
	ScopePostsWrite          Scope = "posts:write"
	ScopePostsPublish        Scope = "posts:publish"
	ScopePostsApprove        Scope = "posts:approve"
	ScopeWorkflowsRead       Scope = "workflows:read"
	ScopeWorkflowsRun        Scope = "workflows:run"
)

// TokenEndpointAuthMethod is how a client authenticates at the token endpoint.
// +kubebuilder:validation:Enum=none;client_secret_basic;client_secret_post
type TokenEndpointAuthMethod string

// SecretKeyReference names one key of a Secret in the operator's namespace.
type SecretKeyReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key in the Secret. Defaults to clientSecret.
	// +optional
	// +kubebuilder:default=clientSecret
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// MCPClientSpec is an OAuth client's registration (RFC 7591 metadata).
// +kubebuilder:validation:XValidation:rule="self.tokenEndpointAuthMethod == 'none' || has(self.clientSecretRef)",message="clientSecretRef is required unless tokenEndpointAuthMethod is none"
type MCPClientSpec struct {
	// clientName is the name shown on the consent page, such as "Claude Code".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	ClientName string `json:"clientName"`

	// redirectURIs the authorization server may send codes to. Matched exactly,
	// except that loopback IP literals (http://127.0.0.1, http://[::1]) match any
	// port, as RFC 8252 asks.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=2048
	RedirectURIs []string `json:"redirectURIs"`

	// tokenEndpointAuthMethod is none for public clients (PKCE only), or
	// client_secret_basic / client_secret_post for confidential ones.
	// +optional
	// +kubebuilder:default=none
	TokenEndpointAuthMethod TokenEndpointAuthMethod `json:"tokenEndpointAuthMethod,omitempty"`

	// clientSecretRef names the Secret key, in the operator's namespace, holding
	// the bcrypt hash of a confidential client's secret.
	// +optional
	ClientSecretRef *SecretKeyReference `json:"clientSecretRef,omitempty"`

	// grantTypes the client may use. Defaults to authorization_code and refresh_token.
	// +optional
	// +kubebuilder:validation:MaxItems=2
	// +kubebuilder:validation:items:Enum=authorization_code;refresh_token
	GrantTypes []string `json:"grantTypes,omitempty"`

	// scopes the client may request, each at most once; empty means every
	// scope.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	Scopes []Scope `json:"scopes,omitempty"`

	// clientURI is the client's home page.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	ClientURI string `json:"clientURI,omitempty"`

	// logoURI is the client's logo.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	LogoURI string `json:"logoURI,omitempty"`

	// softwareID and softwareVersion identify the client software.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	SoftwareID string `json:"softwareID,omitempty"`

	// softwareVersion of the client software.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	SoftwareVersion string `json:"softwareVersion,omitempty"`

	// dynamic is true for clients that registered themselves at /oauth/register;
	// those never used for an authorization within an hour are removed.
	// +optional
	Dynamic bool `json:"dynamic,omitempty"`

	// metadataDocumentURL is set on the record of a client that identifies
	// itself by a client ID metadata document: this URL is its client_id.
	// Herald writes the record when a person first approves the client and
	// keeps its name and redirect URIs as the document last said; the
	// document itself, fetched again as its cache headers allow, is what
	// Herald trusts. Deleting the record revokes every grant the client holds.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') || self.startsWith('http://')",message="metadataDocumentURL must be an https URL (http only for loopback in development)"
	MetadataDocumentURL string `json:"metadataDocumentURL,omitempty"`
}

// ClientID is the client_id the client presents: its metadata document's
// URL for a client identified by one, otherwise the object's name.
func (c *MCPClient) ClientID() string {
	if c.Spec.MetadataDocumentURL != "" {
		return c.Spec.MetadataDocumentURL
	}
	return c.Name
}

// MCPClientStatus records how a client has been used.
type MCPClientStatus struct {
	// observedGeneration is not set: nothing reconciles a client.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// lastAuthorizedAt is when a person last approved this client.
	// +optional
	LastAuthorizedAt *metav1.Time `json:"lastAuthorizedAt,omitempty"`

	// conditions are not set: the authorization server checks a
	// registration when the client uses it.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// MCPClient is an OAuth client allowed to ask for access: registered
// dynamically by an MCP client, committed to Git, or recorded when a person
// first approved a client identified by a metadata document. Its name is the
// client_id, except for the last kind, whose client_id is
// spec.metadataDocumentURL. It is a record the authorization server reads,
// with no reconciler: health checks (kstatus) read it Current as soon as it
// exists, and the API server refuses a spec that cannot work.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=mcpc,categories=herald
// +kubebuilder:printcolumn:name="Client Name",type=string,JSONPath=`.spec.clientName`
// +kubebuilder:printcolumn:name="Dynamic",type=boolean,JSONPath=`.spec.dynamic`
// +kubebuilder:printcolumn:name="Metadata Document",type=string,JSONPath=`.spec.metadataDocumentURL`
// +kubebuilder:printcolumn:name="Last Authorized",type=date,JSONPath=`.status.lastAuthorizedAt`
// +kubebuilder:printcolumn:name="Redirect URIs",type=string,JSONPath=`.spec.redirectURIs`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MCPClient struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the client's registration.
	// +required
	Spec MCPClientSpec `json:"spec"`

	// status records how the client has been used.
	// +optional
	Status MCPClientStatus `json:"status,omitempty"`
}

// MCPClientList is a list of MCPClients.
// +kubebuilder:object:root=true
type MCPClientList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MCPClient `json:"items"`
}
