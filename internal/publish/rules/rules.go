// Package rules holds the length and media rules of social platforms and
// the rendering of a post's final text: what a Rules value is, how each
// platform counts characters, and how a text and its attachments (their
// number, types, and what is known of their files) are checked against a
// platform's limits. Each platform's own values are
// declared by its adapter (publish.Info); the publishers check posts with
// them before calling a platform, and the preview tool shows the same counts
// a person would see on the platform. The package depends on nothing of
// Herald's, so every other package may use it.
package rules

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// Rules are one platform's limits as Herald can publish to it.
type Rules struct {
	// Name is the platform's name as people write it ("X", "Bluesky").
	Name string
	// Limit is the most Count may return for the text; 0 means unlimited.
	Limit int
	// CaptionLimit, when set, replaces Limit for posts with media (a
	// Telegram photo caption may have 1024 characters).
	CaptionLimit int
	// Unit names what Count counts, for messages ("characters",
	// "weighted characters", "graphemes"); empty means "characters".
	Unit string
	// MaxBytes, when set, also caps the UTF-8 size of the text (Bluesky
	// stores at most 3000 bytes).
	MaxBytes int
	// MaxHashtags, when set, caps the different hashtags in the text
	// (Instagram takes 30; Threads one topic tag).
	MaxHashtags int
	// Media limits the attachments.
	Media MediaLimits
	// Counter counts a text as the platform does; nil counts code points.
	Counter func(string) int
}

// MediaLimits say how many attachments of each type one post may carry,
// and what their files may be. For each count, Unlimited means no limit
// and 0 means not supported.
type MediaLimits struct {
	// Max limits all attachments together; Images, GIFs and Videos limit
	// each type.
	Max, Images, GIFs, Videos int
	// VideoAlone and GIFAlone: a video (or GIF) must be the only attachment.
	VideoAlone, GIFAlone bool
	// ImageBytes, GIFBytes and VideoBytes are the largest file of each
	// type the platform documents; 0 where it documents none. For a
	// platform Herald uploads to, 0 means Herald cannot upload the type.
	ImageBytes, GIFBytes, VideoBytes int64
	// ImageFormats and VideoFormats list the file formats the platform
	// documents for images and videos ("jpeg", "png", "mp4", "mov"; see
	// FormatNames); none means any.
	ImageFormats, VideoFormats []string
	// ImageRatios is the range of aspect ratios the platform takes for an
	// image (Instagram: 4:5 to 1.91:1); the zero value takes any.
	ImageRatios Ratios
	// Required lists the media types of which a post must carry at least
	// one (Instagram needs an image or a video, TikTok a video); empty
	// when text alone may be posted.
	Required []string
}

// Describe says in words what the limits allow, for docs and previews,
// such as "up to 10: 10 images, 1 video (alone); an image or a video is
// required".
func (m MediaLimits) Describe() string {
	if m.Max == Unlimited {
		return "any"
	}
	if m.Max == 0 {
		return "none"
	}
	var parts []string
	for _, t := range []struct {
		n         int
		one, many string
		alone     bool
		bytes     int64
		formats   []string
		ratios    Ratios
	}{
		{m.Images, "image", "images", false, m.ImageBytes, m.ImageFormats, m.ImageRatios},
		{m.GIFs, "GIF", "GIFs", m.GIFAlone, m.GIFBytes, nil, Ratios{}},
		{m.Videos, "video", "videos", m.VideoAlone, m.VideoBytes, m.VideoFormats, Ratios{}},
	} {
		if t.n == 0 {
			continue
		}
		what := t.many
		if t.n == 1 {
			what = t.one
		}
		if t.bytes > 0 {
			what += " of up to " + FileSize(t.bytes)
		}
		var details []string
		if len(t.formats) > 0 {
			details = append(details, FormatNames(t.formats))
		}
		if t.ratios.Set() {
			details = append(details, t.ratios.String())
		}
		if t.alone {
			details = append(details, "alone")
		}
		if len(details) > 0 {
			what += " (" + strings.Join(details, "; ") + ")"
		}
		parts = append(parts, fmt.Sprintf("%d %s", t.n, what))
	}
	s := fmt.Sprintf("up to %d: %s", m.Max, strings.Join(parts, ", "))
	if len(m.Required) > 0 {
		s += "; " + m.requiredWords() + " is required"
	}
	return s
}

