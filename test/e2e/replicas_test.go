package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish/mastodon/mastodontest"
	"github.com/herald-dev/herald/internal/signin"
)

// service stands for the install's Service: one address, each request
// forwarded to the next replica whose readiness probe answers 200, as
// kube-proxy forwards to the ready endpoints.
type service struct {
	*httptest.Server
	mu       sync.Mutex
	replicas []*replica
	next     int
}

func newService(t *testing.T) *service {
	s := &service{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := s.pick()
		if target == nil {
			http.Error(w, "no replica is ready", http.StatusServiceUnavailable)
			return
		}
		u, _ := url.Parse(target.baseURL)
		httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *service) add(r ...*replica) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replicas = append(s.replicas, r...)
}

func (s *service) pick() *replica {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.replicas {
		r := s.replicas[(s.next+i)%len(s.replicas)]
		if r.cmd.ProcessState == nil && r.ready() {
			s.next = (s.next + i + 1) % len(s.replicas)
			return r
		}
	}
	return nil
}

func leads(r *replica) bool {
	return strings.Contains(strings.ToLower(r.out.String()), "acquired lease")
}

// TestAsDeployedTwoReplicas runs the install's two replicas behind one
// Service: both serve MCP and the OAuth flow across them, one leads, and
// when the leader is stopped as a rollout stops a pod (SIGTERM) with a post
// about to be due, the other takes over and the post is published once.
func TestAsDeployedTwoReplicas(t *testing.T) {
	g := NewWithT(t)
	svc := newService(t)
	d := startDeployedAt(t, svc.URL)
	second := d.startReplica(t, svc.URL)
	svc.add(d.replica, second)
	masto := mastodontest.New(t, "replicas-token")
	seedWorkspaces(t, g, d.admin, masto)

	var leader, follower *replica
	g.Eventually(func() int {
		n := 0
		for _, r := range []*replica{d.replica, second} {
			if leads(r) {
				n++
				leader = r
			} else {
				follower = r
			}
		}
		return n
	}, time.Minute, 100*time.Millisecond).Should(Equal(1), "exactly one replica leads")

	// The flow's requests go round robin: the sign-in page from one replica,
	// the consent and the token from the other.
	ctx := context.Background()
	res, err := signin.SignIn(ctx, signin.Options{BaseURL: svc.URL, Username: "alice", Password: alicePassword, Workspaces: []string{"acme"}})
	g.Expect(err).NotTo(HaveOccurred(), "the OAuth flow across two replicas")
	token := res.Token.AccessToken
	g.Eventually(func() any {
		return tool(g, svc.URL, token, "ocoya_get_social_profile", map[string]any{"workspaceId": "acme", "profileId": "masto"})["profile"].(map[string]any)["ready"]
	}, time.Minute, 250*time.Millisecond).Should(BeTrue())

	due := time.Now().Add(4 * time.Second).UTC().Truncate(time.Second)
	post := tool(g, svc.URL, token, "ocoya_create_post", map[string]any{"workspaceId": "acme", "text": "Due during the rollout",
		"profileIds": []string{"masto"}, "scheduledAt": due.Format(time.RFC3339)})["post"].(map[string]any)["id"].(string)

	stopped := time.Now()
	g.Expect(leader.cmd.Process.Signal(syscall.SIGTERM)).To(Succeed())
	var exit error
	g.Eventually(leader.done, 2*time.Minute).Should(Receive(&exit))
	g.Expect(exit).NotTo(HaveOccurred(), "the stopped replica exits cleanly")
	g.Eventually(func() bool { return leads(follower) }, time.Minute, 100*time.Millisecond).Should(BeTrue(), "the other replica takes the lead")
	takeover := time.Since(stopped)

	g.Eventually(func() any {
		return tool(g, svc.URL, token, "ocoya_get_post", map[string]any{"workspaceId": "acme", "postId": post})["post"].(map[string]any)["phase"]
	}, time.Minute, 250*time.Millisecond).Should(Equal("Published"))
	g.Expect(masto.StatusPosts()).To(HaveLen(1), "published once")
	t.Logf("observed: two replicas, one leader; SIGTERM to the leader, the other led %.1fs later; the post due %s was published once, %.1fs after its time",
		takeover.Seconds(), due.Format(time.RFC3339), masto.StatusPosts()[0].At.Sub(due).Seconds())
}
