package oauth

import (
	"context"
	"net/url"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/ory/fosite/token/jwt"
	testclock "k8s.io/utils/clock/testing"
)

// TestKeyRotation: after a new key becomes current, tokens signed with the
// old one still verify until they expire, new ones carry the new kid, and
// JWKS publishes both.
func TestKeyRotation(t *testing.T) {
	g := NewWithT(t)
	first, err := newKeysSecret("ns")
	g.Expect(err).NotTo(HaveOccurred())
	second, err := newKeysSecret("ns")
	g.Expect(err).NotTo(HaveOccurred())
	oldKid, newKid := string(first.Data[keyCurrent]), string(second.Data[keyCurrent])

	oldKeys, err := parseKeys(&first)
	g.Expect(err).NotTo(HaveOccurred())
	rotated := first.DeepCopy()
	rotated.Data[keyPrefix+newKid+keySuffix] = second.Data[keyPrefix+newKid+keySuffix]
	rotated.Data[keyCurrent] = []byte(newKid)
	newKeys, err := parseKeys(rotated)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(newKeys.jwks().Keys).To(HaveLen(2))

	pub, _ := url.Parse("https://herald.example.com")
	clk := testclock.NewFakeClock(time.Now())
	s := &Server{public: pub, keys: newKeys, clock: clk, tokens: newTokenCache()}
	claims := jwt.MapClaims{
		"iss": "https://herald.example.com", "aud": []string{"https://herald.example.com/mcp"}, "sub": "dev",
		"client_id": "c", "grant": "grant-1", "scope": "posts:read", "exp": clk.Now().Add(time.Minute).Unix(),
	}
	oldTok, _, err := newKidSigner(oldKeys).Generate(context.Background(), claims, nil)
	g.Expect(err).NotTo(HaveOccurred())
	newTok, _, err := newKidSigner(newKeys).Generate(context.Background(), claims, nil)
	g.Expect(err).NotTo(HaveOccurred())
	for _, tok := range []string{oldTok, newTok} {
		c, err := s.verify(tok)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(c.Grant).To(Equal("grant-1"))
	}
	g.Expect(oldKid).NotTo(Equal(newKid))

	dropped := rotated.DeepCopy()
	delete(dropped.Data, keyPrefix+oldKid+keySuffix)
	s.keys, err = parseKeys(dropped)
	g.Expect(err).NotTo(HaveOccurred())
	s.tokens = newTokenCache()
	_, err = s.verify(oldTok)
	g.Expect(err).To(HaveOccurred(), "a token of a removed key must stop working")

	broken := rotated.DeepCopy()
	broken.Data[keyCurrent] = []byte("missing")
	_, err = parseKeys(broken)
	g.Expect(err).To(MatchError(ContainSubstring(`names current key "missing"`)))
}
