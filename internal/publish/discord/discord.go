// Package discord publishes posts to a Discord channel through a webhook
// (the Secret's webhookURL): POST <webhook>?wait=true with the text as
// content and images as embeds, so Discord answers with the message it
// created.
package discord

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/herald-dev/herald/internal/publish"
)

// Publisher posts to Discord webhooks.
type Publisher struct {
	// Client sends every request, media downloads included; nil means
	// http.DefaultClient.
	Client *http.Client
}

// New returns a Discord publisher using client.
func New(client *http.Client) *Publisher { return &Publisher{Client: client} }

// Discord's JSON error codes that mean the webhook itself is gone.
const unknownWebhook = 10015

func decodeError(_ int, body []byte) publish.Failure {
	var e struct {
		Code       int     `json:"code"`
		RetryAfter float64 `json:"retry_after"`
	}
	_ = json.Unmarshal(body, &e)
	f := publish.Failure{RetryAfter: time.Duration(e.RetryAfter * float64(time.Second))}
	if e.Code == unknownWebhook {
		f.Kind = publish.CredentialsRejected
	}
	return f
}

func (p *Publisher) webhook(prof publish.Profile) (publish.API, *url.URL, error) {
	raw, err := prof.Credentials.Get("webhookURL")
	if err != nil {
		return publish.API{}, nil, err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return publish.API{}, nil, publish.Errorf(publish.Permanent, "discord: credentials key webhookURL is not an http(s) URL")
	}
	return publish.API{Platform: publish.Discord, Client: p.Client, Secrets: prof.Credentials, Decode: decodeError}, u, nil
}

type webhookInfo struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	ChannelID string `json:"channel_id"`
	GuildID   string `json:"guild_id"`
}

func (w webhookInfo) channelURL() string {
	if w.GuildID == "" || w.ChannelID == "" {
		return ""
	}
	return "https://discord.com/channels/" + w.GuildID + "/" + w.ChannelID
}

// Verify reads the webhook (GET on its URL needs no other token) and
// reports its name and channel.
func (p *Publisher) Verify(ctx context.Context, prof publish.Profile) (publish.Account, error) {
	api, u, err := p.webhook(prof)
	if err != nil {
		return publish.Account{}, err
	}
	var w webhookInfo
	if _, err := api.Do(ctx, publish.Request{Op: "GET webhook", Method: http.MethodGet, URL: u.String(), Out: &w}); err != nil {
		return publish.Account{}, err
	}
	return publish.Account{ID: w.ID, Handle: w.Name, URL: w.channelURL(), CharacterLimit: 2000}, nil
}

type message struct {
	ID        string    `json:"id"`
	ChannelID string    `json:"channel_id"`
	GuildID   string    `json:"guild_id"`
	Timestamp time.Time `json:"timestamp"`
}

// Publish executes the webhook. Mentions in the text are not allowed to
// ping anyone (allowed_mentions.parse is empty). Images become embeds
// sharing one url, which Discord shows as a gallery.
func (p *Publisher) Publish(ctx context.Context, prof publish.Profile, post publish.Post) (publish.Result, error) {
	api, u, err := p.webhook(prof)
	if err != nil {
		return publish.Result{}, err
	}
	body := map[string]any{"content": post.Text, "allowed_mentions": map[string]any{"parse": []string{}}}
	var embeds []map[string]any
	for _, m := range post.Media {
		embeds = append(embeds, map[string]any{"url": post.Media[0].URL, "image": map[string]string{"url": m.URL}})
	}
	if len(embeds) > 0 {
		body["embeds"] = embeds
	}
	exec := *u
	q := exec.Query()
	q.Set("wait", "true")
	exec.RawQuery = q.Encode()
	var msg message
	if _, err := api.Do(ctx, publish.Request{Op: "POST webhook", Method: http.MethodPost, URL: exec.String(), JSON: body, Out: &msg}); err != nil {
		return publish.Result{}, err
	}
	res := publish.Result{ExternalID: msg.ID, PublishedAt: msg.Timestamp.UTC()}
	// A message link needs the guild, which the message may omit; the
	// webhook knows it. The post is published either way, so a failure
	// here only leaves the URL empty.
	guild := msg.GuildID
	if guild == "" {
		var w webhookInfo
		if _, err := api.Do(ctx, publish.Request{Op: "GET webhook", Method: http.MethodGet, URL: u.String(), Out: &w}); err == nil {
			guild = w.GuildID
		}
	}
	if guild != "" && msg.ChannelID != "" {
		res.URL = "https://discord.com/channels/" + guild + "/" + msg.ChannelID + "/" + msg.ID
	}
	return res, nil
}

// SafeRetry is false: Discord webhooks have no idempotency key.
func (p *Publisher) SafeRetry() bool { return false }
