package main

import (
	"flag"
	"testing"

	. "github.com/onsi/gomega"
)

// TestLeaderElectionIsOnAgainstAClusterByDefault: unset, --leader-elect
// takes the value for where Herald runs (on against a cluster, off for the
// embedded control plane); set, it is what was set.
func TestLeaderElectionIsOnAgainstAClusterByDefault(t *testing.T) {
	g := NewWithT(t)
	parse := func(args ...string) *autoBool {
		var b autoBool
		fs := flag.NewFlagSet("herald", flag.ContinueOnError)
		fs.Var(&b, "leader-elect", "")
		g.Expect(fs.Parse(args)).To(Succeed())
		return &b
	}
	unset := parse()
	g.Expect(unset.or(true)).To(BeTrue(), "against a cluster")
	g.Expect(unset.or(false)).To(BeFalse(), "on the embedded control plane")
	g.Expect(unset.String()).To(Equal("auto"))
	g.Expect(parse("--leader-elect").or(false)).To(BeTrue(), "a bare flag is true")
	g.Expect(parse("--leader-elect=false").or(true)).To(BeFalse())

	var b autoBool
	g.Expect(b.Set("maybe")).To(MatchError(ContainSubstring("not true or false")))
}

func TestParsePlatformAPIs(t *testing.T) {
	got, err := parsePlatformAPIs(" instagram=https://graph.internal , threads=http://127.0.0.1:9000,")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["instagram"] != "https://graph.internal" || got["threads"] != "http://127.0.0.1:9000" {
		t.Errorf("got %v", got)
	}
	for _, bad := range []string{"instagram", "=https://x", "x=", "x=https://a,x=https://b"} {
		if _, err := parsePlatformAPIs(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
	if got, err := parsePlatformAPIs(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %v %v", got, err)
	}
}
