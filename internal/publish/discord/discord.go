// Package discord publishes posts to a Discord channel through a webhook
// (the Secret's webhookURL): POST <webhook>?wait=true with the text as
// content and images as embeds, so Discord answers with the message it
// created. Delete removes such a message again (DELETE
// <webhook>/messages/<id>); one that is already gone counts as deleted.
package discord

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// Info declares Discord channel webhooks.
var Info = publish.Info{
	Platform: "discord",
	// Webhook embeds show images and GIFs; a video can only be linked.
	Rules:              rules.Rules{Name: "Discord", Limit: 2000, Counter: rules.UTF16Length, Media: rules.MediaLimits{Max: 10, Images: 10, GIFs: 10}},
	CredentialKeys:     []string{"webhookURL"},
	PostsPerHour:       1800,
	PostsPerHourSource: "30 messages per minute per webhook",
	Deletes:            true,
}

// Info declares the platform.
func (p *Publisher) Info() publish.Info { return Info }

// Publisher posts to Discord webhooks.
type Publisher struct {
	// Client sends every request, media downloads included; nil means
	// http.DefaultClient.
	Client *http.Client
}

// New returns a Discord publisher using client.
func New(client *http.Client) *Publisher { return &Publisher{Client: client} }

var _ publish.Deleter = (*Publisher)(nil)

// Discord's JSON error codes that Herald tells apart; both come with 404.
const (
	// unknownWebhook means the webhook itself is gone.
	unknownWebhook = 10015
	// unknownMessage means the message is gone, which a deletion wants.
	unknownMessage = 10008
)

// apiError is Discord's error body.
type apiError struct {
	Code       int     `json:"code"`
	RetryAfter float64 `json:"retry_after"`
}

func readError(body []byte) apiError {
	var e apiError
	_ = json.Unmarshal(body, &e)
	return e
}

func (e apiError) failure() publish.Failure {
	f := publish.Failure{RetryAfter: time.Duration(e.RetryAfter * float64(time.Second))}
	if e.Code == unknownWebhook {
		f.Kind = publish.CredentialsRejected
	}
	return f
}

func decodeError(_ int, body []byte) publish.Failure { return readError(body).failure() }

func (p *Publisher) webhook(prof publish.Profile) (publish.API, *url.URL, error) {
	raw, err := prof.Credentials.Get("webhookURL")
	if err != nil {
		return publish.API{}, nil, err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return publish.API{}, nil, publish.Errorf(publish.Permanent, "discord: credentials key webhookURL is not an http(s) URL")
	}
	return publish.API{Platform: Info.Platform, Client: p.Client, Secrets: prof.Credentials, Decode: decodeError}, u, nil
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
	return publish.Account{ID: w.ID, Handle: w.Name, URL: w.channelURL(), CharacterLimit: Info.Rules.Limit}, nil
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

// Delete deletes a message the webhook sent. The webhook URL's query is
// kept: Discord finds a message in a thread only with its thread_id.
func (p *Publisher) Delete(ctx context.Context, prof publish.Profile, externalID string) error {
	if externalID == "" {
		return publish.Errorf(publish.Permanent, "discord: cannot delete a message without its id")
	}
	if _, err := strconv.ParseUint(externalID, 10, 64); err != nil {
		return publish.Errorf(publish.Permanent, "discord: cannot delete message %q: Discord message ids are decimal numbers", externalID)
	}
	api, u, err := p.webhook(prof)
	if err != nil {
		return err
	}
	// A message already gone and a webhook that is gone both answer 404;
	// only the body's code tells them apart.
	var gone bool
	api.Decode = func(_ int, body []byte) publish.Failure {
		e := readError(body)
		gone = e.Code == unknownMessage
		return e.failure()
	}
	msg := *u
	msg.Path = strings.TrimRight(u.Path, "/") + "/messages/" + externalID
	msg.RawPath = ""
	// Idempotent: a repeated deletion finds the message gone, so a lost
	// answer is worth retrying.
	_, err = api.Do(ctx, publish.Request{Op: "DELETE webhook message", Method: http.MethodDelete, URL: msg.String(), Idempotent: true})
	if gone {
		return nil
	}
	return err
}
