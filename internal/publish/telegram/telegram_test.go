package telegram_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/platformtest"
	"github.com/herald-dev/herald/internal/publish/telegram"
)

const botToken = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

// newFakeBotAPI follows the Bot API: POST /bot<token>/<method> with JSON,
// answers {ok:true,result} or {ok:false,error_code,description,parameters}
// with the matching HTTP status.
func newFakeBotAPI(t *testing.T) *platformtest.Server {
	f := platformtest.NewServer(t)
	fail := func(w http.ResponseWriter, code int, desc string) {
		platformtest.WriteJSON(w, code, map[string]any{"ok": false, "error_code": code, "description": desc})
	}
	channel := map[string]any{"id": -1001234567890, "type": "channel", "title": "Herald News", "username": "heraldnews"}
	f.Handle("POST /{bot}/{method}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("bot") != "bot"+botToken {
			fail(w, 401, "Unauthorized")
			return
		}
		var in map[string]any
		_ = json.NewDecoder(r.Body).Decode(&in)
		ok := func(result any) { platformtest.WriteJSON(w, 200, map[string]any{"ok": true, "result": result}) }
		if m := r.PathValue("method"); m != "getMe" && in["chat_id"] != "@heraldnews" {
			fail(w, 400, "Bad Request: chat not found")
			return
		}
		msg := func(id int) map[string]any {
			return map[string]any{"message_id": id, "date": 1782896400, "chat": channel}
		}
		switch r.PathValue("method") {
		case "getMe":
			ok(map[string]any{"id": 123456789, "is_bot": true, "first_name": "Herald", "username": "herald_bot"})
		case "getChat":
			ok(channel)
		case "sendMessage", "sendPhoto", "sendVideo", "sendAnimation":
			ok(msg(42))
		case "sendMediaGroup":
			ok([]any{msg(43), msg(44)})
		default:
			fail(w, 404, "Not Found")
		}
	})
	return f
}

func newPublisher(f *platformtest.Server, client *http.Client) *telegram.Publisher {
	p := telegram.New(client)
	p.BaseURL = f.URL
	return p
}

var prof = publish.Profile{Platform: publish.Telegram, Credentials: publish.Credentials{"botToken": []byte(botToken), "chatID": []byte("@heraldnews")}}

var published = time.Unix(1782896400, 0).UTC()

func TestPublish(t *testing.T) {
	for _, tc := range []struct {
		name   string
		media  []publish.Media
		method string
		body   map[string]any
		id     string
	}{
		{"text", nil, "sendMessage", map[string]any{"chat_id": "@heraldnews", "text": "Hello"}, "42"},
		{"one photo with a caption", []publish.Media{{URL: "https://cdn.example/a.jpg"}}, "sendPhoto",
			map[string]any{"chat_id": "@heraldnews", "photo": "https://cdn.example/a.jpg", "caption": "Hello"}, "42"},
		{"one video", []publish.Media{{URL: "https://cdn.example/a.mp4"}}, "sendVideo",
			map[string]any{"chat_id": "@heraldnews", "video": "https://cdn.example/a.mp4", "caption": "Hello"}, "42"},
		{"one GIF", []publish.Media{{URL: "https://cdn.example/a.gif"}}, "sendAnimation",
			map[string]any{"chat_id": "@heraldnews", "animation": "https://cdn.example/a.gif", "caption": "Hello"}, "42"},
		{"an album", []publish.Media{{URL: "https://cdn.example/a.jpg"}, {URL: "https://cdn.example/b.mp4"}}, "sendMediaGroup",
			map[string]any{"chat_id": "@heraldnews", "media": []any{
				map[string]any{"type": "photo", "media": "https://cdn.example/a.jpg", "caption": "Hello"},
				map[string]any{"type": "video", "media": "https://cdn.example/b.mp4"},
			}}, "43"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFakeBotAPI(t)
			res, err := newPublisher(f, nil).Publish(context.Background(), prof, publish.Post{Text: "Hello", Media: tc.media})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res).To(Equal(publish.Result{ExternalID: tc.id, URL: "https://t.me/heraldnews/" + tc.id, PublishedAt: published}))
			g.Expect(f.Last(t, "POST /bot"+botToken+"/"+tc.method).JSON(t)).To(Equal(tc.body))
		})
	}
}

func TestVerify(t *testing.T) {
	g := NewWithT(t)
	f := newFakeBotAPI(t)
	acct, err := newPublisher(f, nil).Verify(context.Background(), prof)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct).To(Equal(publish.Account{ID: "-1001234567890", Handle: "@heraldnews", URL: "https://t.me/heraldnews", CharacterLimit: 4096}))
	g.Expect(f.Routes()).To(Equal([]string{"POST /bot" + botToken + "/getMe", "POST /bot" + botToken + "/getChat"}))

	wrongChat := publish.Profile{Credentials: publish.Credentials{"botToken": []byte(botToken), "chatID": []byte("@elsewhere")}}
	_, err = newPublisher(f, nil).Verify(context.Background(), wrongChat)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("Bad Request: chat not found"))
	g.Expect(err.Error()).To(ContainSubstring("getChat"))
}

func TestErrors(t *testing.T) {
	body := func(status int, msg string) string {
		return fmt.Sprintf(`{"ok":false,"error_code":%d,"description":%q}`, status, msg)
	}
	cases := append(platformtest.StandardCases(body),
		platformtest.ErrorCase{Name: "429 with parameters.retry_after", Status: 429,
			Body: `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 35","parameters":{"retry_after":35}}`,
			Kind: publish.Retryable, RetryAfter: 35 * time.Second, Message: "Too Many Requests: retry after 35"},
		platformtest.ErrorCase{Name: "bot removed from the channel", Status: 403,
			Body: body(403, "Forbidden: bot is not a member of the channel chat"), Kind: publish.CredentialsRejected, Message: "bot is not a member"},
	)
	// The token is part of every request URL; no error may show it.
	platformtest.CheckErrors(t, cases, []string{botToken, "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"}, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := newFakeBotAPI(t)
		f.Override("POST /bot"+botToken+"/sendMessage", answer)
		_, err := newPublisher(f, client).Publish(context.Background(), prof, publish.Post{Text: "x"})
		return err
	})
	t.Run("unreachable server", func(t *testing.T) {
		g := NewWithT(t)
		f := newFakeBotAPI(t)
		f.Close()
		_, err := newPublisher(f, nil).Publish(context.Background(), prof, publish.Post{Text: "x"})
		g.Expect(publish.KindOf(err)).To(Equal(publish.Retryable))
		g.Expect(err.Error()).NotTo(ContainSubstring(botToken))
	})
	t.Run("missing chat", func(t *testing.T) {
		g := NewWithT(t)
		_, err := telegram.New(nil).Publish(context.Background(), publish.Profile{Credentials: publish.Credentials{"botToken": []byte(botToken)}}, publish.Post{Text: "x"})
		g.Expect(err).To(MatchError("credentials have no key chatID"))
	})
}
