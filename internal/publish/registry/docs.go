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

| platform | ` + "`spec.platform`" + ` | Secret keys | endpoint | text | media | a repeated send | delete | posts per hour |
|---|---|---|---|---|---|---|---|---|
`)
	for _, i := range Infos() {
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s | %s | %s | %s |\n",
			i.Name(), i.Platform, keys(i), endpoint(i), text(i.Rules), media(i.Rules.Media), resend(i.Resend), yesNo(i.Deletes), perHour(i))
	}
	b.WriteString(`
**A repeated send.** Herald records each attempt before it calls a platform. When
an attempt gets no clear answer (a timeout, or a server error after the request
was sent), the post may be online. Where the platform recognises a repeat of the
same attempt, Herald sends it again under the same key; otherwise the delivery
becomes ` + "`Unknown`" + `, and a person checks the account and retries it by name.

**Posts per hour** is the limit Herald keeps to for one account unless the
profile sets ` + "`spec.postsPerHour`" + `; waiting for it does not count against a
post's ` + "`maxLateness`" + `.
`)
	return b.String()
}

func keys(i publish.Info) string {
	if len(i.CredentialKeys) == 0 {
		return "none"
	}
	return "`" + strings.Join(i.CredentialKeys, "`, `") + "`"
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
	return s
}

func media(m rules.MediaLimits) string {
	if m.Max == rules.Unlimited {
		return "any"
	}
	var parts []string
	for _, t := range []struct {
		n         int
		one, many string
		alone     bool
		bytes     int64
	}{{m.Images, "image", "images", false, m.ImageBytes}, {m.GIFs, "GIF", "GIFs", m.GIFAlone, m.GIFBytes}, {m.Videos, "video", "videos", m.VideoAlone, m.VideoBytes}} {
		what := t.many
		if t.n == 1 {
			what = t.one
		}
		if t.bytes > 0 {
			what += " of up to " + fileSize(t.bytes)
		}
		switch {
		case t.n == 0:
		case t.alone:
			parts = append(parts, fmt.Sprintf("%d %s (alone)", t.n, what))
		default:
			parts = append(parts, fmt.Sprintf("%d %s", t.n, what))
		}
	}
	return fmt.Sprintf("up to %d: %s", m.Max, strings.Join(parts, ", "))
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

// fileSize writes an upload limit as the platform documents it.
func fileSize(n int64) string {
	if n%rules.MiB == 0 {
		return fmt.Sprintf("%d MiB", n/rules.MiB)
	}
	return fmt.Sprintf("%d MB", n/rules.MB)
}
