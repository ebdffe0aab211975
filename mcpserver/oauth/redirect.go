package oauth

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

var schemeRE = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)

// refusedSchemes can run code or read files where a browser lands.
var refusedSchemes = map[string]bool{"javascript": true, "data": true, "file": true, "vbscript": true, "about": true, "blob": true, "ftp": true, "ws": true, "wss": true}

// validateRedirectURI applies the registration rules: https anywhere; plain
// http only on loopback (127.0.0.1, [::1] and localhost, each matching any
// port at authorization time, RFC 8252); private-use schemes such as
// cursor:// for native apps; never a fragment.
func validateRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return fmt.Errorf("redirect URI %q is not an absolute URI", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("redirect URI %q has a fragment; remove the #… part", raw)
	}
	switch u.Scheme {
	case "https":
		if u.Hostname() == "" {
			return fmt.Errorf("redirect URI %q has no host", raw)
		}
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
		if host == "localhost" {
			return nil
		}
		return fmt.Errorf("redirect URI %q uses plain http on a host other than loopback; use https, http://127.0.0.1:<port>/… or http://localhost:<port>/callback", raw)
	default:
		if !schemeRE.MatchString(u.Scheme) || refusedSchemes[u.Scheme] {
			return fmt.Errorf("redirect URI %q uses scheme %q, which is not allowed; use https, loopback http or a private-use scheme such as cursor://", raw, u.Scheme)
		}
		return nil
	}
}
