// Package publish is the shared core of Herald's publishers: the Publisher
// interface every platform adapter implements, the values that cross it
// (profiles, posts, results), one error type whose Kind tells the
// reconciler whether and when to try again, and an HTTP helper that maps
// platform responses to those kinds in one place.
//
// Adapters live in sub-packages (sandbox, webhook, mastodon, …), each
// declaring everything about its platform in an Info; the registry package
// assembles them. Nothing here imports Kubernetes.
package publish

import (
	"context"
	"time"

	"github.com/herald-dev/herald/internal/publish/rules"
)

// Platform names a social platform; the values are those of SocialProfile
// spec.platform.
type Platform string

// Credentials holds the keys of a profile's Secret. Values are secrets:
// never log them or put them in errors (API redacts them from its errors).
type Credentials map[string][]byte

// Profile is what an adapter needs to know about one connected account.
type Profile struct {
	// Platform selects the adapter.
	Platform Platform
	// Handle is the account's display handle, used to build post URLs where
	// the platform's API does not return one.
	Handle string
	// Endpoint is the instance or webhook URL for platforms that have one
	// (mastodon, webhook, bluesky's PDS); empty means the platform default.
	Endpoint string
	// Credentials are the keys of the profile's Secret.
	Credentials Credentials
}

// Account describes the account that a profile's credentials belong to, as
// the platform reported it when they were verified.
type Account struct {
	// ID is the platform's id for the account (a DID, a user id, a chat
	// id, a URN); Handle is how people name it; URL is its page.
	ID, Handle, URL string
	// CharacterLimit is the platform's limit for this account (a Mastodon
	// instance reports its own); 0 when unknown.
	CharacterLimit int
	// Note is something a person should know about how Herald posts to
	// this account (TikTok: posts are private); the profile's Ready
	// condition says it. Empty when there is nothing to say.
	Note string
	// Endpoint is where the account lives when the platform says so and it
	// is not where Herald asked: a Bluesky account's PDS, from its DID
	// document, when Herald signed in through an entryway such as
	// bsky.social. Empty otherwise.
	Endpoint string
}

// Media is one attachment, fetched by the adapter from URL when the
// platform needs the bytes.
type Media struct {
	// URL is where the file is; the platform or the adapter fetches it.
	URL string `json:"url"`
	// AltText describes the media for people who cannot see it.
	AltText string `json:"altText,omitempty"`
	// Type is image, video or gif; empty means infer it from the URL (see
	// EffectiveType).
	Type string `json:"type,omitempty"`
}

// The media types Media.Type may hold.
const (
	MediaImage = rules.MediaImage
	MediaVideo = rules.MediaVideo
	MediaGIF   = rules.MediaGIF
)

// EffectiveType returns Type when set, otherwise the type implied by the
// URL's file extension (image when nothing better is known).
func (m Media) EffectiveType() string { return rules.MediaType(m.URL, m.Type) }

// Attachments returns what the URLs tell of the attachments (each one's
// effective type), what rules.Rules.Check takes; Inspect adds what the
// files tell.
func Attachments(media []Media) []rules.Attachment {
	out := make([]rules.Attachment, len(media))
	for i, m := range media {
		out[i] = rules.Attachment{Type: m.EffectiveType(), URL: m.URL}
	}
	return out
}

// Post is one rendered post for one destination.
type Post struct {
	// Text is final: variants, signature and hashtags already applied
	// (rules.Render).
	Text string
	// Media are attached in order.
	Media []Media
	// IdempotencyKey is stable across retries of one delivery attempt;
	// adapters whose platform supports it send it so a retry cannot
	// duplicate the post.
	IdempotencyKey string
	// Progress is what an earlier call of this attempt recorded with
	// Record (a media container id, an upload session): the platform
	// already holds it, so the adapter continues from it instead of
	// making another. Empty when nothing was recorded.
	Progress string
	// Record writes progress into the delivery's status, under the
	// attempt's claim, and returns once it is stored; nil records
	// nothing. Use Checkpoint rather than calling it.
	Record func(ctx context.Context, progress string) error
}

