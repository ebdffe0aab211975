package oauth

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
)

// useRecorder writes a grant's status.lastUsedAt at most once a minute.
type useRecorder struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func newUseRecorder() *useRecorder { return &useRecorder{last: map[string]time.Time{}} }

func (s *Server) recordUse(g *v1alpha1.MCPGrant) {
	now := s.clock.Now()
	s.lastUse.mu.Lock()
	due := now.Sub(s.lastUse.last[g.Name]) >= time.Minute
	if due {
		s.lastUse.last[g.Name] = now
	}
	s.lastUse.mu.Unlock()
	if !due || (g.Status.LastUsedAt != nil && now.Sub(g.Status.LastUsedAt.Time) < time.Minute) {
		return
	}
	patched := g.DeepCopy()
	t := metav1.NewTime(now)
	patched.Status.LastUsedAt = &t
	go func() { // off the request path: a slow API server must not slow tool calls
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.c.Status().Patch(ctx, patched, client.MergeFrom(g)); client.IgnoreNotFound(err) != nil {
			log.Error(err, "recording grant use failed", "grant", g.Name)
		}
	}()
}
