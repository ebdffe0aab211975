// Package rules holds every platform's length and media rules, and the
// rendering of a post's final text, in one place: the publishers check posts
// with it before calling a platform, and the preview tool shows the same
// counts a person would see on the platform.
package rules

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"github.com/herald-dev/herald/internal/publish"
)

// Rules are one platform's limits as Herald can publish to it.
type Rules struct {
	// Platform is the platform the rules are for.
	Platform publish.Platform
	// Name is the platform's name as people write it ("X", "Bluesky").
	Name string
	// Limit is the most Count may return for the text; 0 means unlimited.
	Limit int
	// CaptionLimit, when set, replaces Limit for posts with media (a
	// Telegram photo caption may have 1024 characters).
	CaptionLimit int
	// Unit names what Count counts, for messages ("characters",
	// "weighted characters", "graphemes").
	Unit string
	// MaxBytes, when set, also caps the UTF-8 size of the text (Bluesky
	// stores at most 3000 bytes).
	MaxBytes int
	// Media limits the attachments.
	Media MediaLimits
	count func(string) int
}

// MediaLimits say how many attachments of each type one post may carry.
// For each count, Unlimited means no limit and 0 means not supported.
type MediaLimits struct {
	// Max limits all attachments together; Images, GIFs and Videos limit
	// each type.
	Max, Images, GIFs, Videos int
	// VideoAlone and GIFAlone: a video (or GIF) must be the only attachment.
	VideoAlone, GIFAlone bool
}

// Unlimited marks a limit that does not apply.
const Unlimited = -1

var anyMedia = MediaLimits{Max: Unlimited, Images: Unlimited, GIFs: Unlimited, Videos: Unlimited}

// platforms holds the defaults. Media limits are the platform's, narrowed
// to what Herald's adapter can upload (noted where it matters).
var platforms = map[publish.Platform]Rules{
	publish.X: {Name: "X", Limit: 280, Unit: "weighted characters", count: XWeightedLength,
		// X takes 4 images, 1 GIF or 1 video; Herald uploads images only
		// (GIFs and videos need X's chunked, asynchronous upload).
		Media: MediaLimits{Max: 4, Images: 4}},
	publish.Bluesky: {Name: "Bluesky", Limit: 300, Unit: "graphemes", MaxBytes: 3000, count: uniseg.GraphemeClusterCount,
		// Bluesky video goes through a separate video service Herald does not use.
		Media: MediaLimits{Max: 4, Images: 4}},
	publish.Mastodon: {Name: "Mastodon", Limit: 500, Unit: "characters", count: MastodonLength,
		Media: MediaLimits{Max: 4, Images: 4, GIFs: 4, Videos: 1, VideoAlone: true}},
	publish.LinkedIn: {Name: "LinkedIn", Limit: 3000, Unit: "characters", count: utf16Length,
		Media: MediaLimits{Max: 20, Images: 20, GIFs: 20}},
	publish.Threads: {Name: "Threads", Limit: 500, Unit: "characters", count: ThreadsLength,
		Media: MediaLimits{Max: 20, Images: 20, Videos: 20}},
	publish.Telegram: {Name: "Telegram", Limit: 4096, CaptionLimit: 1024, Unit: "characters", count: utf16Length,
		Media: MediaLimits{Max: 10, Images: 10, Videos: 10, GIFs: 1, GIFAlone: true}},
	publish.Discord: {Name: "Discord", Limit: 2000, Unit: "characters", count: utf16Length,
		// Webhook embeds show images and GIFs; a video can only be linked.
		Media: MediaLimits{Max: 10, Images: 10, GIFs: 10}},
	publish.Slack: {Name: "Slack", Limit: 40000, Unit: "characters", count: utf8.RuneCountInString,
		Media: MediaLimits{Max: 10, Images: 10, GIFs: 10}},
	publish.Webhook: {Name: "webhook", Unit: "characters", Media: anyMedia},
	publish.Sandbox: {Name: "sandbox", Unit: "characters", Media: anyMedia},
}

// For returns the rules of platform. A positive characterLimitOverride (a
// profile's characterLimit, or the limit a Mastodon instance reports)
// replaces the default text limit. An unknown platform gets no limits.
func For(platform publish.Platform, characterLimitOverride int) Rules {
	r, ok := platforms[platform]
	if !ok {
		r = Rules{Name: string(platform), Unit: "characters", Media: anyMedia}
	}
	r.Platform = platform
	if r.count == nil {
		r.count = utf8.RuneCountInString
	}
	if characterLimitOverride > 0 {
		r.Limit = characterLimitOverride
	}
	return r
}

