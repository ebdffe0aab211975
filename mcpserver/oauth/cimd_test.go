package oauth_test

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/egress"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

// docServer is a client's web site on a loopback https listener with its
// own test CA, serving client ID metadata documents and counting fetches.
type docServer struct {
	ts       *httptest.Server
	mu       sync.Mutex
	handlers map[string]http.HandlerFunc
	hits     map[string]int
}

func newDocServer() *docServer {
	d := &docServer{handlers: map[string]http.HandlerFunc{}, hits: map[string]int{}}
	d.ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		h := d.handlers[r.URL.Path]
		d.hits[r.URL.Path]++
		d.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	d.ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake of the untrusting client
	d.ts.StartTLS()
	DeferCleanup(d.ts.Close)
	return d
}

// handle serves path with h and returns the path's URL, the client_id.
func (d *docServer) handle(path string, h http.HandlerFunc) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.handlers[path] = h
	return d.ts.URL + path
}

// document serves a JSON document at path with the given Cache-Control;
// edit may change it before it is written (it is given the client_id).
func (d *docServer) document(path, cacheControl string, edit func(id string, doc map[string]any)) string {
	id := d.ts.URL + path
	doc := map[string]any{
		"client_id": id, "client_name": "Claude Code", "client_uri": "https://claude.ai",
		"redirect_uris": []string{"http://localhost/callback", "http://127.0.0.1/callback"},
		"grant_types":   []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
		"token_endpoint_auth_method": "none", "scope": "user:profile user:inference",
	}
	if edit != nil {
		edit(id, doc)
	}
	return d.handle(path, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if cacheControl != "" {
			w.Header().Set("Cache-Control", cacheControl)
		}
		_ = json.NewEncoder(w).Encode(doc)
	})
}

func (d *docServer) fetches(path string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.hits[path]
}

// cimdHarness is a Herald replica that trusts the document server's CA.
func cimdHarness(d *docServer, dev bool) *harness {
	return newHarnessWith("", mgr, func(c *oauth.Config) {
		c.Outbound = d.ts.Client()
		c.DevMode = dev
	})
}

func recordOf(clientID string) (*v1alpha1.MCPClient, error) {
	var list v1alpha1.MCPClientList
	if err := k8sClient.List(ctx, &list); err != nil {
		return nil, err
	}
	for i := range list.Items {
		if list.Items[i].Spec.MetadataDocumentURL == clientID {
			return &list.Items[i], nil
		}
	}
	return nil, apierrors.NewNotFound(v1alpha1.GroupVersion.WithResource("mcpclients").GroupResource(), clientID)
}

