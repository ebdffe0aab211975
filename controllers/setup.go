// Package controllers holds one reconciler per Herald kind.
package controllers

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
)

// Options tune every reconciler.
type Options struct {
	// MaxConcurrentReconciles is how many objects of one kind are reconciled at once.
	MaxConcurrentReconciles int
}

// Setup registers every reconciler with the manager.
func Setup(mgr ctrl.Manager, o Options) error {
	if err := (&WorkspaceReconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("herald-workspace"),
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the Workspace reconciler: %w", err)
	}
	return nil
}
