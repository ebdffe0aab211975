package mcpserver

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
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
	if c := meta.FindStatusCondition(p.Status.Conditions, socialv1alpha1.ConditionReady); c != nil {
		v.Ready = c.Status == "True"
		if !v.Ready {
			v.Reason = c.Reason + ": " + c.Message
		}
	} else {
		v.Reason = "NotVerifiedYet: Herald has not checked the credentials yet"
	}
	return v
}

// profile finds a profile in the workspace; an id from elsewhere gets the hint
// to list this workspace's profiles.
func (s *toolCall) profile(ctx context.Context, id string) (*socialv1alpha1.SocialProfile, error) {
	return lookup(ctx, s, s.get, id, &socialv1alpha1.SocialProfile{},
		"social profile %q is not in workspace %[2]q. Call %[3]s with workspaceId %[2]q and pass one of the ids it returns.", "list_social_profiles")
}

func profileTools() []Tool {
	return []Tool{
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