// requiredWords names the required media: "an image or a video".
func (m MediaLimits) requiredWords() string {
	var names []string
	for _, t := range m.Required {
		switch t {
		case MediaImage:
			names = append(names, "an image")
		case MediaVideo:
			names = append(names, "a video")
		case MediaGIF:
			names = append(names, "a GIF")
		default:
			names = append(names, t)
		}
	}
	return strings.Join(names, " or ")
}

// FileSize writes an upload limit as platforms document it: MiB when it is
// a whole number of them, MB otherwise.
func FileSize(n int64) string {
	if n%GB == 0 {
		return fmt.Sprintf("%d GB", n/GB)
	}
	if n%MiB == 0 {
		return fmt.Sprintf("%d MiB", n/MiB)
	}
	return fmt.Sprintf("%d MB", n/MB)
}

// BytesFor is the largest upload the platform accepts for a media type
// (MediaImage, MediaGIF or MediaVideo); 0 means no upload is made.
func (m MediaLimits) BytesFor(mediaType string) int64 {
	switch mediaType {
	case MediaGIF:
		return m.GIFBytes
	case MediaVideo:
		return m.VideoBytes
	}
	return m.ImageBytes
}

// The byte sizes platforms write limits in.
const (
	MB  = 1000 * 1000
	GB  = 1000 * MB
	MiB = 1 << 20
)

// Unlimited marks a limit that does not apply.
const Unlimited = -1

// AnyMedia accepts any number of attachments of every type.
var AnyMedia = MediaLimits{Max: Unlimited, Images: Unlimited, GIFs: Unlimited, Videos: Unlimited}

// The media types an attachment may have.
const (
	MediaImage = "image"
	MediaVideo = "video"
	MediaGIF   = "gif"
)

// MediaType returns declared when set, otherwise the type implied by the
// URL's file extension (image when nothing better is known).
func MediaType(url, declared string) string {
	if declared != "" {
		return strings.ToLower(declared)
	}
	if i := strings.IndexAny(url, "?#"); i >= 0 {
		url = url[:i]
	}
	switch strings.ToLower(path.Ext(url)) {
	case ".gif":
		return MediaGIF
	case ".mp4", ".mov", ".m4v", ".webm", ".mpeg", ".mpg":
		return MediaVideo
	}
	return MediaImage
}

// WithLimit returns the rules with a positive override (a profile's
// characterLimit, or the limit a Mastodon instance reports) in place of the
// default text limit.
func (r Rules) WithLimit(override int) Rules {
	if override > 0 {
		r.Limit = override
	}
	return r
}

// UnitName returns Unit, or "characters" when it is not set.
func (r Rules) UnitName() string {
	if r.Unit == "" {
		return "characters"
	}
	return r.Unit
}

// Count returns the length of text as the platform counts it.
func (r Rules) Count(text string) int {
	if r.Counter == nil {
		return utf8.RuneCountInString(text)
	}
	return r.Counter(text)
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
	// TooManyHashtags, TooManyMedia, MediaNotSupported, MediaMustBeAlone,
	// MediaRequired, MediaFormat, MediaTooLarge, MediaAspectRatio.
	Code string
	// Message is a sentence a person can act on.
	Message string
}

// String returns the message.
func (p Problem) String() string { return p.Message }

