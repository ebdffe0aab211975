package oauth

import (
	"net/http"
	"testing"
	"time"
)

func TestMetadataCacheLifetime(t *testing.T) {
	for _, tc := range []struct {
		header http.Header
		want   time.Duration
	}{
		{http.Header{}, metadataDefaultTTL},
		{http.Header{"Cache-Control": {"public, max-age=600"}}, 10 * time.Minute},
		{http.Header{"Cache-Control": {"max-age=5"}}, metadataMinTTL},
		{http.Header{"Cache-Control": {"max-age=31536000"}}, metadataMaxTTL},
		{http.Header{"Cache-Control": {"no-store"}}, metadataMinTTL},
		{http.Header{"Cache-Control": {"max-age=bogus"}}, metadataDefaultTTL},
		{http.Header{"Date": {"Tue, 01 Dec 2026 09:00:00 GMT"}, "Expires": {"Tue, 01 Dec 2026 11:00:00 GMT"}}, 2 * time.Hour},
	} {
		if got := cacheLifetime(tc.header); got != tc.want {
			t.Errorf("cacheLifetime(%v) = %s, want %s", tc.header, got, tc.want)
		}
	}
}

func TestMetadataURLRules(t *testing.T) {
	prod, dev := &metadataDocuments{}, &metadataDocuments{devMode: true}
	for _, ok := range []string{"https://claude.ai/oauth/claude-code-client-metadata", "https://vscode.dev/oauth/client-metadata.json?v=1"} {
		if err := prod.checkURL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://claude.ai/meta", "https://claude.ai", "https://claude.ai/", "https://u:p@claude.ai/m", "https://claude.ai/a/../m", "https://claude.ai/m#f", "claude.ai/m"} {
		if err := prod.checkURL(bad); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
	if err := dev.checkURL("http://127.0.0.1:9000/meta.json"); err != nil {
		t.Errorf("loopback http in development: %v", err)
	}
	if err := dev.checkURL("http://claude.ai/meta.json"); err == nil {
		t.Error("plain http to a public host in development was accepted")
	}
	if !isMetadataURL("https://claude.ai/m") || isMetadataURL("mcp-0123abcd") {
		t.Error("isMetadataURL tells URLs from client names")
	}
	if metadataRecordName("https://claude.ai/m") == metadataRecordName("https://claude.ai/n") || len(metadataRecordName("https://claude.ai/m")) != 45 {
		t.Error("record names are distinct and short")
	}
}
