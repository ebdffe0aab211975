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
	tokenForm("facebook", "Make a long-lived token with pages_manage_posts and pages_read_engagement for a person who manages the Page (or the Page's own token); Herald reads the Page's token with it.",
		metaToken, Field{Name: "pageId", Label: "Page id", Placeholder: "1234567890", Help: "the Page's numeric id, under its About → Page transparency"}),
	tokenForm("instagram", "Instagram professional accounts linked to a Facebook Page: make a long-lived token with instagram_basic and instagram_content_publish.",
		metaToken, Field{Name: "igUserId", Label: "Instagram account id", Placeholder: "17841400000000000", Help: "the id of the professional account (GET /{page-id}?fields=instagram_business_account)"}),
	tokenForm("threads", "Make a long-lived Threads token with threads_basic and threads_content_publish.", metaToken),
	tokenForm("pinterest", "Make an access token with boards:read, pins:read and pins:write in your Pinterest app.",
		Field{Name: "accessToken", Label: "Access token", Secret: true, Placeholder: "pina_…"},
		Field{Name: "boardId", Label: "Board id", Placeholder: "549755885175", Help: "the board Pins go to (GET /v5/boards lists them)"}),
	tokenForm("tiktok", "Make a user access token with video.publish in your TikTok app. Videos must be hosted on a domain verified for the app; an app TikTok has not audited may post only privately.",
		Field{Name: "accessToken", Label: "Access token", Secret: true, Placeholder: "act.…"},
		Field{Name: "privacyLevel", Label: "Privacy", Optional: true, Placeholder: "PUBLIC_TO_EVERYONE", Help: "PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS, FOLLOWER_OF_CREATOR or SELF_ONLY (required until the app is audited)"}),
	tokenForm("youtube", "Make an OAuth access token with the youtube.upload and youtube.readonly scopes for the channel's Google account.",
		Field{Name: "accessToken", Label: "Access token", Secret: true, Placeholder: "ya29.…"},
		Field{Name: "privacyStatus", Label: "Privacy", Optional: true, Placeholder: "public", Help: "public, unlisted or private"},
		Field{Name: "notifySubscribers", Label: "Notify subscribers", Optional: true, Placeholder: "true", Help: "true or false"}),
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

// tokenForm is the form of a platform connected by pasting an access
// token made with the operator's or the person's own app, and the ids it
// posts to: every field but name goes into the Secret under its name, and
// name (or the platform) is the profile's handle until the platform
// reports its own.
func tokenForm(p v1alpha1.Platform, intro string, fields ...Field) Form {
	all := append(fields, Field{Name: "name", Label: "Name", Optional: true, Help: "how the profile is shown until Herald reads the account's own name"})
	return Form{
		Platform: p, Intro: intro, Fields: all,
		build: func(v map[string]string) (string, string, map[string][]byte, error) {
			creds := map[string][]byte{}
			for _, f := range fields {
				if v[f.Name] != "" {
					creds[f.Name] = []byte(v[f.Name])
				}
			}
			handle := v["name"]
			if handle == "" {
				handle = string(p)
			}
			return handle, "", creds, nil
		},
	}
}

// metaToken is the token field of Meta's platforms.
var metaToken = Field{Name: "accessToken", Label: "Access token", Secret: true, Help: "a long-lived token from the Meta app's Graph API Explorer or your own login flow"}

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