// Checkpoint records progress before the call that publishes: should the
// process die or the answer be lost after that call, the next try of the
// same attempt starts from progress (Post.Progress) and asks the platform
// what became of it, instead of making a second post. When progress cannot
// be recorded, nothing has been published yet, and the error says so: the
// adapter returns it without publishing.
func (p Post) Checkpoint(ctx context.Context, progress string) error {
	if p.Record == nil {
		return nil
	}
	if err := p.Record(ctx, progress); err != nil {
		return Errorf(Retryable, "nothing was published: recording the progress %q before publishing failed: %w", progress, err)
	}
	return nil
}

// Result is what the platform reported for a published post.
type Result struct {
	// ExternalID is the platform's id of the post (an AT URI for Bluesky,
	// a URN for LinkedIn); empty where the platform returns none (Slack).
	ExternalID string
	// URL links to the post where the platform has a page for it.
	URL string
	// PublishedAt is the platform's time for the post, or the time of the
	// answer when the platform reports none.
	PublishedAt time.Time
}

// Publisher is implemented by each platform adapter. Implementations are
// safe for concurrent use and keep no per-profile state that could leak
// between profiles other than caches keyed by credentials.
type Publisher interface {
	// Info declares the platform: its name, rules, credentials and what a
	// repeated send does.
	Info() Info
	// Verify checks that the profile's credentials work and returns the
	// account they belong to.
	Verify(ctx context.Context, p Profile) (Account, error)
	// Publish sends one post and returns what the platform answered. Errors
	// are *Error; their Kind tells whether and when to try again.
	Publish(ctx context.Context, p Profile, post Post) (Result, error)
}

// Deleter is a Publisher that can take a published post down again, for
// ScheduledPosts whose deletionPolicy is DeleteRemote. Platforms whose API
// cannot delete what Herald sent (incoming webhooks) do not implement it.
type Deleter interface {
	// Delete removes the post the platform knows by externalID, the
	// Result.ExternalID that Publish returned. A post that is already gone
	// is not an error. Errors are *Error, as Publish's are: Retryable ones
	// are tried again later, others are reported and left.
	Delete(ctx context.Context, p Profile, externalID string) error
}

// Relocatable is a Publisher whose platform's API lives at one fixed host,
// which an operator may move: to an API gateway or egress proxy, or to a
// test's fake. UseAPI sends every call there instead; platforms whose
// profiles name their own server (spec.endpoint) do not implement it.
type Relocatable interface {
	UseAPI(baseURL string)
}

// Registry maps each platform to its publisher; the reconcilers look the
// adapter up by a profile's platform. registry.Default builds the full set.
type Registry map[Platform]Publisher

// For returns the publisher for platform, or a Permanent error naming the
// platform when Herald has none.
func (r Registry) For(platform Platform) (Publisher, error) {
	if p, ok := r[platform]; ok && p != nil {
		return p, nil
	}
	return nil, Errorf(Permanent, "no publisher for platform %q", platform)
}

// Wait pauses for d, or until ctx ends; then it returns a Retryable error
// saying nothing was published. Adapters use it between polls and for
// artificial latency, so a shutdown never leaves a post half-done.
func Wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return Errorf(Retryable, "nothing was published: %w", ctx.Err())
	}
}

// PollAgain waits poll before the next look at something a platform is
// still processing (a media container, an uploaded video). When the call
// has too little time left for another look, it returns instead a
// Retryable error saying why: nothing is published yet, what the platform
// holds is recorded, and the next try, in 30 s, continues with it.
func PollAgain(ctx context.Context, poll time.Duration, why string) error {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < 2*poll {
		e := Errorf(Retryable, "%s", why)
		e.RetryAfter = 30 * time.Second
		return e
	}
	return Wait(ctx, poll)
}

// Info returns what platform's adapter declares; an unknown platform gets a
// bare Info with no limits, named after itself.
func (r Registry) Info(platform Platform) Info {
	if p, ok := r[platform]; ok && p != nil {
		return p.Info()
	}
	return Info{Platform: platform, Rules: rules.Rules{Name: string(platform), Media: rules.AnyMedia}}
}
