package oauth

import (
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	testclock "k8s.io/utils/clock/testing"
)

func TestClientAddr(t *testing.T) {
	s := &Server{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	for _, c := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"203.0.113.5:5000", nil, "203.0.113.5"},
		{"203.0.113.5:5000", []string{"1.2.3.4"}, "203.0.113.5"},              // not a trusted peer: its header is the client's word
		{"10.1.1.1:5000", []string{"198.51.100.7"}, "198.51.100.7"},           // the ingress names the client
		{"10.1.1.1:5000", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},  // what the client wrote to the left is not believed
		{"10.1.1.1:5000", []string{"198.51.100.7, 10.2.2.2"}, "198.51.100.7"}, // two trusted hops
		{"10.1.1.1:5000", []string{"6.6.6.6", "198.51.100.7"}, "198.51.100.7"},
		{"10.1.1.1:5000", []string{"garbage"}, "10.1.1.1"},
		{"[2001:db8:1:2:aaaa::1]:443", nil, "2001:db8:1:2::/64"},
		{"[::ffff:203.0.113.9]:443", nil, "203.0.113.9"},
	} {
		r := &http.Request{RemoteAddr: c.peer, Header: http.Header{}}
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := s.clientAddr(r); got != c.want {
			t.Errorf("clientAddr(peer %s, X-Forwarded-For %q) = %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
}

func TestWindowLimiterStaysBounded(t *testing.T) {
	l := newWindowLimiter(testclock.NewFakeClock(time.Now()), loginWindow)
	for i := range maxLimiterKeys + 500 {
		l.record(strconv.Itoa(i))
	}
	if n := len(l.events); n > maxLimiterKeys {
		t.Errorf("the limiter holds %d keys, more than %d", n, maxLimiterKeys)
	}
}
