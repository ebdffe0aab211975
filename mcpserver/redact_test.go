package mcpserver

import "testing"

func TestCapabilityRedacted(t *testing.T) {
	for raw, want := range map[string]string{
		"https://blog.example/feed.xml?token=s3cret":      "https://blog.example/…",
		"https://feeds.example/private/9f8e7d6c/atom.xml": "https://feeds.example/…",
		"https://blog.example":                            "https://blog.example",
		"https://blog.example/":                           "https://blog.example",
		"https://user:password@blog.example/feed":         "https://blog.example/…",
		"not a url": "(hidden)",
	} {
		if got := capabilityRedacted(raw); got != want {
			t.Errorf("capabilityRedacted(%q) = %q, want %q", raw, got, want)
		}
	}
}