var _ = Describe("clients identified by a metadata document", func() {
	It("advertises the support", func() {
		h := newHarness("")
		_, m := getJSON(h.base+"/.well-known/oauth-authorization-server", "")
		Expect(m).To(HaveKeyWithValue("client_id_metadata_document_supported", true))
	})

	It("signs a client in by its document's URL, without registering, records it on approval, and ends its grants when the record is deleted", func() {
		docs := newDocServer()
		h := cimdHarness(docs, true)
		id := docs.document("/oauth/claude-code-client-metadata", "public, max-age=3600", nil)
		host := strings.TrimPrefix(docs.ts.URL, "https://")

		By("showing the document's host on the consent page, before anything is recorded")
		// The document lists http://localhost/callback without a port, as
		// Claude Code's does; the client listens on a port of its own.
		p := newPKCE(id, "http://localhost:53682/callback")
		authURL := p.authorizeURL(h.base, nil)
		b := newBrowser()
		consent := b.login(authURL, "dev", devPassword)
		Expect(consent).To(ContainSubstring(`id="client-host"`))
		Expect(consent).To(ContainSubstring("identified by <strong>" + host + "</strong>"))
		Expect(consent).To(ContainSubstring("Allow Claude Code to use Herald?"))
		Expect(consent).To(ContainSubstring("http://localhost:53682/callback"))
		_, err := recordOf(id)
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "a client is recorded only once a person approves it")

		By("approving: the code goes to the port the client listens on")
		loc := b.decide(authURL, consent, "approve", "demo")
		Expect(loc.Scheme + "://" + loc.Host + loc.Path).To(Equal("http://localhost:53682/callback"))
		code := loc.Query().Get("code")
		Expect(code).NotTo(BeEmpty(), loc.String())
		secretsSeen.add(code)

		By("recording the client as an MCPClient that kubectl shows")
		rec, err := recordOf(id)
		Expect(err).NotTo(HaveOccurred())
		Expect(rec.Name).To(HavePrefix("cimd-"))
		Expect(rec.Spec.ClientName).To(Equal("Claude Code"))
		Expect(rec.Spec.Dynamic).To(BeFalse())
		Expect(rec.Spec.Scopes).To(BeEmpty(), "a document's scope names are not Herald's")
		Expect(rec.Spec.RedirectURIs).To(ConsistOf("http://localhost/callback", "http://127.0.0.1/callback"))
		Expect(rec.Status.LastAuthorizedAt).NotTo(BeNil())
		Expect(rec.ClientID()).To(Equal(id))

		By("exchanging the code and calling /mcp as that client")
		status, tok := exchange(h.base, p, code)
		Expect(status).To(Equal(http.StatusOK), "%v", tok)
		at := tok["access_token"].(string)
		Expect(claims(at)["client_id"]).To(Equal(id))
		st, _, caller := callMCP(h.base+"/mcp", at)
		Expect(st).To(Equal(http.StatusOK), "%v", caller)
		Expect(caller["ClientName"]).To(Equal("Claude Code"))
		Expect(caller["ClientID"]).To(Equal(id))
		status, tok = refresh(h.base, id, tok["refresh_token"].(string))
		Expect(status).To(Equal(http.StatusOK), "%v", tok)
		Expect(docs.fetches("/oauth/claude-code-client-metadata")).To(Equal(1), "the document is cached as its max-age allows")

		By("deleting the record: the client's tokens stop and its grant goes")
		grant := claims(tok["access_token"].(string))["grant"].(string)
		Expect(k8sClient.Delete(ctx, rec)).To(Succeed())
		Eventually(func() int {
			st, _, _ := callMCP(h.base+"/mcp", tok["access_token"].(string))
			return st
		}).Should(Equal(http.StatusUnauthorized))
		h.clock.Step(2 * time.Minute)
		Expect(h.srv.Sweep(ctx)).To(Succeed())
		err = k8sClient.Get(ctx, client.ObjectKey{Name: grant}, &v1alpha1.MCPGrant{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the grant of a deleted client is removed: %v", err)
	})

	It("fetches the document again once its cache lifetime (at least a minute) is over", func() {
		docs := newDocServer()
		h := cimdHarness(docs, true)
		id := docs.document("/client.json", "no-store", nil)
		p := newPKCE(id, "http://127.0.0.1:40001/callback")
		for range 3 {
			resp, page := newBrowser().get(p.authorizeURL(h.base, nil))
			Expect(resp.StatusCode).To(Equal(http.StatusOK), page)
		}
		Expect(docs.fetches("/client.json")).To(Equal(1), "no-store is held for the one-minute floor")
		h.clock.Step(61 * time.Second)
		resp, page := newBrowser().get(p.authorizeURL(h.base, nil))
		Expect(resp.StatusCode).To(Equal(http.StatusOK), page)
		Expect(docs.fetches("/client.json")).To(Equal(2))
	})

	It("refuses a document it cannot trust, says why on a page, and redirects nowhere", func() {
		docs := newDocServer()
		h := cimdHarness(docs, true)
		big := strings.Repeat("x", 70<<10)
		cases := map[string]struct {
			id, redirect, want string
		}{
			"mismatched client_id": {
				id:   docs.document("/mismatch.json", "", func(_ string, d map[string]any) { d["client_id"] = "https://claude.ai/oauth/metadata" }),
				want: "it must name its own URL, exactly",
			},
			"a redirect": {
				id: docs.handle("/moved.json", func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, docs.ts.URL+"/mismatch.json", http.StatusFound)
				}),
				want: "answered with a redirect (302)",
			},
			"an oversized document": {
				id:   docs.document("/big.json", "", func(_ string, d map[string]any) { d["client_name"] = big }),
				want: "more than the 65536 bytes Herald reads",
			},
			"a redirect URI the document does not list": {
				id:       docs.document("/fine.json", "", nil),
				redirect: "https://evil.example/callback",
				want:     "redirect_uri",
			},
			"a confidential client": {
				id:   docs.document("/secret.json", "", func(_ string, d map[string]any) { d["token_endpoint_auth_method"] = "client_secret_basic" }),
				want: "public clients (none, with PKCE)",
			},
			"no client_name": {
				id:   docs.document("/nameless.json", "", func(_ string, d map[string]any) { delete(d, "client_name") }),
				want: "has no client_name; it must name the client",
			},
			"a blank client_name": {
				id:   docs.document("/blank.json", "", func(_ string, d map[string]any) { d["client_name"] = "  " }),
				want: "has no client_name",
			},
			"a client_name with a line break": {
				id:   docs.document("/twoline.json", "", func(_ string, d map[string]any) { d["client_name"] = "Claude Code\nverified by Herald" }),
				want: "client_name contains the control character U&#43;000A", // the page escapes +
			},
			"a client_name too long to show": {
				id:   docs.document("/long.json", "", func(_ string, d map[string]any) { d["client_name"] = strings.Repeat("x", 201) }),
				want: "client_name has 201 characters; at most 200",
			},
			"no redirect URIs": {
				id:   docs.document("/noredirect.json", "", func(_ string, d map[string]any) { delete(d, "redirect_uris") }),
				want: "redirect_uris is required",
			},
			"a missing document": {
				id:   docs.ts.URL + "/gone.json",
				want: "answered HTTP 404",
			},
			"not JSON": {
				id: docs.handle("/page.html", func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Content-Type", "text/html")
					_, _ = w.Write([]byte("<html></html>"))
				}),
				want: "it must be application/json",
			},
			"a URL without a path":  {id: docs.ts.URL, want: "has no path"},
			"a URL with a fragment": {id: docs.ts.URL + "/fine.json#x", want: "has a fragment"},
			"a dot segment":         {id: docs.ts.URL + "/a/../fine.json", want: "path segment"},
		}
		for name, tc := range cases {
			redirect := tc.redirect
			if redirect == "" {
				redirect = "http://127.0.0.1:40002/callback"
			}
			resp, page := newBrowser().get(newPKCE(tc.id, redirect).authorizeURL(h.base, nil))
			Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), "%s: %s", name, page)
			Expect(resp.Header.Get("Location")).To(BeEmpty(), name)
			Expect(page).To(ContainSubstring(tc.want), name)
			Expect(page).To(ContainSubstring("nothing was shared"), name)
			_, err := recordOf(tc.id)
			Expect(apierrors.IsNotFound(err)).To(BeTrue(), name)
		}

		By("a token request naming a refused document gets invalid_client")
		status, body := postForm(h.base+"/oauth/token", url.Values{
			"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {"http://127.0.0.1:1/callback"},
			"client_id": {docs.ts.URL + "/mismatch.json"}, "code_verifier": {"v"},
		})
		Expect(status).To(Equal(http.StatusUnauthorized), "%v", body)
		Expect(body["error"]).To(Equal("invalid_client"))
	})

	It("refuses plain http outside development, and a certificate it does not trust", func() {
		docs := newDocServer()
		id := docs.document("/fine.json", "", nil)
		plain := "http://" + strings.TrimPrefix(id, "https://")

		h := cimdHarness(docs, false)
		resp, page := newBrowser().get(newPKCE(plain, "http://127.0.0.1:40003/callback").authorizeURL(h.base, nil))
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), page)
		Expect(page).To(ContainSubstring("is not an https URL"))

		untrusting := newHarnessWith("", mgr, func(c *oauth.Config) { c.Outbound = &http.Client{} })
		resp, page = newBrowser().get(newPKCE(id, "http://127.0.0.1:40003/callback").authorizeURL(untrusting.base, nil))
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), page)
		Expect(page).To(ContainSubstring("its TLS certificate is not trusted"))
		Expect(docs.fetches("/fine.json")).To(Equal(0), "the handshake failed before a request")

		By("a document on an internal address, fetched by the guarded client Herald runs with")
		guarded := newHarnessWith("", mgr, func(c *oauth.Config) { c.Outbound = egress.Policy{}.Client(5 * time.Second) })
		resp, page = newBrowser().get(newPKCE(id, "http://127.0.0.1:40003/callback").authorizeURL(guarded.base, nil))
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), page)
		Expect(page).To(ContainSubstring("its host is an internal address, which Herald does not connect to"))
		Expect(page).NotTo(ContainSubstring("refused"), "no more than the rule")
		Expect(docs.fetches("/fine.json")).To(Equal(0))
	})
})