// Count returns the length of text as the platform counts it.
func (r Rules) Count(text string) int {
	if r.count == nil {
		return utf8.RuneCountInString(text)
	}
	return r.count(text)
}

// LimitFor returns the text limit that applies to a post with the given
// number of attachments (0 means unlimited).
func (r Rules) LimitFor(mediaCount int) int {
	if mediaCount > 0 && r.CaptionLimit > 0 && (r.Limit == 0 || r.CaptionLimit < r.Limit) {
		return r.CaptionLimit
	}
	return r.Limit
}

// Problem is one reason a post cannot be published as it is.
type Problem struct {
	// Code is a CamelCase identifier: Empty, TooLong, TooManyBytes,
	// TooManyMedia, MediaNotSupported, MediaMustBeAlone.
	Code string
	// Message is a sentence a person can act on.
	Message string
}

// String returns the message.
func (p Problem) String() string { return p.Message }

// Check returns every reason text and media cannot be published on the
// platform; none means the post fits.
func (r Rules) Check(text string, media []publish.Media) []Problem {
	var out []Problem
	add := func(code, format string, args ...any) {
		out = append(out, Problem{Code: code, Message: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(text) == "" && len(media) == 0 {
		add("Empty", "The post for %s has neither text nor media.", r.Name)
	}
	if limit := r.LimitFor(len(media)); limit > 0 {
		if n := r.Count(text); n > limit {
			what := "a post"
			if limit == r.CaptionLimit && len(media) > 0 {
				what = "a caption with media"
			}
			add("TooLong", "%s allows %d %s in %s; this text has %d, %d over.", r.Name, limit, r.Unit, what, n, n-limit)
		}
	}
	if r.MaxBytes > 0 && len(text) > r.MaxBytes {
		add("TooManyBytes", "%s stores at most %d bytes of text; this text has %d, %d over.", r.Name, r.MaxBytes, len(text), len(text)-r.MaxBytes)
	}
	return append(out, r.checkMedia(media)...)
}

func (r Rules) checkMedia(media []publish.Media) []Problem {
	var out []Problem
	m := r.Media
	if len(media) == 0 {
		return nil
	}
	if m.Max != Unlimited && len(media) > m.Max {
		if m.Max == 0 {
			return []Problem{{Code: "MediaNotSupported", Message: fmt.Sprintf("Herald cannot attach media to %s posts; remove the %d attachment(s).", r.Name, len(media))}}
		}
		out = append(out, Problem{Code: "TooManyMedia", Message: fmt.Sprintf("%s allows %d attachments per post; this post has %d, %d over.", r.Name, m.Max, len(media), len(media)-m.Max)})
	}
	counts := map[string]int{}
	for _, md := range media {
		counts[md.EffectiveType()]++
	}
	for _, t := range []struct {
		typ, plural string
		max         int
		alone       bool
	}{
		{publish.MediaImage, "images", m.Images, false},
		{publish.MediaGIF, "GIFs", m.GIFs, m.GIFAlone},
		{publish.MediaVideo, "videos", m.Videos, m.VideoAlone},
	} {
		n := counts[t.typ]
		switch {
		case n == 0:
		case t.max == 0:
			out = append(out, Problem{Code: "MediaNotSupported", Message: fmt.Sprintf("Herald cannot post %s to %s; this post has %d.", t.plural, r.Name, n)})
		case t.max != Unlimited && n > t.max:
			out = append(out, Problem{Code: "TooManyMedia", Message: fmt.Sprintf("%s allows %d %s per post; this post has %d, %d over.", r.Name, t.max, t.plural, n, n-t.max)})
		case t.alone && len(media) > 1:
			out = append(out, Problem{Code: "MediaMustBeAlone", Message: fmt.Sprintf("%s posts with %s cannot carry other attachments; this post has %d attachments.", r.Name, t.plural, len(media))})
		}
	}
	for _, typ := range slices.Sorted(maps.Keys(counts)) {
		if typ != publish.MediaImage && typ != publish.MediaGIF && typ != publish.MediaVideo {
			out = append(out, Problem{Code: "MediaNotSupported", Message: fmt.Sprintf("Media type %q is not one of image, video or gif.", typ)})
		}
	}
	return out
}
