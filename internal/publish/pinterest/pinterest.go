// Package pinterest publishes Pins with Pinterest's API v5: POST /v5/pins
// to the board the profile's Secret names, an image by URL (Pinterest
// fetches it, so it must be public), the post's text as the description,
// its first line as the title and its first link as the Pin's link. Delete
// takes a Pin down again with DELETE /v5/pins/{pin_id}.
//
// Pinterest has no idempotency key. Each attempt carries a marker in the
// Pin's private note, recorded in the delivery before the Pin is created;
// a try after an unclear answer looks for the marker among the board's
// newest Pins before it creates another.
package pinterest

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// Info declares Pinterest.
var Info = publish.Info{
	Checkpoints: true,
	Platform:    "pinterest",
	Rules: rules.Rules{Name: "Pinterest", Limit: 800, Media: rules.MediaLimits{
		Max: 1, Images: 1, Required: []string{rules.MediaImage},
		// What Pinterest documents for a Pin's image.
		ImageBytes: 20 * rules.MB, ImageFormats: []string{"bmp", "jpeg", "png", "tiff", "gif", "webp"}}},
	CredentialKeys: []string{"accessToken", "boardId"},
	MediaByURL:     true,
	Resend: publish.Resend{
		By: "a marker in the Pin's private note, looked for among the board's newest Pins before sending again",
	},
	Deletes: true,
}

// Info declares the platform.
func (p *Publisher) Info() publish.Info { return Info }

// UseAPI sends every call to baseURL instead of the platform's host.
func (p *Publisher) UseAPI(baseURL string) { p.BaseURL = baseURL }

// DefaultBaseURL is Pinterest's API host.
const DefaultBaseURL = "https://api.pinterest.com"

// TitleLimit is the most characters a Pin's title holds.
const TitleLimit = 100

// Publisher posts Pins.
type Publisher struct {
	// Client sends every request; nil means http.DefaultClient.
	Client *http.Client
	// BaseURL replaces DefaultBaseURL (tests point it at a fake).
	BaseURL string
	// Now is the clock for PublishedAt when Pinterest reports none; nil
	// means time.Now.
	Now func() time.Time
}

var _ publish.Deleter = (*Publisher)(nil)

// New returns a Pinterest publisher using client.
func New(client *http.Client) *Publisher { return &Publisher{Client: client} }

type session struct {
	api    publish.API
	base   string
	header http.Header
	board  string
}

