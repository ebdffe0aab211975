package mcpserver

// What the tools read and write, in the workspaces' namespaces; make
// manifests turns these into the install's ClusterRole, and test/e2e's
// TestAsDeployed calls every tool as Herald's service account.

// +kubebuilder:rbac:groups=social.herald.dev,resources=workspaces;socialprofiles,verbs=get;list;watch
// The tools change objects with patches (Server.update); the approval
// page updates posts.
//
// +kubebuilder:rbac:groups=social.herald.dev,resources=scheduledposts,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=social.herald.dev,resources=recurringposts,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=social.herald.dev,resources=brandkits,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=social.herald.dev,resources=workflows,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=social.herald.dev,resources=workflowruns,verbs=get;list;watch;create
