package rules

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Attachment is what Herald knows of one attachment when it checks a post:
// its type and URL always; what only the file can tell once Herald has read
// its first bytes (publish.Inspect), zero until then.
type Attachment struct {
	// Type is image, video or gif (see MediaType).
	Type string
	// URL is where the file is.
	URL string
	// Format is the file's format as its first bytes or its host said
	// ("jpeg", "mp4"); empty when the file was not read, and then the
	// URL's extension names it.
	Format string
	// Bytes is the file's size; 0 when not known.
	Bytes int64
	// Width and Height are an image's size in pixels; 0 when not known.
	Width, Height int
}

// FileFormat is the format the attachment's file is in: Format once it was
// read, else the one its URL's extension names; "" when neither says.
func (a Attachment) FileFormat() string {
	if a.Format != "" {
		return a.Format
	}
	u := a.URL
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return extFormats[strings.ToLower(path.Ext(u))]
}

// extFormats are the formats file extensions name.
var extFormats = map[string]string{
	".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".jfif": "jpeg", ".png": "png", ".gif": "gif",
	".webp": "webp", ".bmp": "bmp", ".tif": "tiff", ".tiff": "tiff", ".heic": "heif", ".heif": "heif",
	".avif": "avif", ".mp4": "mp4", ".m4v": "m4v", ".mov": "mov", ".qt": "mov", ".webm": "webm",
	".mpeg": "mpeg", ".mpg": "mpeg", ".avi": "avi", ".mkv": "mkv",
}

// mimeFormats are the formats media types name.
var mimeFormats = map[string]string{
	"image/jpeg": "jpeg", "image/pjpeg": "jpeg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
	"image/bmp": "bmp", "image/x-ms-bmp": "bmp", "image/tiff": "tiff", "image/heic": "heif", "image/heif": "heif",
	"image/avif": "avif", "video/mp4": "mp4", "video/x-m4v": "m4v", "video/quicktime": "mov", "video/webm": "webm",
	"video/mpeg": "mpeg", "video/x-msvideo": "avi", "video/x-matroska": "mkv", "text/html": "html",
}

// FormatOfMIME returns the format a media type names ("image/jpeg" is
// "jpeg"), or "" for one that names no file format Herald knows.
func FormatOfMIME(mediaType string) string { return mimeFormats[strings.ToLower(mediaType)] }

// formatNames are formats as people write them.
var formatNames = map[string]string{
	"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WebP", "bmp": "BMP", "tiff": "TIFF", "heif": "HEIF",
	"avif": "AVIF", "mp4": "MP4", "m4v": "M4V", "mov": "MOV", "webm": "WebM", "mpeg": "MPEG", "avi": "AVI",
	"mkv": "MKV", "html": "an HTML page, not a media file",
}

