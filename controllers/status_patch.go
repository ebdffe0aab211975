package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// patchStatus writes obj's status as a merge patch from base, and sends
// nothing when nothing changed: every reconcile ends in it, and a start-up
// reconciles every object, so an install of many workspaces would otherwise
// send as many empty patches each time it starts.
func patchStatus(ctx context.Context, c client.Client, obj, base client.Object) error {
	data, err := client.MergeFrom(base).Data(obj)
	if err != nil {
		return err
	}
	if string(data) == "{}" {
		return nil
	}
	return c.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, data))
}
