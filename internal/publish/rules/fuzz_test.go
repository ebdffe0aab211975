package rules

import (
	"testing"
	"unicode/utf8"
)

// FuzzCounters counts any text as each platform does: no panic, counts in
// sane bounds, the same count twice.
func FuzzCounters(f *testing.F) {
	for _, seed := range []string{"hello", "👩‍👩‍👧‍👦 family", "see https://example.com/a?b=c.", "#tag @user@instance.example", "日本語のテキスト", "\xff\xfe broken", "e\u0301\u0301\u0301"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		runes := utf8.RuneCountInString(text)
		if n := UTF16Length(text); n < runes || n > 2*runes {
			t.Fatalf("UTF16Length(%q) = %d for %d runes", text, n, runes)
		}
		if n := Graphemes(text); n < 0 || n > runes {
			t.Fatalf("Graphemes(%q) = %d for %d runes", text, n, runes)
		}
		for name, count := range map[string]func(string) int{"X": XWeightedLength, "Mastodon": MastodonLength, "Threads": ThreadsLength} {
			a, b := count(text), count(text)
			if a < 0 || a != b {
				t.Fatalf("%s length of %q = %d then %d", name, text, a, b)
			}
		}
		for _, s := range Links(text) {
			if s.Start < 0 || s.End > len(text) || s.Start > s.End {
				t.Fatalf("Links(%q) gave span %+v", text, s)
			}
		}
	})
}
