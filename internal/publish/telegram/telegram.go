// Package telegram publishes posts to a Telegram chat or channel with the
// Bot API: https://api.telegram.org/bot<botToken>/<method>, with the
// Secret's chatID. Text goes through sendMessage; one attachment through
// sendPhoto, sendVideo or sendAnimation with the text as caption; several
// through sendMediaGroup. Telegram fetches the media from their URLs.
// Delete uses deleteMessage, which Telegram allows a bot only for messages
// younger than 48 hours and where it has the right to delete them.
package telegram

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// Info declares Telegram chats and channels, posted to by a bot.
var Info = publish.Info{
	Platform: "telegram",
	Rules: rules.Rules{Name: "Telegram", Limit: 4096, CaptionLimit: 1024, Counter: rules.UTF16Length,
		Media: rules.MediaLimits{Max: 10, Images: 10, Videos: 10, GIFs: 1, GIFAlone: true}},
	CredentialKeys:     []string{"botToken", "chatID"},
	MediaByURL:         true,
	PostsPerHour:       1200,
	PostsPerHourSource: "20 messages per minute in a group",
	Deletes:            true,
}

// Info declares the platform.
func (p *Publisher) Info() publish.Info { return Info }

// UseAPI sends every call to baseURL instead of the platform's host.
func (p *Publisher) UseAPI(baseURL string) { p.BaseURL = baseURL }

// DefaultBaseURL is the public Bot API server.
const DefaultBaseURL = "https://api.telegram.org"

// Publisher posts with a Telegram bot.
type Publisher struct {
	// Client sends every request, media downloads included; nil means
	// http.DefaultClient.
	Client *http.Client
	// BaseURL is the Bot API server; empty means DefaultBaseURL (a
	// self-hosted Bot API server or a test fake may replace it).
	BaseURL string
}

// New returns a Telegram publisher using client.
func New(client *http.Client) *Publisher { return &Publisher{Client: client} }

var _ publish.Deleter = (*Publisher)(nil)

// envelope is every Bot API answer: {ok, result} or {ok:false, error_code,
// description, parameters}.
type envelope struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

func decodeError(_ int, body []byte) publish.Failure {
	var e envelope
	_ = json.Unmarshal(body, &e)
	return publish.Failure{Message: e.Description, RetryAfter: time.Duration(e.Parameters.RetryAfter) * time.Second}
}

type bot struct {
	api    publish.API
	base   string
	chatID string
}

