package oauth

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr is the address the sign-in and registration limits count
// by. It is the peer's address, unless the peer is a trusted proxy
// (Config.TrustedProxies): then it is the rightmost address in
// X-Forwarded-For that is not a trusted proxy, since each proxy appends
// the address it received from and a client can write anything to the
// left of it. An IPv6 address counts as its /64, which one host usually
// holds whole.
func (s *Server) clientAddr(r *http.Request) string {
	peer := peerAddr(r)
	if peer.IsValid() && s.trusted(peer) {
		hops := r.Header.Values("X-Forwarded-For")
		for i := len(hops) - 1; i >= 0; i-- {
			parts := strings.Split(hops[i], ",")
			for j := len(parts) - 1; j >= 0; j-- {
				a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
				if err != nil {
					return addrKey(peer) // a proxy we trust wrote nonsense: count it as the proxy
				}
				if !s.trusted(a.Unmap()) {
					return addrKey(a.Unmap())
				}
				peer = a.Unmap()
			}
		}
	}
	if !peer.IsValid() {
		return r.RemoteAddr
	}
	return addrKey(peer)
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// addrKey is what an address counts as: itself for IPv4, its /64 for IPv6.
func addrKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