func (p *Publisher) session(prof publish.Profile) (*session, error) {
	header, err := prof.Credentials.Bearer()
	if err != nil {
		return nil, err
	}
	board, err := prof.Credentials.Get("boardId")
	if err != nil {
		return nil, err
	}
	base := strings.TrimRight(p.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	return &session{api: publish.API{Platform: Info.Platform, Client: p.Client, Secrets: prof.Credentials}, base: base, header: header, board: board}, nil
}

func (s *session) get(ctx context.Context, op, path string, out any) error {
	_, err := s.api.Do(ctx, publish.Request{Op: op, Method: http.MethodGet, URL: s.base + path, Header: s.header, Out: out})
	return err
}

// Verify reads the account and the board the profile pins to.
func (p *Publisher) Verify(ctx context.Context, prof publish.Profile) (publish.Account, error) {
	s, err := p.session(prof)
	if err != nil {
		return publish.Account{}, err
	}
	var me struct {
		Username string `json:"username"`
	}
	if err := s.get(ctx, "GET /v5/user_account", "/v5/user_account", &me); err != nil {
		return publish.Account{}, err
	}
	var board struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := s.get(ctx, "GET /v5/boards/:board_id", "/v5/boards/"+url.PathEscape(s.board), &board); err != nil {
		return publish.Account{}, err
	}
	return publish.Account{ID: me.Username + "/" + board.ID, Handle: "@" + me.Username + " · " + board.Name,
		URL: "https://www.pinterest.com/" + url.PathEscape(me.Username) + "/", CharacterLimit: Info.Rules.Limit}, nil
}

// pin is a Pin as the API answers it.
type pin struct {
	ID        string `json:"id"`
	Note      string `json:"note"`
	CreatedAt string `json:"created_at"`
}

func (p *Publisher) result(pn pin) publish.Result {
	res := publish.Result{ExternalID: pn.ID, URL: "https://www.pinterest.com/pin/" + url.PathEscape(pn.ID) + "/"}
	if t, err := time.Parse("2006-01-02T15:04:05", pn.CreatedAt); err == nil {
		res.PublishedAt = t.UTC()
	} else if p.Now != nil {
		res.PublishedAt = p.Now().UTC()
	} else {
		res.PublishedAt = time.Now().UTC()
	}
	return res
}

// Marker is the private note that names one attempt's Pin.
func Marker(idempotencyKey string) string { return "Herald " + idempotencyKey }

// Publish creates the Pin, unless an earlier try of the attempt already
// did.
func (p *Publisher) Publish(ctx context.Context, prof publish.Profile, post publish.Post) (publish.Result, error) {
	if err := Info.Screen(ctx, p.Client, post); err != nil {
		return publish.Result{}, err
	}
	s, err := p.session(prof)
	if err != nil {
		return publish.Result{}, err
	}
	marker := Marker(post.IdempotencyKey)
	if post.Progress == marker {
		if found, err := s.find(ctx, marker); err != nil || found != nil {
			if err != nil {
				return publish.Result{}, err
			}
			return p.result(*found), nil
		}
	}
	if err := post.Checkpoint(ctx, marker); err != nil {
		return publish.Result{}, err
	}
	m := post.Media[0]
	body := map[string]any{
		"board_id":     s.board,
		"description":  post.Text,
		"note":         marker,
		"media_source": map[string]string{"source_type": "image_url", "url": m.URL},
	}
	if title := Title(post.Text); title != "" {
		body["title"] = title
	}
	if link := rules.FirstLink(post.Text); link != "" {
		body["link"] = link
	}
	if m.AltText != "" {
		body["alt_text"] = m.AltText
	}
	var created pin
	_, err = s.api.Do(ctx, publish.Request{Op: "POST /v5/pins", Method: http.MethodPost, URL: s.base + "/v5/pins", Header: s.header, JSON: body, Out: &created})
	if publish.KindOf(err) == publish.Unknown {
		// The answer was lost: the board shows whether the Pin was made.
		if found, ferr := s.find(ctx, marker); ferr == nil && found != nil {
			return p.result(*found), nil
		}
	}
	if err != nil {
		return publish.Result{}, err
	}
	return p.result(created), nil
}

// find looks for the Pin carrying marker among the board's newest Pins.
func (s *session) find(ctx context.Context, marker string) (*pin, error) {
	var page struct {
		Items []pin `json:"items"`
	}
	if err := s.get(ctx, "GET /v5/boards/:board_id/pins", "/v5/boards/"+url.PathEscape(s.board)+"/pins?page_size=50", &page); err != nil {
		return nil, err
	}
	for _, pn := range page.Items {
		if pn.Note == marker {
			return &pn, nil
		}
	}
	return nil, nil
}

// Title is a Pin's title for text: its first line, cut at a word to fit
// TitleLimit.
func Title(text string) string { return rules.Headline(text, TitleLimit) }

// pinID matches the ids Pinterest gives Pins.
var pinID = regexp.MustCompile(`^[0-9]{1,30}$`)

// Delete deletes the Pin; one already gone is deleted.
func (p *Publisher) Delete(ctx context.Context, prof publish.Profile, externalID string) error {
	if !pinID.MatchString(externalID) {
		return publish.Errorf(publish.Permanent, "pinterest: cannot delete %q: a Pin is named by its numeric id", externalID)
	}
	s, err := p.session(prof)
	if err != nil {
		return err
	}
	_, err = s.api.Do(ctx, publish.Request{Op: "DELETE /v5/pins/:pin_id", Method: http.MethodDelete, URL: s.base + "/v5/pins/" + externalID, Header: s.header, Idempotent: true})
	if publish.IsNotFound(err) {
		return nil
	}
	return err
}