// Check returns every reason text and media cannot be published on the
// platform; none means the post fits.
func (r Rules) Check(text string, media []Attachment) []Problem {
	mediaTypes := make([]string, len(media))
	for i, a := range media {
		mediaTypes[i] = a.Type
	}
	var out []Problem
	add := func(code, format string, args ...any) {
		out = append(out, Problem{Code: code, Message: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(text) == "" && len(mediaTypes) == 0 {
		add("Empty", "The post for %s has neither text nor media.", r.Name)
	}
	if limit := r.LimitFor(len(mediaTypes)); limit > 0 {
		if n := r.Count(text); n > limit {
			what := "a post"
			if limit == r.CaptionLimit && len(mediaTypes) > 0 {
				what = "a caption with media"
			}
			add("TooLong", "%s allows %d %s in %s; this text has %d, %d over.", r.Name, limit, r.UnitName(), what, n, n-limit)
		}
	}
	if r.MaxBytes > 0 && len(text) > r.MaxBytes {
		add("TooManyBytes", "%s stores at most %d bytes of text; this text has %d, %d over.", r.Name, r.MaxBytes, len(text), len(text)-r.MaxBytes)
	}
	if n := Hashtags(text); r.MaxHashtags > 0 && n > r.MaxHashtags {
		add("TooManyHashtags", "%s allows %d hashtags in a post; this text has %d, %d over.", r.Name, r.MaxHashtags, n, n-r.MaxHashtags)
	}
	out = append(out, r.checkMedia(mediaTypes)...)
	return append(out, r.CheckFiles(media)...)
}

func (r Rules) checkMedia(types []string) []Problem {
	var out []Problem
	m := r.Media
	if len(m.Required) > 0 && !slices.ContainsFunc(types, func(t string) bool { return slices.Contains(m.Required, t) }) {
		out = append(out, Problem{Code: "MediaRequired", Message: fmt.Sprintf(
			"%s posts need %s: add one to media, as a public https URL the platform can fetch.", r.Name, m.requiredWords())})
	}
	if len(types) == 0 {
		return out
	}
	if m.Max != Unlimited && len(types) > m.Max {
		if m.Max == 0 {
			return []Problem{{Code: "MediaNotSupported", Message: fmt.Sprintf("Herald cannot attach media to %s posts; remove the %d attachment(s).", r.Name, len(types))}}
		}
		out = append(out, Problem{Code: "TooManyMedia", Message: fmt.Sprintf("%s allows %d attachments per post; this post has %d, %d over.", r.Name, m.Max, len(types), len(types)-m.Max)})
	}
	counts := map[string]int{}
	for _, t := range types {
		counts[t]++
	}
	for _, t := range []struct {
		typ, plural string
		max         int
		alone       bool
	}{
		{MediaImage, "images", m.Images, false},
		{MediaGIF, "GIFs", m.GIFs, m.GIFAlone},
		{MediaVideo, "videos", m.Videos, m.VideoAlone},
	} {
		n := counts[t.typ]
		switch {
		case n == 0:
		case t.max == 0:
			out = append(out, Problem{Code: "MediaNotSupported", Message: fmt.Sprintf("Herald cannot post %s to %s; this post has %d.", t.plural, r.Name, n)})
		case t.max != Unlimited && n > t.max:
			out = append(out, Problem{Code: "TooManyMedia", Message: fmt.Sprintf("%s allows %d %s per post; this post has %d, %d over.", r.Name, t.max, t.plural, n, n-t.max)})
		case t.alone && len(types) > 1:
			out = append(out, Problem{Code: "MediaMustBeAlone", Message: fmt.Sprintf("%s posts with %s cannot carry other attachments; this post has %d attachments.", r.Name, t.plural, len(types))})
		}
	}
	for _, typ := range slices.Sorted(maps.Keys(counts)) {
		if typ != MediaImage && typ != MediaGIF && typ != MediaVideo {
			out = append(out, Problem{Code: "MediaNotSupported", Message: fmt.Sprintf("Media type %q is not one of image, video or gif.", typ)})
		}
	}
	return out
}

// Graphemes counts grapheme clusters, what a reader sees as one character
// (Bluesky's unit).
func Graphemes(text string) int { return uniseg.GraphemeClusterCount(text) }
