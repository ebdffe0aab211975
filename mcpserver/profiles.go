package mcpserver

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/connect"
	"github.com/herald-dev/herald/internal/post"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

// ProfileView is a social profile as tools report it.
type ProfileView struct {
	ID             string `json:"id" jsonschema:"the profile id create_post and schedule_post take in profileIds"`
	Platform       string `json:"platform" jsonschema:"the platform the account is on, such as mastodon or bluesky"`
	Handle         string `json:"handle" jsonschema:"the account's handle"`
	DisplayName    string `json:"displayName,omitempty"`
	URL            string `json:"url,omitempty" jsonschema:"the account's public page, once verified"`
	CharacterLimit int    `json:"characterLimit" jsonschema:"the longest post this account accepts, in the platform's own counting; 0 means no limit"`
	Ready          bool   `json:"ready" jsonschema:"whether Herald verified the credentials; posts to a profile that is not ready fail"`
	Reason         string `json:"reason,omitempty" jsonschema:"why the profile is not ready, and what to do"`
	Connection     string `json:"connection" jsonschema:"connected (credentials verified), checking (not verified yet, or the platform could not be reached) or broken (the credentials stopped working or are missing)" enum:"connected,checking,broken"`
	NextStep       string `json:"nextStep,omitempty" jsonschema:"for a broken profile, how to repair it"`
}

type profileArgs struct {
	workspaceArg
	ProfileID string `json:"profileId" jsonschema:"id of a profile from ocoya_list_social_profiles" minLength:"1"`
}

// ProfileList is the output of list_social_profiles.
type ProfileList struct {
	Profiles []ProfileView `json:"profiles"`
}

// ProfileResult is the output of get_social_profile.
type ProfileResult struct {
	Profile ProfileView `json:"profile"`
}

func (s *Server) viewProfile(p *socialv1alpha1.SocialProfile) ProfileView {
	v := ProfileView{
		ID: p.Name, Platform: string(p.Spec.Platform), Handle: p.Spec.Handle, DisplayName: p.Spec.DisplayName,
		URL: p.Status.URL, CharacterLimit: post.CharacterLimit(p, s.platform(p)),
	}
	c := meta.FindStatusCondition(p.Status.Conditions, socialv1alpha1.ConditionReady)
	switch {
	case c == nil:
		v.Connection, v.Reason = "checking", "NotVerifiedYet: Herald has not checked the credentials yet"
	case c.Status == "True":
		v.Ready, v.Connection = true, "connected"
	case c.Reason == "PlatformUnavailable":
		v.Connection, v.Reason = "checking", c.Reason+": "+c.Message
	default:
		v.Connection, v.Reason = "broken", c.Reason+": "+c.Message
		v.NextStep = "an operator repairs its credentials Secret (kubectl), as the reason says"
		if connect.Connectable(p.Spec.Platform) {
			v.NextStep = fmt.Sprintf("call %s_get_social_connection_url with platform %q and profileId %q, and give the user the link to reconnect the account; its posts and settings stay", s.opts.ToolPrefix, p.Spec.Platform, p.Name)
		}
	}
	return v
}

// profile finds a profile in the workspace; an id from elsewhere gets the hint
// to list this workspace's profiles.
func (s *toolCall) profile(ctx context.Context, id string) (*socialv1alpha1.SocialProfile, error) {
	return lookup(ctx, s, s.get, id, &socialv1alpha1.SocialProfile{},
		"social profile %q is not in workspace %[2]q. Call %[3]s with workspaceId %[2]q and pass one of the ids it returns.", "list_social_profiles")
}

type connectionArgs struct {
	workspaceArg
	Platform  string `json:"platform" jsonschema:"the platform of the account to connect" enum:"mastodon,x,linkedin,bluesky,discord,slack,telegram,webhook,facebook,instagram,threads,pinterest,tiktok,youtube"`
	Instance  string `json:"instance,omitempty" jsonschema:"mastodon: the instance the account is on, such as mastodon.social" maxLength:"253"`
	Handle    string `json:"handle,omitempty" jsonschema:"bluesky: the account's handle, such as brand.bsky.social, to fill in on the page" maxLength:"253"`
	PDS       string `json:"pds,omitempty" jsonschema:"bluesky: the PDS of an account on a self-hosted one, such as https://pds.example.com" maxLength:"2048"`
	ProfileID string `json:"profileId,omitempty" jsonschema:"an existing profile to reconnect (its credentials are replaced in place), or the name for the new profile; derived from the account when omitted" maxLength:"63"`
}

// ConnectionURL is the output of get_social_connection_url.
type ConnectionURL struct {
	URL         string `json:"url" jsonschema:"the Herald page the user opens to connect the account; give it to them"`
	CallbackURL string `json:"callbackUrl" jsonschema:"where the platform sends the user back after they authorized Herald (the redirect URI Herald registers with it)"`
	Platform    string `json:"platform"`
	Reconnect   bool   `json:"reconnect" jsonschema:"true when the link replaces the credentials of an existing profile"`
	NextSteps   string `json:"nextSteps" jsonschema:"what happens after the user opens the link, to tell them"`
	Opened      string `json:"opened,omitempty" jsonschema:"when the client showed the link itself (URL-mode elicitation): accept (the user went to it), decline or cancel; absent when the client cannot show links, and the url is then for you to give"`
}

func (c *ConnectionURL) linkToOpen() (string, string) {
	return c.URL, "Open this Herald page to connect your " + c.Platform + " account; you sign in to " + c.Platform + " yourself and no password passes through the assistant."
}

func (c *ConnectionURL) setOpened(action string) { c.Opened = action }

