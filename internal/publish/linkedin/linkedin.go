// Package linkedin publishes posts with LinkedIn's Posts API
// (POST /rest/posts, versioned with the LinkedIn-Version header) as the
// Secret's authorURN (a member, urn:li:person:…, or an organization,
// urn:li:organization:…). Images go through the Images API first. Delete
// takes a post down again with DELETE /rest/posts/{URN}.
package linkedin

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

// Info declares LinkedIn members and organisations.
var Info = publish.Info{
	Platform:           "linkedin",
	Rules:              rules.Rules{Name: "LinkedIn", Limit: 3000, Counter: rules.UTF16Length, Media: rules.MediaLimits{Max: 20, Images: 20, GIFs: 20, ImageBytes: 5 * rules.MB, GIFBytes: 5 * rules.MB}},
	CredentialKeys:     []string{"accessToken", "authorURN"},
	PostsPerHour:       6,
	PostsPerHourSource: "150 member posts per day",
	Deletes:            true,
}

// Info declares the platform.
func (p *Publisher) Info() publish.Info { return Info }

// UseAPI sends every call to baseURL instead of the platform's host.
func (p *Publisher) UseAPI(baseURL string) { p.BaseURL = baseURL }

// DefaultBaseURL is LinkedIn's API host.
const DefaultBaseURL = "https://api.linkedin.com"

// DefaultVersion is the LinkedIn-Version sent when Publisher.Version is
// empty. LinkedIn retires versions about a year after release: move it on
// with the API's changelog.
const DefaultVersion = "202609"

// Publisher posts to LinkedIn.
type Publisher struct {
	// Client sends every request, media downloads included; nil means
	// http.DefaultClient.
	Client *http.Client
	// BaseURL replaces DefaultBaseURL (tests point it at a fake).
	BaseURL string
	// Version replaces DefaultVersion.
	Version string
	// Now is the clock for PublishedAt (the API answers only an id); nil
	// means time.Now.
	Now func() time.Time
}

var _ publish.Deleter = (*Publisher)(nil)

// New returns a LinkedIn publisher using client.
func New(client *http.Client) *Publisher { return &Publisher{Client: client} }

type session struct {
	api    publish.API
	base   string
	header http.Header
	author string
}

func (p *Publisher) session(prof publish.Profile) (*session, error) {
	header, err := prof.Credentials.Bearer()
	if err != nil {
		return nil, err
	}
	author, err := prof.Credentials.Get("authorURN")
	if err != nil {
		return nil, err
	}
	base, version := strings.TrimRight(p.BaseURL, "/"), p.Version
	if base == "" {
		base = DefaultBaseURL
	}
	if version == "" {
		version = DefaultVersion
	}
	header.Set("Linkedin-Version", version)
	header.Set("X-Restli-Protocol-Version", "2.0.0")
	return &session{api: publish.API{Platform: Info.Platform, Client: p.Client, Secrets: prof.Credentials}, base: base, author: author, header: header}, nil
}

// Verify reads the member the token belongs to (OpenID Connect
// /v2/userinfo) and, when authorURN names a member, checks it is that one.
func (p *Publisher) Verify(ctx context.Context, prof publish.Profile) (publish.Account, error) {
	s, err := p.session(prof)
	if err != nil {
		return publish.Account{}, err
	}
	var me struct {
		Sub  string `json:"sub"`
		Name string `json:"name"`
	}
	if _, err := s.api.Do(ctx, publish.Request{Op: "GET /v2/userinfo", Method: http.MethodGet, URL: s.base + "/v2/userinfo",
		Header: http.Header{"Authorization": s.header["Authorization"]}, Out: &me}); err != nil {
		return publish.Account{}, err
	}
	if member, ok := strings.CutPrefix(s.author, "urn:li:person:"); ok && member != me.Sub {
		return publish.Account{}, publish.Errorf(publish.Permanent,
			"linkedin: authorURN %s is not the member the access token belongs to (urn:li:person:%s)", s.author, me.Sub)
	}
	acct := publish.Account{ID: s.author, Handle: me.Name, CharacterLimit: Info.Rules.Limit}
	if org, ok := strings.CutPrefix(s.author, "urn:li:organization:"); ok {
		acct.URL = "https://www.linkedin.com/company/" + org + "/"
	}
	return acct, nil
}

