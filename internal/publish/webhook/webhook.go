// Package webhook publishes posts as HMAC-signed JSON to any HTTP endpoint,
// for platforms Herald has no adapter for and for people's own automation.
//
// The request: POST <endpoint> with JSON
// {id, deliveryId, text, media, profile, publishedAt} and the headers
// X-Herald-Delivery (the delivery id, stable across retries of one
// attempt), X-Herald-Timestamp (Unix seconds) and X-Herald-Signature
// ("sha256=" + hex HMAC-SHA256 of the body keyed with the Secret's
// signingSecret). Any 2xx is success; a JSON answer's "id" and "url"
// become the post's external id and URL.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// Info declares generic webhooks: the receiver is the user's own, so Herald
// sets no limits, and it deduplicates by the delivery id Herald sends.
var Info = publish.Info{
	Platform:         "webhook",
	Rules:            rules.Rules{Name: "webhook", Media: rules.AnyMedia},
	CredentialKeys:   []string{"signingSecret"},
	Endpoint:         "the receiver's URL",
	EndpointRequired: true,
	Resend:           publish.Resend{By: "the X-Herald-Delivery header, which receivers deduplicate by"},
}

// Info declares the platform.
func (p *Publisher) Info() publish.Info { return Info }

// Payload is the JSON body Herald sends.
type Payload struct {
	// ID and DeliveryID both carry the delivery id: receivers deduplicate
	// on it, since a retry of the same attempt sends the same one.
	ID         string `json:"id"`
	DeliveryID string `json:"deliveryId"`
	// Text is the rendered post; Media its attachments ([] when none).
	Text  string          `json:"text"`
	Media []publish.Media `json:"media"`
	// Profile is the profile's handle.
	Profile string `json:"profile"`
	// PublishedAt is when Herald sent the delivery (whole seconds, UTC).
	PublishedAt time.Time `json:"publishedAt"`
}

// Publisher posts to webhooks.
type Publisher struct {
	// Client sends every request, media downloads included; nil means
	// http.DefaultClient.
	Client *http.Client
	// Now is the clock for publishedAt and the timestamp header; nil means
	// time.Now.
	Now func() time.Time
}

// New returns a webhook publisher using client.
func New(client *http.Client) *Publisher { return &Publisher{Client: client} }

// Sign returns the X-Herald-Signature value for body, so receivers (and
// tests) can check a delivery the way Herald signs it.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks that the profile has a signing secret and an absolute
// http(s) endpoint; it sends nothing, as a webhook has no way to answer a
// check without receiving a post.
func (p *Publisher) Verify(_ context.Context, prof publish.Profile) (publish.Account, error) {
	if _, err := prof.Credentials.Get("signingSecret"); err != nil {
		return publish.Account{}, err
	}
	u, err := endpoint(prof)
	if err != nil {
		return publish.Account{}, err
	}
	// The receiver's path and query are often its secret (a capability
	// URL); the profile's URL, which viewers see, is the host alone.
	return publish.Account{ID: u.Host, Handle: prof.Handle, URL: u.Scheme + "://" + u.Host}, nil
}

func endpoint(prof publish.Profile) (*url.URL, error) {
	u, err := url.Parse(prof.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, publish.Errorf(publish.Permanent, "webhook endpoint must be an absolute http or https URL")
	}
	return u, nil
}

// Publish sends the signed delivery.
func (p *Publisher) Publish(ctx context.Context, prof publish.Profile, post publish.Post) (publish.Result, error) {
	secret, err := prof.Credentials.Get("signingSecret")
	if err != nil {
		return publish.Result{}, err
	}
	u, err := endpoint(prof)
	if err != nil {
		return publish.Result{}, err
	}
	delivery := post.IdempotencyKey
	if delivery == "" {
		delivery = rand.Text()
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	at := now().UTC().Truncate(time.Second)
	media := post.Media
	if media == nil {
		media = []publish.Media{}
	}
	body, err := json.Marshal(Payload{ID: delivery, DeliveryID: delivery, Text: post.Text, Media: media, Profile: prof.Handle, PublishedAt: at})
	if err != nil {
		return publish.Result{}, publish.Errorf(publish.Permanent, "webhook: cannot encode the delivery: %v", err)
	}
	api := publish.API{Platform: Info.Platform, Client: p.Client, Secrets: prof.Credentials}
	res, err := api.Do(ctx, publish.Request{
		Op: "POST " + u.Host, Method: http.MethodPost, URL: u.String(),
		Body: body, ContentType: "application/json",
		Header: http.Header{
			"X-Herald-Delivery":  {delivery},
			"X-Herald-Timestamp": {strconv.FormatInt(at.Unix(), 10)},
			"X-Herald-Signature": {Sign(secret, body)},
		},
	})
	if err != nil {
		return publish.Result{}, err
	}
	result := publish.Result{ExternalID: delivery, PublishedAt: at}
	// The answer is optional and free-form: read id and url when it is JSON.
	var answer map[string]any
	dec := json.NewDecoder(bytes.NewReader(res.Body))
	dec.UseNumber()
	if dec.Decode(&answer) == nil {
		if id, ok := answer["id"]; ok && id != nil && fmt.Sprint(id) != "" {
			result.ExternalID = fmt.Sprint(id)
		}
		if s, ok := answer["url"].(string); ok {
			result.URL = s
		}
	}
	return result, nil
}