func (p *Publisher) bot(prof publish.Profile, needChat bool) (*bot, error) {
	token, err := prof.Credentials.Get("botToken")
	if err != nil {
		return nil, err
	}
	b := &bot{api: publish.API{Platform: Info.Platform, Client: p.Client, Secrets: prof.Credentials, Decode: decodeError}}
	if needChat {
		if b.chatID, err = prof.Credentials.Get("chatID"); err != nil {
			return nil, err
		}
	}
	base := strings.TrimRight(p.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	b.base = base + "/bot" + token + "/"
	return b, nil
}

// call invokes a Bot API method; the method name, never the URL (which
// holds the token), names it in errors.
func (b *bot) call(ctx context.Context, method string, params map[string]any, out any) error {
	var env envelope
	if _, err := b.api.Do(ctx, publish.Request{Op: method, Method: http.MethodPost, URL: b.base + method, JSON: params,
		Idempotent: idempotent(method), Out: &env}); err != nil {
		return err
	}
	if !env.OK {
		// Telegram sends errors with a matching HTTP status, so this is
		// only a 2xx that still says ok:false.
		e := publish.Errorf(publish.KindForStatus(env.ErrorCode, idempotent(method)), "telegram %s: %s", method, env.Description)
		e.StatusCode = env.ErrorCode
		return e
	}
	if err := json.Unmarshal(env.Result, out); err != nil {
		kind := publish.Unknown
		if idempotent(method) {
			kind = publish.Retryable
		}
		return publish.Errorf(kind, "telegram %s: unexpected result: %v", method, err)
	}
	return nil
}

// idempotent reports whether calling method again cannot act twice: reads,
// and deleteMessage, which then finds nothing to delete.
func idempotent(method string) bool {
	return strings.HasPrefix(method, "get") || method == "deleteMessage"
}

type chat struct {
	ID       int64  `json:"id"`
	Type     string `json:"type"`
	Title    string `json:"title"`
	Username string `json:"username"`
}

type message struct {
	MessageID int64 `json:"message_id"`
	Date      int64 `json:"date"`
	Chat      chat  `json:"chat"`
}

// Verify checks the bot token (getMe) and that the bot can see the chat
// (getChat), and describes the chat.
func (p *Publisher) Verify(ctx context.Context, prof publish.Profile) (publish.Account, error) {
	b, err := p.bot(prof, true)
	if err != nil {
		return publish.Account{}, err
	}
	var me struct {
		Username string `json:"username"`
	}
	if err := b.call(ctx, "getMe", map[string]any{}, &me); err != nil {
		return publish.Account{}, err
	}
	var c chat
	if err := b.call(ctx, "getChat", map[string]any{"chat_id": b.chatID}, &c); err != nil {
		return publish.Account{}, err
	}
	handle := c.Title
	if c.Username != "" {
		handle = "@" + c.Username
	}
	acct := publish.Account{ID: strconv.FormatInt(c.ID, 10), Handle: handle, CharacterLimit: Info.Rules.Limit}
	if c.Username != "" {
		acct.URL = "https://t.me/" + c.Username
	}
	return acct, nil
}

// mediaMethod maps an attachment type to its send method and field.
var mediaMethod = map[string][2]string{
	publish.MediaImage: {"sendPhoto", "photo"},
	publish.MediaVideo: {"sendVideo", "video"},
	publish.MediaGIF:   {"sendAnimation", "animation"},
}

// Publish sends the message and returns a t.me link where the chat has one.
func (p *Publisher) Publish(ctx context.Context, prof publish.Profile, post publish.Post) (publish.Result, error) {
	b, err := p.bot(prof, true)
	if err != nil {
		return publish.Result{}, err
	}
	var msg message
	switch len(post.Media) {
	case 0:
		err = b.call(ctx, "sendMessage", map[string]any{"chat_id": b.chatID, "text": post.Text}, &msg)
	case 1:
		m := mediaMethod[post.Media[0].EffectiveType()]
		if m[0] == "" {
			return publish.Result{}, publish.Errorf(publish.Permanent, "telegram: cannot send media of type %q", post.Media[0].EffectiveType())
		}
		params := map[string]any{"chat_id": b.chatID, m[1]: post.Media[0].URL}
		if post.Text != "" {
			params["caption"] = post.Text
		}
		err = b.call(ctx, m[0], params, &msg)
	default:
		var album []map[string]any
		for i, m := range post.Media {
			typ := "photo"
			if m.EffectiveType() == publish.MediaVideo {
				typ = "video"
			}
			item := map[string]any{"type": typ, "media": m.URL}
			if i == 0 && post.Text != "" {
				item["caption"] = post.Text
			}
			album = append(album, item)
		}
		var msgs []message
		if err = b.call(ctx, "sendMediaGroup", map[string]any{"chat_id": b.chatID, "media": album}, &msgs); err == nil && len(msgs) > 0 {
			// An album is a message per attachment: keep every id, so a
			// deletion takes them all; the link goes to the first.
			ids := make([]string, len(msgs))
			for i, m := range msgs {
				ids[i] = strconv.FormatInt(m.MessageID, 10)
			}
			msg = msgs[0]
			return publish.Result{ExternalID: strings.Join(ids, ","), URL: messageURL(msg), PublishedAt: time.Unix(msg.Date, 0).UTC()}, nil
		}
	}
	if err != nil {
		return publish.Result{}, err
	}
	return publish.Result{ExternalID: strconv.FormatInt(msg.MessageID, 10), URL: messageURL(msg), PublishedAt: time.Unix(msg.Date, 0).UTC()}, nil
}

// messageURL links public chats by username and private supergroups and
// channels (ids -100…) by t.me/c; private chats have no link.
func messageURL(m message) string {
	switch id := strconv.FormatInt(m.Chat.ID, 10); {
	case m.Chat.Username != "":
		return fmt.Sprintf("https://t.me/%s/%d", m.Chat.Username, m.MessageID)
	case strings.HasPrefix(id, "-100"):
		return fmt.Sprintf("https://t.me/c/%s/%d", strings.TrimPrefix(id, "-100"), m.MessageID)
	}
	return ""
}

// Telegram's descriptions of the deleteMessage refusals Herald tells apart;
// both come with 400, like every other bad request.
const (
	messageGone        = "message to delete not found"
	messageUndeletable = "message can't be deleted"
)

// Delete deletes the messages Publish reported: one, or each message of
// an album (their ids comma-separated).
func (p *Publisher) Delete(ctx context.Context, prof publish.Profile, externalID string) error {
	if externalID == "" {
		return publish.Errorf(publish.Permanent, "telegram: cannot delete a message without its id")
	}
	var ids []int64
	for _, part := range strings.Split(externalID, ",") {
		id, err := strconv.ParseInt(part, 10, 64)
		if err != nil || id <= 0 {
			return publish.Errorf(publish.Permanent, "telegram: cannot delete message %q: Telegram message ids are positive whole numbers", externalID)
		}
		ids = append(ids, id)
	}
	b, err := p.bot(prof, true)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := b.deleteMessage(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// deleteMessage deletes one message; one already gone counts as deleted.
func (b *bot) deleteMessage(ctx context.Context, id int64) error {
	var gone bool
	b.api.Decode = func(status int, body []byte) publish.Failure {
		f := decodeError(status, body)
		switch {
		case strings.Contains(f.Message, messageGone):
			gone = true
		case strings.Contains(f.Message, messageUndeletable):
			f.Kind = publish.Permanent
			f.Message += ": a bot may delete only messages younger than 48 hours, and only where it has the right to; delete it by hand in Telegram"
		}
		return f
	}
	var deleted bool
	err := b.call(ctx, "deleteMessage", map[string]any{"chat_id": b.chatID, "message_id": id}, &deleted)
	if gone {
		return nil
	}
	return err
}
