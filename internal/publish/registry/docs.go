package registry

import (
	"fmt"
	"strings"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// Markdown is docs/platforms.md: what every adapter declares, in words.
// A test keeps the file equal to it.
func Markdown() string {
	var b strings.Builder
	b.WriteString(`# Platforms

Generated from what each adapter declares (` + "`internal/publish/<platform>`" + `);
a test keeps this page equal to the code. A SocialProfile names one of these in
` + "`spec.platform`" + `, and its Secret (` + "`spec.credentialsSecretRef`" + `) holds the keys listed.

| platform | ` + "`spec.platform`" + ` | posts | Secret keys | endpoint | text | media | a repeated send | delete | posts per hour |
|---|---|---|---|---|---|---|---|---|---|
`)
	for _, i := range Infos() {
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			i.Name(), i.Platform, supports(i.Rules.Media), keys(i), endpoint(i), text(i.Rules), i.Rules.Media.Describe(), resend(i.Resend), yesNo(i.Deletes), perHour(i))
	}
	b.WriteString(`
**A repeated send.** Herald records each attempt before it calls a platform. When
an attempt gets no clear answer (a timeout, or a server error after the request
was sent), the post may be online. Where the platform recognises a repeat of the
same attempt, Herald sends it again under the same key; otherwise the delivery
becomes ` + "`Unknown`" + `, and a person checks the account and retries it by name.

**Posts per hour** is the limit Herald keeps to for one account unless the
profile sets ` + "`spec.postsPerHour`" + `; waiting for it does not count against a
post's ` + "`maxLateness`" + `, and a post's retries do not count as more posts.

**Media by URL.** ` + byURL() + ` fetch each attachment from its URL themselves, so
media URLs must be public; for the others Herald fetches and uploads them.
Instagram and Threads publish through a media container: Herald records the
container in the delivery (` + "`status.deliveries[].progress`" + `) before publishing
it, and a later try of the same attempt asks the container whether it was
published instead of making another; Pinterest's Pins carry a marker in their
private note, recorded the same way and looked for before a Pin is sent again;
for Facebook the time of the first send is recorded, and a later try looks
among the Page's posts since then for one with the post's text;
TikTok's ` + "`publish_id`" + ` and YouTube's upload session are recorded and followed, so
a video is never sent twice. Either way a crash or a lost answer does not
publish twice. TikTok pulls a video from a domain verified for the app;
from anywhere else Herald uploads it. YouTube makes a Short of a square or
vertical video of up to three minutes by itself.

Herald checks what it can see of media: their number and types, the format
their URL's extension names, and the size of what it uploads. Where a platform
that fetches a file itself documents sizes, formats or aspect ratios (above),
Herald also reads the file's first bytes (one request, at most 256 KiB) before
it publishes, and ` + "`ocoya_preview_post`" + ` does the same: a file of a format, size
or aspect ratio the platform does not take is refused before any call to the
platform. A file Herald cannot read, and what only the platform checks (a
video's length, codec or aspect ratio), is left to the platform, whose
refusal says which.
`)
	return b.String()
}

// supports lists the kinds of post a platform takes: text alone, images,
// GIFs, video, and several attachments in one post (a carousel).
func supports(m rules.MediaLimits) string {
	var kinds []string
	if len(m.Required) == 0 {
		kinds = append(kinds, "text")
	}
	if m.Max == rules.Unlimited {
		return strings.Join(append(kinds, "any media"), ", ")
	}
	for _, k := range []struct {
		n    int
		name string
	}{{m.Images, "images"}, {m.GIFs, "GIFs"}, {m.Videos, "video"}} {
		if k.n != 0 {
			kinds = append(kinds, k.name)
		}
	}
	if m.Max > 1 {
		kinds = append(kinds, "several in one post (carousel)")
	}
	return strings.Join(kinds, ", ")
}

// byURL names the platforms that fetch media themselves: "A, B and C".
func byURL() string {
	var names []string
	for _, i := range Infos() {
		if i.MediaByURL {
			names = append(names, i.Name())
		}
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func keys(i publish.Info) string {
	s := "none"
	if len(i.CredentialKeys) > 0 {
		s = "`" + strings.Join(i.CredentialKeys, "`, `") + "`"
	}
	if len(i.OptionalKeys) > 0 {
		s += "; optional `" + strings.Join(i.OptionalKeys, "`, `") + "`"
	}
	return s
}

func endpoint(i publish.Info) string {
	switch {
	case i.Endpoint == "":
		return "—"
	case i.EndpointRequired:
		return i.Endpoint + " (required)"
	}
	return i.Endpoint
}

func text(r rules.Rules) string {
	if r.Limit == 0 {
		return "no limit"
	}
	s := fmt.Sprintf("%d %s", r.Limit, r.UnitName())
	if r.CaptionLimit > 0 {
		s += fmt.Sprintf(" (%d with media)", r.CaptionLimit)
	}
	if r.MaxBytes > 0 {
		s += fmt.Sprintf(", at most %d bytes", r.MaxBytes)
	}
	if r.MaxHashtags == 1 {
		s += ", 1 hashtag"
	} else if r.MaxHashtags > 0 {
		s += fmt.Sprintf(", %d hashtags", r.MaxHashtags)
	}
	return s
}

func resend(r publish.Resend) string {
	if r.By == "" {
		return "not recognised: Unknown"
	}
	return strings.TrimPrefix(r.Describe(), "a repeat is ")
}

func perHour(i publish.Info) string {
	if i.PostsPerHour == 0 {
		return "no limit"
	}
	return fmt.Sprintf("%d (%s)", i.PostsPerHour, i.PostsPerHourSource)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