// FormatNames writes formats as people read them: "JPEG", "MP4 or MOV",
// "JPEG, PNG or GIF".
func FormatNames(formats []string) string {
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = formatNames[f]
		if names[i] == "" {
			names[i] = strings.ToUpper(f)
		}
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Ratio is an aspect ratio, width to height, as platforms write it: 4:5,
// 1.91:1.
type Ratio struct{ W, H float64 }

func (r Ratio) String() string {
	return strconv.FormatFloat(r.W, 'f', -1, 64) + ":" + strconv.FormatFloat(r.H, 'f', -1, 64)
}

// Ratios is the range of aspect ratios a platform takes, from its tallest
// to its widest; the zero value takes any.
type Ratios struct{ Tallest, Widest Ratio }

// Set reports whether the range limits anything.
func (r Ratios) Set() bool { return r.Tallest.H > 0 && r.Widest.H > 0 }

// ratioSlack absorbs the rounding of whole pixels: 1080×566 is the 1.91:1
// Instagram documents, though it is 1.908.
const ratioSlack = 0.001

// Fits reports whether an image of width×height pixels is within the range.
func (r Ratios) Fits(width, height int) bool {
	v := float64(width) / float64(height)
	return v >= r.Tallest.W/r.Tallest.H-ratioSlack && v <= r.Widest.W/r.Widest.H+ratioSlack
}

func (r Ratios) String() string { return r.Tallest.String() + " to " + r.Widest.String() }

// FormatsFor lists the formats the platform takes for a media type; none
// means any.
func (m MediaLimits) FormatsFor(mediaType string) []string {
	switch mediaType {
	case MediaImage:
		return m.ImageFormats
	case MediaVideo:
		return m.VideoFormats
	}
	return nil
}

// NeedsFile reports whether checking a reaches past its URL: the
// platform's limits for its type name a size or an aspect ratio, which only
// the file shows, or formats, which a URL without a known extension does
// not tell.
func (m MediaLimits) NeedsFile(a Attachment) bool {
	return m.BytesFor(a.Type) > 0 || (a.Type == MediaImage && m.ImageRatios.Set()) || len(m.FormatsFor(a.Type)) > 0
}

// The codes of the problems CheckFiles finds.
const (
	ProblemMediaFormat      = "MediaFormat"
	ProblemMediaTooLarge    = "MediaTooLarge"
	ProblemMediaAspectRatio = "MediaAspectRatio"
)

// AboutFile reports whether p is about what an attachment's file holds
// (its format, size or aspect ratio), which reading the file may change.
func (p Problem) AboutFile() bool {
	return p.Code == ProblemMediaFormat || p.Code == ProblemMediaTooLarge || p.Code == ProblemMediaAspectRatio
}

// CheckFiles returns every reason the attachments' files cannot be
// published on the platform, from what is known of them: the format of
// each (read from the file, else named by its URL's extension), and, once
// the file was read, its size and an image's aspect ratio. What is not
// known is not held against it: the platform's own fetch judges it.
func (r Rules) CheckFiles(media []Attachment) []Problem {
	var out []Problem
	m := r.Media
	for i, a := range media {
		add := func(code, format string, args ...any) {
			out = append(out, Problem{Code: code, Message: fmt.Sprintf("Attachment %d (%s): ", i+1, MediaLabel(a.URL)) + fmt.Sprintf(format, args...)})
		}
		plural := typePlural(a.Type)
		if formats, f := m.FormatsFor(a.Type), a.FileFormat(); len(formats) > 0 && f != "" && !slices.Contains(formats, f) {
			add(ProblemMediaFormat, "%s takes %s as %s only, and this file is %s; convert it, or use another.",
				r.Name, plural, FormatNames(formats), FormatNames([]string{f}))
		}
		if limit := m.BytesFor(a.Type); limit > 0 && a.Bytes > limit {
			add(ProblemMediaTooLarge, "%s takes %s of up to %s, and this file has %s; use a smaller one.",
				r.Name, plural, FileSize(limit), fileSizeOf(a.Bytes, limit))
		}
		if a.Type == MediaImage && m.ImageRatios.Set() && a.Width > 0 && a.Height > 0 && !m.ImageRatios.Fits(a.Width, a.Height) {
			add(ProblemMediaAspectRatio, "%s takes images from %s (tallest) to %s (widest), and this one is %d×%d, %.2f:1; crop it to fit.",
				r.Name, m.ImageRatios.Tallest, m.ImageRatios.Widest, a.Width, a.Height, float64(a.Width)/float64(a.Height))
		}
	}
	return out
}

func typePlural(mediaType string) string {
	switch mediaType {
	case MediaGIF:
		return "GIFs"
	case MediaVideo:
		return "videos"
	}
	return "images"
}

// fileSizeOf writes a file's size to a tenth of a MB (or GB), or in bytes
// where that would read as the limit it is over.
func fileSizeOf(n, limit int64) string {
	mb := func(n int64) string {
		if n >= GB {
			return strconv.FormatFloat(float64(n)/GB, 'f', 1, 64) + " GB"
		}
		return strconv.FormatFloat(float64(n)/MB, 'f', 1, 64) + " MB"
	}
	if n < MB || mb(n) == mb(limit) {
		return fmt.Sprintf("%d bytes", n)
	}
	return mb(n)
}

// MediaLabel returns a media URL fit for messages: scheme, host and path,
// without the user, query or fragment, which may carry a credential or a
// signature.
func MediaLabel(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}
