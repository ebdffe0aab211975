// Package egress guards the outbound HTTP requests people can aim: media
// URLs, feed URLs, SocialProfile endpoints and webhook URLs. Herald runs
// inside a cluster, so a URL naming 10.0.0.1 or 169.254.169.254 would make it
// fetch the inside of the cluster or the cloud's metadata service for
// whoever wrote the URL. Every connection such a client makes, after DNS
// resolution and on every redirect, is checked against the address ranges
// the internet does not route.
package egress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"
)

// MaxRedirects is how many redirects a guarded client follows.
const MaxRedirects = 3

// ErrRefused is wrapped by every error for a refused address.
var ErrRefused = errors.New("refused: not a public internet address")

// RefusedError names the host a request was refused for, never the address
// it resolved to: the answer must not map the inside of the network.
type RefusedError struct {
	Host string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s is a loopback, private, link-local or otherwise internal address, which Herald does not connect to "+
		"(an operator can allow a network with --egress-allow)", e.Host)
}

func (e *RefusedError) Unwrap() error { return ErrRefused }

// internal are the ranges no public service is reached at, beyond what
// netip's predicates name: "this network", carrier-grade NAT, IETF
// protocol assignments, benchmarking, documentation, reserved and
// broadcast, and the NAT64 local-use prefix.
var internal = mustPrefixes(
	"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
	"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
	"64:ff9b:1::/48", "100::/64", "2001:db8::/32", "2001::/23",
)

// Policy says which addresses a guarded client may connect to.
type Policy struct {
	// Allow lists networks that are reachable although internal, such as
	// a self-hosted Mastodon inside the cluster, or loopback for local
	// development.
	Allow []netip.Prefix
	// Deny lists further networks to refuse: a cluster's service and pod
	// ranges when they are not private addresses.
	Deny []netip.Prefix
}

// Check returns nil when addr may be connected to, or ErrRefused.
func (p Policy) Check(addr netip.Addr) error {
	addr = addr.Unmap()
	for _, a := range p.Allow {
		if a.Contains(addr) {
			return nil
		}
	}
	if isInternal(addr) {
		return ErrRefused
	}
	for _, d := range p.Deny {
		if d.Contains(addr) {
			return ErrRefused
		}
	}
	return nil
}

func isInternal(addr netip.Addr) bool {
	if !addr.IsValid() || addr.IsUnspecified() || addr.IsLoopback() || addr.IsPrivate() ||
		addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast() ||
		addr.IsMulticast() {
		return true
	}
	for _, p := range internal {
		if p.Contains(addr) {
			return true
		}
	}
	// IPv6 forms that carry an IPv4 address (NAT64, 6to4) reach what the
	// IPv4 address names.
	if addr.Is6() {
		b := addr.As16()
		switch {
		case netip.MustParsePrefix("64:ff9b::/96").Contains(addr):
			return isInternal(netip.AddrFrom4([4]byte(b[12:16])))
		case netip.MustParsePrefix("2002::/16").Contains(addr):
			return isInternal(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	return false
}

// DialContext dials like a net.Dialer with timeout, refusing every address
// p does not allow; each address DNS gives is checked as it is dialled.
func (p Policy) DialContext(timeout time.Duration) func(ctx context.Context, network, address string) (net.Conn, error) {
	d := &net.Dialer{
		Timeout:   timeout,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return ErrRefused
			}
			return p.Check(ap.Addr())
		},
	}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, address)
		if errors.Is(err, ErrRefused) {
			host, _, _ := net.SplitHostPort(address)
			return nil, &RefusedError{Host: host}
		}
		return conn, err
	}
}

// Client returns an HTTP client whose every connection p checks, which
// follows at most MaxRedirects redirects and only to http and https URLs,
// and ignores proxy settings (a proxy would make the check see the proxy's
// address instead of the target's).
func (p Policy) Client(timeout time.Duration) *http.Client {
	transport := &http.Transport{
		DialContext:           p.DialContext(10 * time.Second),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{Transport: transport, Timeout: timeout, CheckRedirect: CheckRedirect}
}

// TrustFile makes c, built by Client, trust the certificate authorities in
// a PEM file besides the system's.
func TrustFile(c *http.Client, pemFile string) error {
	t, ok := c.Transport.(*http.Transport)
	if !ok {
		return fmt.Errorf("the client's transport is %T, not one Client built", c.Transport)
	}
	data, err := os.ReadFile(pemFile)
	if err != nil {
		return err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return fmt.Errorf("%s holds no PEM certificate", pemFile)
	}
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return nil
}

// Describe words why a request through a guarded client failed, for the
// person who gave the URL, without addresses or other internals: whether
// a port is open inside the network stays unknown to them.
func Describe(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, ErrRefused):
		return "its host is an internal address, which Herald does not connect to (an operator can allow it with --egress-allow)"
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return "it did not answer in time"
	case strings.Contains(err.Error(), "certificate"):
		return "its TLS certificate is not trusted"
	}
	return "the connection failed"
}

// CheckRedirect allows at most MaxRedirects redirects, to http or https.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > MaxRedirects {
		return fmt.Errorf("stopped after %d redirects", MaxRedirects)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("refused a redirect to a %s URL", req.URL.Scheme)
	}
	return nil
}

// ParsePrefixes reads a comma-separated list of CIDR networks or single
// addresses, such as "10.96.0.0/12,fd00::/8,192.168.1.10".
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR network such as 10.96.0.0/12 nor an address", item)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func mustPrefixes(list ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(list))
	for i, s := range list {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}
