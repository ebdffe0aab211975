package connect

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/herald-dev/herald/api/v1alpha1"
)

func TestInstance(t *testing.T) {
	for in, want := range map[string]string{
		"mastodon.social":          "https://mastodon.social",
		" https://Fosstodon.org/ ": "https://fosstodon.org",
		"https://example.com:8443": "https://example.com:8443",
	} {
		got, err := Instance(in, false)
		if err != nil || got != want {
			t.Errorf("Instance(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "http://mastodon.social", "https://m.example/path", "https://u:p@m.example", "https://m.example/?q=1", "https://"} {
		if got, err := Instance(in, false); err == nil {
			t.Errorf("Instance(%q) = %q, want an error", in, got)
		}
	}
	if got, err := Instance("http://127.0.0.1:4000", true); err != nil || got != "http://127.0.0.1:4000" {
		t.Errorf("plain http in development: %q, %v", got, err)
	}
}

func TestProfileNames(t *testing.T) {
	for _, tc := range []struct {
		platform v1alpha1.Platform
		handle   string
		want     string
	}{
		{"mastodon", "@Herald@fake.example", "mastodon-herald-fake-example"},
		{"bluesky", "brand.bsky.social", "bluesky-brand-bsky-social"},
		{"linkedin", "Ada Lovelace", "linkedin-ada-lovelace"},
		{"discord", "#news", "discord-news"},
		{"x", "", "x"},
		{"webhook", strings.Repeat("a", 80), "webhook-" + strings.Repeat("a", 55)},
	} {
		got := ProfileName(tc.platform, tc.handle)
		if got != tc.want {
			t.Errorf("ProfileName(%s, %q) = %q, want %q", tc.platform, tc.handle, got, tc.want)
		}
		if err := CheckProfileName(got); err != nil {
			t.Errorf("a derived name is refused: %v", err)
		}
	}
	for _, bad := range []string{"", "Bad", "-a", "a-", "a_b", strings.Repeat("a", 64)} {
		if CheckProfileName(bad) == nil {
			t.Errorf("CheckProfileName(%q) accepted it", bad)
		}
	}
}

func TestFormsCheckWhatIsEntered(t *testing.T) {
	webhook := FormFor("webhook")
	if _, _, _, err := webhook.Build(map[string]string{"url": "https://hooks.example.com/h", "name": "n", "signingSecret": "short"}); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("a short signing secret: %v", err)
	}
	if _, _, _, err := webhook.Build(map[string]string{"url": "ftp://x", "name": "n", "signingSecret": strings.Repeat("s", 16)}); err == nil || !strings.Contains(err.Error(), "https URL") {
		t.Errorf("a non-http URL: %v", err)
	}
	if _, _, _, err := FormFor("telegram").Build(map[string]string{"botToken": "1:abc"}); err == nil || !strings.Contains(err.Error(), "Chat is required") {
		t.Errorf("a missing field: %v", err)
	}
	handle, endpoint, creds, err := FormFor("bluesky").Build(map[string]string{"handle": " @brand.bsky.social ", "appPassword": "abcd-efgh", "pds": ""})
	if err != nil || handle != "brand.bsky.social" || endpoint != "" || string(creds["identifier"]) != "brand.bsky.social" || string(creds["appPassword"]) != "abcd-efgh" {
		t.Errorf("bluesky: %q %q %v %v", handle, endpoint, creds, err)
	}
	handle, _, creds, err = FormFor("instagram").Build(map[string]string{"accessToken": " tok ", "igUserId": "1784"})
	if err != nil || handle != "instagram" || string(creds["accessToken"]) != "tok" || string(creds["igUserId"]) != "1784" || len(creds) != 2 {
		t.Errorf("instagram: %q %v %v", handle, creds, err)
	}
	if _, _, _, err := FormFor("pinterest").Build(map[string]string{"accessToken": "pina_x"}); err == nil || !strings.Contains(err.Error(), "Board id is required") {
		t.Errorf("pinterest without a board: %v", err)
	}
	handle, _, creds, err = FormFor("tiktok").Build(map[string]string{"accessToken": "act.x", "name": "Brand"})
	if err != nil || handle != "Brand" || len(creds) != 1 {
		t.Errorf("tiktok: %q %v %v", handle, creds, err)
	}
	if FormFor("mastodon") != nil || FormFor("x") != nil {
		t.Error("OAuth platforms have no form")
	}
	for _, p := range []v1alpha1.Platform{"mastodon", "x", "linkedin", "bluesky", "discord", "slack", "telegram", "webhook", "facebook", "instagram", "threads", "pinterest", "tiktok", "youtube"} {
		if !Connectable(p) {
			t.Errorf("%s is not connectable", p)
		}
	}
	if Connectable("sandbox") {
		t.Error("the sandbox needs no account")
	}
}

func TestTokensAndRefusals(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	creds := Tokens{Access: "a", Refresh: "r", ExpiresAt: now.Add(2 * time.Hour), Account: map[string][]byte{"authorURN": []byte("urn:li:person:1")}}.Credentials()
	if at, ok := ExpiresAt(creds); !ok || !at.Equal(now.Add(2*time.Hour)) || string(creds["authorURN"]) != "urn:li:person:1" {
		t.Errorf("credentials: %v", creds)
	}
	if _, ok := ExpiresAt(map[string][]byte{"expiresAt": []byte("soon")}); ok {
		t.Error("an unreadable expiry was read")
	}

	status := http.StatusBadRequest
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"error":"invalid_request","error_description":"Value passed for the token was invalid."}`))
	}))
	defer ts.Close()
	p := X
	p.TokenURL = ts.URL
	_, err := p.Refresh(context.Background(), ts.Client(), OAuthApp{ClientID: "c", ClientSecret: "s"}, "r", now)
	if !errors.Is(err, ErrReconnect) || !strings.Contains(err.Error(), "Value passed for the token was invalid.") {
		t.Errorf("a refused refresh token: %v", err)
	}
	status = http.StatusBadGateway
	_, err = p.Refresh(context.Background(), ts.Client(), OAuthApp{ClientID: "c", ClientSecret: "s"}, "r", now)
	if err == nil || errors.Is(err, ErrReconnect) {
		t.Errorf("a gateway error is not a reason to reconnect: %v", err)
	}
}
