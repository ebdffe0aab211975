package telegram

import "testing"

func TestMessageURL(t *testing.T) {
	for _, tc := range []struct {
		chat chat
		want string
	}{
		{chat{ID: -1001234567890, Username: "heraldnews"}, "https://t.me/heraldnews/7"},
		{chat{ID: -1001234567890}, "https://t.me/c/1234567890/7"},
		{chat{ID: 424242}, ""},
	} {
		if got := messageURL(message{MessageID: 7, Chat: tc.chat}); got != tc.want {
			t.Errorf("messageURL(%+v) = %q, want %q", tc.chat, got, tc.want)
		}
	}
}