func (s *toolCall) connectionURL(ctx context.Context, in connectionArgs) (*ConnectionURL, error) {
	q := url.Values{}
	next := "The user signs in to Herald (if not already), "
	switch in.Platform {
	case "mastodon":
		if in.Instance == "" {
			return nil, invalidArgument("instance is required for mastodon: ask the user which server their account is on, such as mastodon.social")
		}
		if _, err := connect.Instance(in.Instance, true); err != nil {
			return nil, invalidArgument("instance: %v", err)
		}
		q.Set("instance", in.Instance)
		next += "confirms the instance, and authorizes Herald there; Herald registers itself on the instance, exchanges the code and checks the account."
	case "x", "linkedin":
		name := connect.Providers[socialv1alpha1.Platform(in.Platform)].Name
		next += "and authorizes the operator's " + name + " app on " + name + "; Herald exchanges the code, keeps the account's tokens and renews them before they expire."
	case "bluesky":
		if in.Handle != "" {
			q.Set("handle", strings.TrimPrefix(in.Handle, "@"))
		}
		if in.PDS != "" {
			q.Set("pds", in.PDS)
		}
		next += "enters the account's handle and an app password (Settings → Privacy and security → App passwords); Herald signs in to the PDS with it to check it."
	case "facebook", "instagram", "threads":
		next += "and authorizes the operator's Meta app there (or, where the operator has none, enters what the page asks for: " + connectFieldNames(in.Platform) +
			"); for Facebook and Instagram with several Pages the page asks which account; Herald checks the account with " + in.Platform + " before saving."
	default:
		next += "enters what the page asks for (" + connectFieldNames(in.Platform) + "); Herald checks it with " + in.Platform + " before saving."
	}
	reconnect := false
	if in.ProfileID != "" {
		if err := connect.CheckProfileName(in.ProfileID); err != nil {
			return nil, invalidArgument("profileId: %v", err)
		}
		var p socialv1alpha1.SocialProfile
		err := s.get(ctx, client.ObjectKey{Namespace: s.ws.NamespaceName(), Name: in.ProfileID}, &p)
		switch {
		case err == nil && string(p.Spec.Platform) != in.Platform:
			return nil, invalidArgument("profile %q is a %s profile, not %s; pass its platform, or another profileId for a new profile", in.ProfileID, p.Spec.Platform, in.Platform)
		case err == nil:
			reconnect = true
		case !apierrors.IsNotFound(err):
			return nil, err
		}
		q.Set("profile", in.ProfileID)
	}
	next += " The profile then appears in ocoya_list_social_profiles and is ready once Herald verified it, within seconds; no post is sent until you schedule one."
	base := strings.TrimSuffix(s.opts.PublicURL, "/")
	u := base + oauth.ConnectPath(s.ws.Name, in.Platform)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return &ConnectionURL{URL: u, CallbackURL: base + oauth.ConnectCallbackPath, Platform: in.Platform, Reconnect: reconnect, NextSteps: next}, nil
}

func connectFieldNames(platform string) string {
	f := connect.FormFor(socialv1alpha1.Platform(platform))
	if f == nil {
		return "the account's credentials"
	}
	var names []string
	for _, fl := range f.Fields {
		names = append(names, strings.ToLower(fl.Label))
	}
	return strings.Join(names, ", ")
}

func profileTools() []Tool {
	return []Tool{
		declare(Tool{
			Name: "get_social_connection_url", Title: "Get a link to connect a social account", Scope: socialv1alpha1.ScopeSocialProfilesWrite, ReadOnly: true, Idempotent: true, OpensLink: true,
			Description: "Returns a Herald link the user opens in their browser to connect a social account (mastodon, x, linkedin, bluesky, discord, slack, telegram, webhook, facebook, instagram, threads, pinterest, tiktok or youtube) to a workspace, or to reconnect an existing profile whose credentials stopped working. Give the user the url and tell them the nextSteps; the user signs in to the platform themselves and no credential passes through the assistant. For mastodon pass the instance. Call ocoya_list_social_profiles afterwards to see the new profile.",
		}, func(ctx context.Context, s *toolCall, in connectionArgs) (*ConnectionURL, error) {
			return s.connectionURL(ctx, in)
		}),
		declare(Tool{
			Name: "list_social_profiles", Title: "List social profiles", Scope: socialv1alpha1.ScopeSocialProfilesRead, ReadOnly: true, Idempotent: true,
			Description: "Lists the connected social accounts of a workspace, with the ids to pass as profileIds when creating or scheduling posts, each platform's character limit and whether the credentials work. Call ocoya_list_workspaces first for the workspaceId.",
		}, func(ctx context.Context, s *toolCall, in workspaceArgs) (*ProfileList, error) {
			profiles, err := listViews(ctx, s, &socialv1alpha1.SocialProfileList{}, func(p *socialv1alpha1.SocialProfile) (ProfileView, error) { return s.viewProfile(p), nil },
				func(v ProfileView) string { return v.ID })
			return &ProfileList{Profiles: profiles}, err
		}),
		declare(Tool{
			Name: "get_social_profile", Title: "Get a social profile", Scope: socialv1alpha1.ScopeSocialProfilesRead, ReadOnly: true, Idempotent: true,
			Description: "Shows one social profile: platform, handle, character limit and whether its credentials were verified (and why not).",
		}, func(ctx context.Context, s *toolCall, in profileArgs) (*ProfileResult, error) {
			p, err := s.profile(ctx, in.ProfileID)
			if err != nil {
				return nil, err
			}
			return &ProfileResult{Profile: s.viewProfile(p)}, nil
		}),
	}
}
