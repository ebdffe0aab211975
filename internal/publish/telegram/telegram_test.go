package telegram_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/platformtest"
	"github.com/herald-dev/herald/internal/publish/telegram"
)

const botToken = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

// fakeBotAPI follows the Bot API: POST /bot<token>/<method> with JSON,
// answers {ok:true,result} or {ok:false,error_code,description,parameters}
// with the matching HTTP status. deleteMessage deletes a message the bot
// sent, and answers 400 "message to delete not found" for any other.
type fakeBotAPI struct {
	*platformtest.Server

	mu       sync.Mutex
	messages map[float64]bool
}

func newFakeBotAPI(t *testing.T) *fakeBotAPI {
	f := &fakeBotAPI{Server: platformtest.NewServer(t), messages: map[float64]bool{}}
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
		f.mu.Lock()
		defer f.mu.Unlock()
		msg := func(id int) map[string]any {
			f.messages[float64(id)] = true
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
		case "deleteMessage":
			id, _ := in["message_id"].(float64)
			if !f.messages[id] {
				fail(w, 400, "Bad Request: message to delete not found")
				return
			}
			delete(f.messages, id)
			ok(true)
		default:
			fail(w, 404, "Not Found")
		}
	})
	return f
}

func (f *fakeBotAPI) holds(id int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.messages[float64(id)]
}

func newPublisher(f *fakeBotAPI, client *http.Client) *telegram.Publisher {
	p := telegram.New(client)
	p.BaseURL = f.URL
	return p
}

var prof = publish.Profile{Platform: telegram.Info.Platform, Credentials: publish.Credentials{"botToken": []byte(botToken), "chatID": []byte("@heraldnews")}}

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
			}}, "43,44"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFakeBotAPI(t)
			res, err := newPublisher(f, nil).Publish(context.Background(), prof, publish.Post{Text: "Hello", Media: tc.media})
			g.Expect(err).NotTo(HaveOccurred())
			first, _, _ := strings.Cut(tc.id, ",")
			g.Expect(res).To(Equal(publish.Result{ExternalID: tc.id, URL: "https://t.me/heraldnews/" + first, PublishedAt: published}))
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

func errorBody(status int, msg string) string {
	return fmt.Sprintf(`{"ok":false,"error_code":%d,"description":%q}`, status, msg)
}

// errorCases are the failures every Bot API method maps the same way.
func errorCases() []platformtest.ErrorCase {
	return append(platformtest.StandardCases(errorBody),
		platformtest.ErrorCase{Name: "429 with parameters.retry_after", Status: 429,
			Body: `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 35","parameters":{"retry_after":35}}`,
			Kind: publish.Retryable, RetryAfter: 35 * time.Second, Message: "Too Many Requests: retry after 35"},
		platformtest.ErrorCase{Name: "bot removed from the channel", Status: 403,
			Body: errorBody(403, "Forbidden: bot is not a member of the channel chat"), Kind: publish.CredentialsRejected, Message: "bot is not a member"},
	)
}

// The token is part of every request URL; no error may show it.
var secrets = []string{botToken, "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"}

func TestErrors(t *testing.T) {
	platformtest.CheckErrors(t, errorCases(), secrets, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
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

func TestDelete(t *testing.T) {
	g := NewWithT(t)
	f := newFakeBotAPI(t)
	pub := newPublisher(f, nil)
	res, err := pub.Publish(context.Background(), prof, publish.Post{Text: "Hello"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.holds(42)).To(BeTrue())

	g.Expect(pub.Delete(context.Background(), prof, res.ExternalID)).To(Succeed())
	route := "POST /bot" + botToken + "/deleteMessage"
	g.Expect(f.Last(t, route).JSON(t)).To(Equal(map[string]any{"chat_id": "@heraldnews", "message_id": 42.0}))
	g.Expect(f.holds(42)).To(BeFalse())

	// Telegram answers "message to delete not found" now; it is gone either way.
	g.Expect(pub.Delete(context.Background(), prof, res.ExternalID)).To(Succeed())
	g.Expect(f.Find(route)).To(HaveLen(2))

	wrongToken := publish.Profile{Credentials: publish.Credentials{"botToken": []byte("123456789:wrong-token-value"), "chatID": []byte("@heraldnews")}}
	err = pub.Delete(context.Background(), wrongToken, res.ExternalID)
	g.Expect(publish.KindOf(err)).To(Equal(publish.CredentialsRejected))
	g.Expect(err.Error()).To(ContainSubstring("deleteMessage"))
	g.Expect(err.Error()).NotTo(ContainSubstring("wrong-token-value"))
}

func TestDeleteAlbum(t *testing.T) {
	g := NewWithT(t)
	f := newFakeBotAPI(t)
	pub := newPublisher(f, nil)
	res, err := pub.Publish(context.Background(), prof, publish.Post{Text: "Hello", Media: []publish.Media{{URL: "https://cdn.example/a.jpg"}, {URL: "https://cdn.example/b.jpg"}}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.holds(43) && f.holds(44)).To(BeTrue())

	g.Expect(pub.Delete(context.Background(), prof, res.ExternalID)).To(Succeed())
	g.Expect(f.holds(43) || f.holds(44)).To(BeFalse(), "every message of the album is gone")
	g.Expect(f.Find("POST /bot" + botToken + "/deleteMessage")).To(HaveLen(2))
}

func TestDeleteTooLate(t *testing.T) {
	g := NewWithT(t)
	f := newFakeBotAPI(t)
	f.Override("POST /bot"+botToken+"/deleteMessage", platformtest.ErrorCase{Status: 400, Body: errorBody(400, "Bad Request: message can't be deleted")}.Handler(t))
	err := newPublisher(f, nil).Delete(context.Background(), prof, "42")
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("message can't be deleted"))
	g.Expect(err.Error()).To(ContainSubstring("48 hours"))
	g.Expect(err.Error()).To(ContainSubstring("delete it by hand"))
}

func TestDeleteRefusesMalformedIDs(t *testing.T) {
	f := newFakeBotAPI(t)
	const notAnID = "Telegram message ids are positive whole numbers"
	platformtest.CheckRefusedIDs(t, f.Server, map[string]string{
		"": "cannot delete a message without its id", "abc": notAnID, "0": notAnID, "-42": notAnID, "4.2": notAnID,
		"https://t.me/heraldnews/42": notAnID, "42,": notAnID, "42,x": notAnID,
	}, func(id string) error { return newPublisher(f, nil).Delete(context.Background(), prof, id) })
}

func TestDeleteErrors(t *testing.T) {
	// A repeated deletion is harmless, so a lost answer is Retryable.
	cases := platformtest.DeleteCases(errorCases(), false)
	platformtest.CheckErrors(t, cases, secrets, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := newFakeBotAPI(t)
		f.Override("POST /bot"+botToken+"/deleteMessage", answer)
		return newPublisher(f, client).Delete(context.Background(), prof, "42")
	})
}
