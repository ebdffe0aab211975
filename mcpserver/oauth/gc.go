package oauth

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
)

// sweepInterval is how often expired state and unused clients are removed.
const sweepInterval = time.Minute

// Start runs clean-up until ctx ends; it is a manager.Runnable.
func (s *Server) Start(ctx context.Context) error {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		end := s.cfg.InFlight.Begin("OAuth clean-up sweep")
		err := s.Sweep(ctx)
		end()
		if err != nil {
			log.Error(err, "oauth clean-up failed; retrying at the next interval")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// NeedLeaderElection: one replica sweeping is enough.
func (s *Server) NeedLeaderElection() bool { return true }

// orphanGrace protects state created for a grant a moment before the grant
// reaches the list Sweep reads.
const orphanGrace = time.Minute

// Sweep deletes expired codes, PKCE sessions and refresh tokens, those of
// deleted or revoked grants, the grants of deleted clients, and dynamic
// clients never approved within UnusedClientTTL that no grant refers to.
func (s *Server) Sweep(ctx context.Context) error {
	now := s.clock.Now()
	s.tokens.sweep(now)
	s.limiter.sweep()
	s.registrations.sweep()

	var grants v1alpha1.MCPGrantList
	if err := s.apiReader.List(ctx, &grants); err != nil {
		return err
	}
	used, live := map[string]bool{}, map[string]bool{}
	for _, g := range grants.Items {
		used[g.Spec.ClientID] = true
		live[g.Name] = !g.Spec.Revoked
	}

	var secrets corev1.SecretList
	if err := s.apiReader.List(ctx, &secrets, client.InNamespace(s.cfg.Namespace), client.HasLabels{labelKind}, client.MatchingLabels{labelManagedBy: managedByValue}); err != nil {
		return err
	}
	for i := range secrets.Items {
		sec := &secrets.Items[i]
		exp, err := time.Parse(time.RFC3339, sec.Annotations[annoExpiresAt])
		expired := err == nil && now.After(exp)
		orphaned := sec.Labels[labelGrant] != "" && !live[sec.Labels[labelGrant]] && now.Sub(sec.CreationTimestamp.Time) > orphanGrace
		if expired || orphaned {
			if err := client.IgnoreNotFound(s.c.Delete(ctx, sec, client.Preconditions{UID: &sec.UID})); err != nil {
				return err
			}
		}
	}

	var clients v1alpha1.MCPClientList
	if err := s.apiReader.List(ctx, &clients); err != nil {
		return err
	}
	// A deleted client takes its grants with it, and so the tokens they carry.
	registered := map[string]bool{}
	for i := range clients.Items {
		registered[clients.Items[i].ClientID()] = clients.Items[i].DeletionTimestamp.IsZero()
	}
	for i := range grants.Items {
		g := &grants.Items[i]
		if !registered[g.Spec.ClientID] && now.Sub(g.CreationTimestamp.Time) > orphanGrace {
			if err := client.IgnoreNotFound(s.c.Delete(ctx, g, client.Preconditions{UID: &g.UID})); err != nil {
				return err
			}
			log.Info("grant removed with its client", "grant", g.Name, "client", g.Spec.ClientID)
		}
	}
	for i := range clients.Items {
		c := &clients.Items[i]
		if !c.Spec.Dynamic || c.Status.LastAuthorizedAt != nil || used[c.ClientID()] || now.Sub(c.CreationTimestamp.Time) < UnusedClientTTL {
			continue
		}
		if err := client.IgnoreNotFound(s.c.Delete(ctx, c, client.Preconditions{UID: &c.UID})); err != nil {
			return err
		}
		log.Info("unused dynamic client removed", "client", c.Name, "name", c.Spec.ClientName)
	}
	return nil
}
