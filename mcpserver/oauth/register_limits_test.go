package oauth_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

var _ = Describe("client registration limits", func() {
	metadata := map[string]any{"client_name": "Flood", "redirect_uris": []string{"http://127.0.0.1:7000/cb"}}

	It("refuses more registrations from one address than the hourly budget, until the hour passes", func() {
		h := newHarnessWith("", mgr, func(c *oauth.Config) { c.MaxRegistrationsPerAddress = 3 })
		for range 3 {
			register(h.base, "http://127.0.0.1:7000/cb")
		}
		By("invalid metadata is refused for itself and does not count")
		status, body := postJSON(h.base+"/oauth/register", map[string]any{"redirect_uris": []string{"http://evil.example/cb"}})
		Expect(status).To(Equal(http.StatusBadRequest))
		Expect(body["error"]).To(Equal("invalid_redirect_uri"))

		resp, err := http.Post(h.base+"/oauth/register", "application/json", jsonBody(metadata))
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Header.Get("Retry-After")).NotTo(BeEmpty())
		status, body = decode(resp)
		Expect(status).To(Equal(http.StatusTooManyRequests))
		Expect(body["error"]).To(Equal("temporarily_unavailable"))
		Expect(body["error_description"]).To(ContainSubstring("reuse a registered client_id"))

		By("the budget comes back after the hour")
		h.clock.Step(61 * time.Minute)
		register(h.base, "http://127.0.0.1:7000/cb")
	})

	It("refuses registrations while too many registered clients never signed in", func() {
		unused := func() int {
			var list v1alpha1.MCPClientList
			Expect(k8sClient.List(ctx, &list)).To(Succeed())
			n := 0
			for _, c := range list.Items {
				if c.Spec.Dynamic && c.Status.LastAuthorizedAt == nil {
					n++
				}
			}
			return n
		}
		limit := unused() + 2
		h := newHarnessWith("", mgr, func(c *oauth.Config) { c.MaxUnusedClients = limit })
		ours := []string{register(h.base, "http://127.0.0.1:7000/cb"), register(h.base, "http://127.0.0.1:7000/cb")}

		// The replica counts from its cache, which sees new clients a
		// moment after they are stored: the limit is soft by that moment,
		// and a registration made meanwhile is still accepted.
		Eventually(func() int {
			status, body := postJSON(h.base+"/oauth/register", metadata)
			if id, ok := body["client_id"].(string); ok {
				ours = append(ours, id)
			}
			return status
		}, 10*time.Second, 50*time.Millisecond).Should(Equal(http.StatusServiceUnavailable))
		held := unused()
		Expect(held).To(BeNumerically(">=", limit))
		status, body := postJSON(h.base+"/oauth/register", metadata)
		Expect(status).To(Equal(http.StatusServiceUnavailable))
		Expect(body["error_description"]).To(ContainSubstring("never completed a sign-in"))
		Expect(unused()).To(Equal(held), "nothing is stored for a refused registration")

		By("clients completing a sign-in free places")
		for _, id := range ours[:held-limit+1] {
			c := &v1alpha1.MCPClient{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Name: id}, c)).To(Succeed())
			now := metav1.Now()
			c.Status.LastAuthorizedAt = &now
			Expect(k8sClient.Status().Update(ctx, c)).To(Succeed())
		}
		Eventually(func() int {
			status, _ := postJSON(h.base+"/oauth/register", metadata)
			return status
		}, 10*time.Second, 50*time.Millisecond).Should(Equal(http.StatusCreated))
	})

	It("refuses a negative limit when the server is built", func() {
		_, err := oauth.New(oauth.Config{PublicURL: "http://127.0.0.1:1", Namespace: namespace, MaxUnusedClients: -1}, mgr.GetClient(), mgr.GetAPIReader())
		Expect(err).To(MatchError(ContainSubstring("registration limits")))
	})
})

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}
