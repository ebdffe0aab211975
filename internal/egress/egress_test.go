package egress

import (
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckRefusesInternalAddresses(t *testing.T) {
	refused := []string{
		"127.0.0.1", "127.9.9.9", "::1", "0.0.0.0", "0.1.2.3", "::",
		"10.0.0.1", "172.16.5.4", "192.168.1.1", "fd00::1", "fc00::1",
		"169.254.169.254", "fe80::1", "100.64.0.1", "100.127.255.254",
		"224.0.0.1", "ff02::1", "255.255.255.255", "240.0.0.1", "198.18.0.1", "192.0.0.8",
		"::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.1.2.3", // IPv4-mapped
		"64:ff9b::a9fe:a9fe", // NAT64 of 169.254.169.254
		"2002:0a00:0001::1",  // 6to4 of 10.0.0.1
	}
	for _, s := range refused {
		if err := (Policy{}).Check(netip.MustParseAddr(s)); !errors.Is(err, ErrRefused) {
			t.Errorf("Check(%s) = %v, want refused", s, err)
		}
	}
	allowed := []string{"1.1.1.1", "8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "64:ff9b::808:808", "::ffff:8.8.8.8"}
	for _, s := range allowed {
		if err := (Policy{}).Check(netip.MustParseAddr(s)); err != nil {
			t.Errorf("Check(%s) = %v, want allowed", s, err)
		}
	}

	p := Policy{Allow: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12")}, Deny: []netip.Prefix{netip.MustParsePrefix("8.8.8.0/24")}}
	if err := p.Check(netip.MustParseAddr("10.100.0.7")); err != nil {
		t.Errorf("an allowed internal network is refused: %v", err)
	}
	if err := p.Check(netip.MustParseAddr("10.0.0.7")); err == nil {
		t.Error("the rest of 10/8 is allowed with it")
	}
	if err := p.Check(netip.MustParseAddr("8.8.8.8")); err == nil {
		t.Error("a denied public network is allowed")
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := ParsePrefixes(" 10.96.0.0/12, fd00::/8,192.168.1.10 ,")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.96.0.0/12", "fd00::/8", "192.168.1.10/32"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ParsePrefixes = %v, want %v", got, want)
	}
	if _, err := ParsePrefixes("10.0.0.0/33"); err == nil || !strings.Contains(err.Error(), "neither a CIDR network") {
		t.Errorf("a bad network gave %v", err)
	}
}

// serve runs handler on 127.0.0.1 and returns its URL.
func serve(t *testing.T, handler http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func TestClientRefusesAfterResolutionAndOnRedirects(t *testing.T) {
	secret := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "internal secret") }))
	_, secretPort, _ := net.SplitHostPort(strings.TrimPrefix(secret, "http://"))

	// A name that resolves to loopback is refused, by name.
	_, err := (Policy{}).Client(5 * time.Second).Get("http://localhost:" + secretPort + "/")
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Host != "localhost" {
		t.Fatalf("GET localhost = %v, want a RefusedError for localhost", err)
	}

	// The same message whether anything listens there or not: no oracle.
	closed := freePort(t)
	_, errOpen := (Policy{}).Client(5 * time.Second).Get(secret)
	_, errClosed := (Policy{}).Client(5 * time.Second).Get("http://127.0.0.1:" + closed + "/")
	strip := func(err error) string {
		var r *RefusedError
		if !errors.As(err, &r) {
			return "not refused: " + fmt.Sprint(err)
		}
		return r.Error()
	}
	if strip(errOpen) != strip(errClosed) {
		t.Errorf("a listening and a closed internal port answer differently: %q vs %q", strip(errOpen), strip(errClosed))
	}
	if strings.Contains(strip(errOpen), secretPort) {
		t.Errorf("the refusal names the port: %q", strip(errOpen))
	}

	// A public-looking server (allowed here) that redirects inside is
	// refused at the redirect.
	onlyFront := Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	front := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.2:"+secretPort+"/", http.StatusFound)
	}))
	res, err := onlyFront.Client(5 * time.Second).Get(front)
	if err == nil {
		res.Body.Close()
		t.Fatal("a redirect to an internal address was followed")
	}
	if !errors.Is(err, ErrRefused) {
		t.Errorf("redirect inside = %v, want refused", err)
	}

	// At most three redirects.
	hops := 0
	var loop string
	loop = serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hops++
		http.Redirect(w, r, loop+"/again", http.StatusFound)
	}))
	_, err = onlyFront.Client(5 * time.Second).Get(loop)
	if err == nil || !strings.Contains(err.Error(), "stopped after 3 redirects") || hops != 4 {
		t.Errorf("a redirect loop gave %v after %d requests, want a stop after 3 redirects (4 requests)", err, hops)
	}

	// A redirect to another scheme is refused.
	ftp := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	}))
	if _, err := onlyFront.Client(5 * time.Second).Get(ftp); err == nil || !strings.Contains(err.Error(), "refused a redirect to a file URL") {
		t.Errorf("a redirect to file: gave %v", err)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "2002:0a00:0001::1", "8.8.8.8", "2606:4700::1111"} {
		a := netip.MustParseAddr(s).As16()
		f.Add(a[:])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != 16 {
			return
		}
		addr := netip.AddrFrom16([16]byte(b))
		err := (Policy{}).Check(addr)
		// An IPv4-mapped address is judged as the IPv4 address it maps.
		if addr.Is4In6() {
			if v4 := (Policy{}).Check(addr.Unmap()); (err == nil) != (v4 == nil) {
				t.Fatalf("Check(%s) = %v but Check(%s) = %v", addr, err, addr.Unmap(), v4)
			}
		}
		// A loopback, private or link-local address is never allowed.
		if u := addr.Unmap(); (u.IsLoopback() || u.IsPrivate() || u.IsLinkLocalUnicast() || u.IsUnspecified()) && err == nil {
			t.Fatalf("Check(%s) allowed an internal address", addr)
		}
	})
}

func TestTrustFileAddsRoots(t *testing.T) {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	defer ts.Close()
	loopback := Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

	if _, err := loopback.Client(5 * time.Second).Get(ts.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("an unknown CA was trusted: %v", err)
	}
	dir := t.TempDir()
	pemFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c := loopback.Client(5 * time.Second)
	if err := TrustFile(c, pemFile); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get(ts.URL)
	if err != nil {
		t.Fatalf("the added CA is not trusted: %v", err)
	}
	resp.Body.Close()
	if err := (Policy{}).Check(netip.MustParseAddr("127.0.0.1")); err == nil {
		t.Fatal("trusting a CA must not change which addresses are refused")
	}

	notPEM := filepath.Join(dir, "not.pem")
	_ = os.WriteFile(notPEM, []byte("hello"), 0o600)
	if err := TrustFile(loopback.Client(time.Second), notPEM); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("a file without certificates: %v", err)
	}
	if err := TrustFile(loopback.Client(time.Second), filepath.Join(dir, "missing.pem")); err == nil {
		t.Fatal("a missing file was accepted")
	}
}
