package oauth

// What the authorization server needs from the API server. controller-gen
// reads these markers (make manifests).
//
// Secrets (users, signing keys, codes, PKCE sessions, refresh tokens, client
// secret hashes) live only in the operator's namespace: the namespaced marker
// generates a Role there, so the manager never gets write access to Secrets
// cluster-wide. The connection pages write a profile's credentials in its
// workspace's namespace through the RoleBinding each workspace grants
// (config/rbac/workspace_secrets_role.yaml).
//
// +kubebuilder:rbac:groups=social.herald.dev,resources=mcpclients,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=social.herald.dev,resources=mcpclients/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=social.herald.dev,resources=mcpgrants,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups=social.herald.dev,resources=mcpgrants/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=social.herald.dev,resources=workspaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=social.herald.dev,resources=socialprofiles,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups="",namespace=system,resources=secrets,verbs=get;list;create;update;delete;deletecollection
