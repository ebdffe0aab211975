package connect

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/herald-dev/herald/api/v1alpha1"
)

// Field is one input of a connection form.
type Field struct {
	// Name is the form field's name; Label and Help what the person reads.
	Name, Label, Help, Placeholder string
	// Secret fields are password inputs, never shown again.
	Secret bool
	// Optional fields may be left empty.
	Optional bool
}

// Form is how an account of a platform is connected by typing what it
// needs: the fields, and how their values become a profile.
type Form struct {
	Platform v1alpha1.Platform
	// Intro tells the person where to get what the form asks for.
	Intro  string
	Fields []Field
	// build turns the values into the profile's handle, endpoint and
	// credentials, or says which value is wrong.
	build func(v map[string]string) (handle, endpoint string, creds map[string][]byte, err error)
}

// Build checks the values a person entered (required ones present) and
// returns the profile's handle, endpoint and credentials.
func (f *Form) Build(values map[string]string) (handle, endpoint string, creds map[string][]byte, err error) {
	for _, fl := range f.Fields {
		values[fl.Name] = strings.TrimSpace(values[fl.Name])
		if !fl.Optional && values[fl.Name] == "" {
			return "", "", nil, fmt.Errorf("%s is required", fl.Label)
		}
		if len(values[fl.Name]) > 2048 {
			return "", "", nil, fmt.Errorf("%s is longer than 2048 characters", fl.Label)
		}
	}
	return f.build(values)
}

// Platforms are the platforms Herald's connection pages connect: Mastodon
// by registering Herald on the instance, the Providers with the
// operator's apps, and the Forms.
func Platforms() []v1alpha1.Platform {
	out := []v1alpha1.Platform{"mastodon"}
	for _, p := range []Provider{X, LinkedIn} {
		out = append(out, p.Platform)
	}
	for _, f := range forms {
		out = append(out, f.Platform)
	}
	return out
}

// Connectable reports whether a platform's accounts are connected on
// Herald's pages.
func Connectable(p v1alpha1.Platform) bool { return slices.Contains(Platforms(), p) }

// FormFor returns the form of a platform connected by typing its
// credentials, or nil for one connected otherwise.
func FormFor(p v1alpha1.Platform) *Form {
	for i := range forms {
		if forms[i].Platform == p {
			return &forms[i]
		}
	}
	return nil
}

func httpsURL(label, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%s must be an https URL", label)
	}
	return nil
}

var forms = []Form{
	{
		Platform: "bluesky",
		Intro:    "Create an app password in Bluesky under Settings → Privacy and security → App passwords. Herald never sees your account password.",
		Fields: []Field{
			{Name: "handle", Label: "Handle", Placeholder: "brand.bsky.social", Help: "your handle, without the @"},
			{Name: "appPassword", Label: "App password", Secret: true, Placeholder: "xxxx-xxxx-xxxx-xxxx"},
			{Name: "pds", Label: "PDS", Optional: true, Placeholder: "https://bsky.social", Help: "leave empty for an account on Bluesky's own servers (Herald finds its PDS in its DID document); give it for a self-hosted PDS"},
		},
		build: func(v map[string]string) (string, string, map[string][]byte, error) {
			handle := strings.TrimPrefix(v["handle"], "@")
			if v["pds"] != "" {
				if err := httpsURL("PDS", v["pds"]); err != nil {
					return "", "", nil, err
				}
			}
			return handle, v["pds"], map[string][]byte{"identifier": []byte(handle), "appPassword": []byte(v["appPassword"])}, nil
		},
	},
	webhookForm("discord", "In Discord: Server Settings → Integrations → Webhooks → New Webhook, then Copy Webhook URL.", "https://discord.com/api/webhooks/…", "#announcements"),
	webhookForm("slack", "In Slack: create an app with Incoming Webhooks on, add one to the channel and copy its URL.", "https://hooks.slack.com/services/…", "#marketing"),
	{
		Platform: "telegram",
		Intro:    "Create a bot with @BotFather, add it to the channel as an administrator that may post, and give its token and the channel.",
		Fields: []Field{
			{Name: "botToken", Label: "Bot token", Secret: true, Placeholder: "123456:ABC…"},
			{Name: "chatID", Label: "Chat", Placeholder: "@brandchannel or -1001234567890", Help: "the channel's @name or numeric id"},
		},
		build: func(v map[string]string) (string, string, map[string][]byte, error) {
			return v["chatID"], "", map[string][]byte{"botToken": []byte(v["botToken"]), "chatID": []byte(v["chatID"])}, nil
		},
	},
	{
		Platform: "webhook",
		Intro:    "Herald POSTs each post as JSON to the receiver, signed with the secret (X-Herald-Signature), so the receiver can tell it came from Herald.",
		Fields: []Field{
			{Name: "url", Label: "Receiver URL", Placeholder: "https://hooks.example.com/herald"},
			{Name: "name", Label: "Name", Placeholder: "newsletter", Help: "how the profile is shown"},
			{Name: "signingSecret", Label: "Signing secret", Secret: true, Help: "at least 16 characters; the receiver checks signatures with it"},
		},
		build: func(v map[string]string) (string, string, map[string][]byte, error) {
			if err := httpsURL("Receiver URL", v["url"]); err != nil {
				return "", "", nil, err
			}
			if len(v["signingSecret"]) < 16 {
				return "", "", nil, fmt.Errorf("signing secret must be at least 16 characters")
			}
			return v["name"], v["url"], map[string][]byte{"signingSecret": []byte(v["signingSecret"])}, nil
		},
	},
}

// webhookForm is the form of a platform that posts through a webhook URL,
// which is itself the credential.
func webhookForm(p v1alpha1.Platform, intro, placeholder, channel string) Form {
	return Form{
		Platform: p, Intro: intro,
		Fields: []Field{
			{Name: "webhookURL", Label: "Webhook URL", Secret: true, Placeholder: placeholder},
			{Name: "channel", Label: "Channel", Placeholder: channel, Help: "how the profile is shown"},
		},
		build: func(v map[string]string) (string, string, map[string][]byte, error) {
			if err := httpsURL("Webhook URL", v["webhookURL"]); err != nil {
				return "", "", nil, err
			}
			return v["channel"], "", map[string][]byte{"webhookURL": []byte(v["webhookURL"])}, nil
		},
	}
}