// Publish uploads the images, then creates the post; LinkedIn answers 201
// with the post's URN in the x-restli-id header.
func (p *Publisher) Publish(ctx context.Context, prof publish.Profile, post publish.Post) (publish.Result, error) {
	s, err := p.session(prof)
	if err != nil {
		return publish.Result{}, err
	}
	body := map[string]any{
		"author":     s.author,
		"commentary": Commentary(post.Text),
		"visibility": "PUBLIC",
		"distribution": map[string]any{
			"feedDistribution": "MAIN_FEED", "targetEntities": []any{}, "thirdPartyDistributionChannels": []any{},
		},
		"lifecycleState":            "PUBLISHED",
		"isReshareDisabledByAuthor": false,
	}
	var images []map[string]string
	for _, m := range post.Media {
		urn, err := p.uploadImage(ctx, s, m)
		if err != nil {
			return publish.Result{}, err
		}
		images = append(images, map[string]string{"id": urn, "altText": m.AltText})
	}
	switch len(images) {
	case 0:
	case 1:
		body["content"] = map[string]any{"media": images[0]}
	default:
		body["content"] = map[string]any{"multiImage": map[string]any{"images": images}}
	}
	res, err := s.api.Do(ctx, publish.Request{Op: "POST /rest/posts", Method: http.MethodPost, URL: s.base + "/rest/posts", Header: s.header, JSON: body})
	if err != nil {
		return publish.Result{}, err
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	urn := res.Header.Get("X-Restli-Id")
	result := publish.Result{ExternalID: urn, PublishedAt: now().UTC()}
	if urn != "" {
		result.URL = "https://www.linkedin.com/feed/update/" + url.PathEscape(urn) + "/"
	}
	return result, nil
}

// postURN matches the URNs LinkedIn names posts by: shares, and ugcPosts
// for posts made through the older UGC Posts API.
var postURN = regexp.MustCompile(`^urn:li:(share|ugcPost):[0-9]+$`)

// Delete deletes the post. LinkedIn documents the DELETE as idempotent, so
// a lost answer is retried rather than left Unknown.
func (p *Publisher) Delete(ctx context.Context, prof publish.Profile, externalID string) error {
	switch {
	case externalID == "":
		return publish.Errorf(publish.Permanent, "linkedin: cannot delete a post without its URN")
	case !postURN.MatchString(externalID):
		return publish.Errorf(publish.Permanent, "linkedin: cannot delete %q: a post is named by a URN such as urn:li:share:123 or urn:li:ugcPost:123", externalID)
	}
	s, err := p.session(prof)
	if err != nil {
		return err
	}
	// Rest.li 2.0 reads ':' in a path key as its own syntax, so the URN's
	// colons must travel as %3A; url.PathEscape would leave them as they are.
	_, err = s.api.Do(ctx, publish.Request{Op: "DELETE /rest/posts/:urn", Method: http.MethodDelete,
		URL: s.base + "/rest/posts/" + url.QueryEscape(externalID), Header: s.header, Idempotent: true})
	if publish.IsNotFound(err) {
		return nil // deleted already, by Herald or by hand
	}
	return err
}

// uploadImage registers an upload with the Images API, PUTs the bytes to
// the URL it returns and gives back the image URN. An image no post uses
// is harmless, so both calls count as idempotent.
func (p *Publisher) uploadImage(ctx context.Context, s *session, m publish.Media) (string, error) {
	file, err := s.api.FetchMedia(ctx, m, Info.Rules.Media.BytesFor(m.EffectiveType()))
	if err != nil {
		return "", err
	}
	defer file.Close()
	var init struct {
		Value struct {
			UploadURL string `json:"uploadUrl"`
			Image     string `json:"image"`
		} `json:"value"`
	}
	if _, err := s.api.Do(ctx, publish.Request{Op: "POST /rest/images?action=initializeUpload", Method: http.MethodPost,
		URL: s.base + "/rest/images?action=initializeUpload", Header: s.header, Idempotent: true,
		JSON: map[string]any{"initializeUploadRequest": map[string]string{"owner": s.author}}, Out: &init}); err != nil {
		return "", err
	}
	if _, err := s.api.Do(ctx, publish.Request{Op: "PUT image upload", Method: http.MethodPut, URL: init.Value.UploadURL,
		Header: http.Header{"Authorization": s.header["Authorization"]}, Upload: &publish.Upload{File: file}, Idempotent: true}); err != nil {
		return "", err
	}
	return init.Value.Image, nil
}

var (
	// littleTextReserved are the characters LinkedIn's "little text"
	// format reserves; unescaped, they can cut the post short.
	littleTextReserved = regexp.MustCompile(`[\\|{}@\[\]()<>#*_~]`)
	hashtag            = regexp.MustCompile(`(^|\s)#([\p{L}\p{N}_]+)`)
)

// Commentary converts plain text to LinkedIn's little text format: every
// reserved character is escaped with a backslash, and hashtags become
// {hashtag|\#|tag} so LinkedIn links them.
func Commentary(text string) string {
	var b strings.Builder
	last := 0
	for _, m := range hashtag.FindAllStringSubmatchIndex(text, -1) {
		b.WriteString(escape(text[last:m[3]]))
		b.WriteString(`{hashtag|\#|` + escape(text[m[4]:m[5]]) + `}`)
		last = m[1]
	}
	b.WriteString(escape(text[last:]))
	return b.String()
}

func escape(s string) string { return littleTextReserved.ReplaceAllString(s, `\$0`) }
