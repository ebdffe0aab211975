package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// WorkspaceSecretsBinding is the RoleBinding each Workspace's namespace
// gets, letting Herald read the Secrets there (and nowhere else).
const WorkspaceSecretsBinding = "herald-workspace-secrets"

// Reasons for a namespace a Workspace may not use.
const ReasonNamespaceNotAllowed = "NamespaceNotAllowed"

// SecretsAccess says how Herald gets to read a workspace's Secrets: a
// RoleBinding, in the workspace's namespace, of ClusterRole to Herald's
// service account. The zero value creates none (Herald already reads
// every Secret, as the embedded control plane's administrator does).
type SecretsAccess struct {
	// ClusterRole grants get on Secrets; the install names it
	// herald-workspace-secrets.
	ClusterRole string
	// ServiceAccount and Namespace name Herald's service account.
	ServiceAccount, Namespace string
}

func (a SecretsAccess) enabled() bool { return a.ClusterRole != "" && a.ServiceAccount != "" }

// namespaceAllowed says why a workspace may not use ns: the cluster's own
// namespaces, and Herald's (whose Secrets hold its users and keys), are
// never a tenant's.
func (r *WorkspaceReconciler) namespaceAllowed(ns string) string {
	if strings.HasPrefix(ns, "kube-") {
		return fmt.Sprintf("namespace %s is one the cluster keeps for itself; choose another spec.namespace", ns)
	}
	if slices.Contains(r.ReservedNamespaces, ns) {
		return fmt.Sprintf("namespace %s is Herald's own, whose Secrets hold its users and signing keys; choose another spec.namespace", ns)
	}
	return ""
}

// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=bind,resourceNames=herald-workspace-secrets

// reconcileSecretsAccess makes the RoleBinding that lets Herald read the
// workspace's Secrets.
func (r *WorkspaceReconciler) reconcileSecretsAccess(ctx context.Context, ws *socialv1alpha1.Workspace, ns string) error {
	if !r.SecretsAccess.enabled() {
		return nil
	}
	want := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: WorkspaceSecretsBinding, Labels: map[string]string{socialv1alpha1.LabelWorkspace: ws.Name}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: r.SecretsAccess.ClusterRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: r.SecretsAccess.ServiceAccount, Namespace: r.SecretsAccess.Namespace}},
	}
	have := &rbacv1.RoleBinding{}
	err := r.Get(ctx, client.ObjectKeyFromObject(want), have)
	switch {
	case apierrors.IsNotFound(err):
		return r.Create(ctx, want)
	case err != nil:
		return err
	case have.RoleRef != want.RoleRef:
		// roleRef cannot change: replace the binding.
		if err := r.Delete(ctx, have); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		return r.Create(ctx, want)
	case !slices.Equal(have.Subjects, want.Subjects) || have.Labels[socialv1alpha1.LabelWorkspace] != ws.Name:
		have.Subjects, have.Labels = want.Subjects, want.Labels
		return r.Update(ctx, have)
	}
	return nil
}

// removeSecretsAccess deletes the RoleBinding from a namespace the
// workspace leaves behind.
func (r *WorkspaceReconciler) removeSecretsAccess(ctx context.Context, ns *corev1.Namespace) error {
	if !r.SecretsAccess.enabled() {
		return nil
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: WorkspaceSecretsBinding}}
	return client.IgnoreNotFound(r.Delete(ctx, rb))
}
