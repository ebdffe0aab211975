package oauth

import (
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/ory/fosite"
)

// FuzzRedirectURI checks any URI as registration does, and matches it
// against registered ones as authorization does: what registration takes
// can run no code where the browser lands, and what matches is always the
// registered host (a loopback one on any port, RFC 8252), never a
// look-alike.
func FuzzRedirectURI(f *testing.F) {
	registered := []string{"https://app.example/cb", "http://127.0.0.1/callback", "cursor://anysphere.cursor/callback"}
	for _, seed := range []string{
		"https://app.example/cb", "https://app.example.evil.example/cb", "https://app.example/cb#frag", "https://app.example/cb?x=1",
		"http://127.0.0.1:53211/callback", "http://127.0.0.1.evil.example/callback", "http://[::1]:8080/cb", "http://localhost/cb",
		"javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,x", "cursor://anysphere.cursor/callback", "https://app.example@evil.example/cb",
		"https:///cb", "//app.example/cb", "https://APP.example/cb",
	} {
		f.Add(seed)
	}
	client := &fosite.DefaultClient{ID: "fuzz", RedirectURIs: registered}
	f.Fuzz(func(t *testing.T, raw string) {
		if err := validateRedirectURI(raw); err == nil {
			u, perr := url.Parse(raw)
			if perr != nil || u.Fragment != "" || refusedSchemes[strings.ToLower(u.Scheme)] {
				t.Fatalf("registration accepted %q", raw)
			}
			if u.Scheme == "http" {
				ip := net.ParseIP(u.Hostname())
				if !(ip != nil && ip.IsLoopback()) && u.Hostname() != "localhost" {
					t.Fatalf("registration accepted plain http to %q", raw)
				}
			}
		}
		got, err := fosite.MatchRedirectURIWithClientRedirectURIs(raw, client)
		if err != nil {
			return
		}
		for _, r := range registered {
			want, _ := url.Parse(r)
			if got.Scheme == want.Scheme && got.Hostname() == want.Hostname() && got.Path == want.Path {
				if got.Port() != want.Port() && !isLoopbackRedirect(got) {
					t.Fatalf("%q matched %q on another port", raw, r)
				}
				return
			}
		}
		t.Fatalf("%q matched as %s, which is none of the registered redirect URIs", raw, got)
	})
}
