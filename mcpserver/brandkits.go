package mcpserver

import (
	"context"
	"regexp"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// BrandKitView is a brand kit as tools report and accept it.
type BrandKitView struct {
	ID          string      `json:"id" jsonschema:"the brand kit id posts take as brandKitId"`
	DisplayName string      `json:"displayName"`
	Voice       string      `json:"voice,omitempty" jsonschema:"how the brand speaks; follow it when writing posts"`
	Tone        []string    `json:"tone,omitempty"`
	Colors      []ColorView `json:"colors,omitempty"`
	Signature   string      `json:"signature,omitempty" jsonschema:"appended to every post"`
	Hashtags    []string    `json:"hashtags,omitempty" jsonschema:"appended to every post"`
	BannedWords []string    `json:"bannedWords,omitempty" jsonschema:"words a post must not contain"`
	ReadOnly    bool        `json:"readOnly" jsonschema:"true when the kit is managed in Git and cannot be changed here"`
}

// ColorView is a named brand colour.
type ColorView struct {
	Name string `json:"name"`
	Hex  string `json:"hex" jsonschema:"#RRGGBB"`
}

type brandKitArgs struct {
	workspaceArg
	BrandKitID string `json:"brandKitId" jsonschema:"id of a brand kit from ocoya_list_brand_kits" minLength:"1"`
}

type brandKitFields struct {
	DisplayName *string     `json:"displayName,omitempty" maxLength:"100"`
	Voice       *string     `json:"voice,omitempty" jsonschema:"how the brand speaks" maxLength:"4000"`
	Tone        []string    `json:"tone,omitempty"`
	Colors      []ColorView `json:"colors,omitempty"`
	Signature   *string     `json:"signature,omitempty" jsonschema:"appended to every post" maxLength:"500"`
	Hashtags    []string    `json:"hashtags,omitempty" jsonschema:"appended to every post, such as #AcmeCoffee"`
	BannedWords []string    `json:"bannedWords,omitempty"`
}

type createBrandKitArgs struct {
	workspaceArg
	BrandKitID string `json:"brandKitId" jsonschema:"id for the new kit: lowercase letters, digits and dashes" minLength:"1" maxLength:"63"`
	brandKitFields
}

type updateBrandKitArgs struct {
	workspaceArg
	BrandKitID string `json:"brandKitId" jsonschema:"id of the kit to change" minLength:"1"`
	brandKitFields
}

// BrandKitList is the output of list_brand_kits.
type BrandKitList struct {
	BrandKits []BrandKitView `json:"brandKits"`
}

// BrandKitResult is the output of the tools returning one kit.
type BrandKitResult struct {
	BrandKit BrandKitView `json:"brandKit"`
}

// DeletedResult says what a delete removed.
type DeletedResult struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
}

var kitName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

func viewBrandKit(k *socialv1alpha1.BrandKit) BrandKitView {
	v := BrandKitView{ID: k.Name, DisplayName: k.Spec.DisplayName, Voice: k.Spec.Voice, Tone: k.Spec.Tone,
		Signature: k.Spec.Signature, Hashtags: k.Spec.Hashtags, BannedWords: k.Spec.BannedWords, ReadOnly: socialv1alpha1.GitOpsOwner(k) != ""}
	for _, c := range k.Spec.Colors {
		v.Colors = append(v.Colors, ColorView{Name: c.Name, Hex: c.Hex})
	}
	return v
}

func (f brandKitFields) applyTo(spec *socialv1alpha1.BrandKitSpec) {
	if f.DisplayName != nil {
		spec.DisplayName = *f.DisplayName
	}
	if f.Voice != nil {
		spec.Voice = *f.Voice
	}
	if f.Tone != nil {
		spec.Tone = f.Tone
	}
	if f.Colors != nil {
		spec.Colors = nil
		for _, c := range f.Colors {
			spec.Colors = append(spec.Colors, socialv1alpha1.BrandColor{Name: c.Name, Hex: c.Hex})
		}
	}
	if f.Signature != nil {
		spec.Signature = *f.Signature
	}
	if f.Hashtags != nil {
		spec.Hashtags = f.Hashtags
	}
	if f.BannedWords != nil {
		spec.BannedWords = f.BannedWords
	}
}

// brandKit finds a kit in the workspace.
func (s *toolCall) brandKit(ctx context.Context, id string) (*socialv1alpha1.BrandKit, error) {
	return lookup(ctx, s, s.get, id, &socialv1alpha1.BrandKit{}, "brand kit %q is not in workspace %q. Call %s for its brand kits.", "list_brand_kits")
}

// refused turns the API server's validation errors into a tool error.
func refused(err error) error {
	if apierrors.IsConflict(err) {
		return invalidArgument("it was changed by someone else while this call ran; read it again and retry")
	}
	if apierrors.IsInvalid(err) || apierrors.IsAlreadyExists(err) {
		return invalidArgument("refused: %v", err)
	}
	return err
}

func brandKitTools() []Tool {
	return []Tool{
		declare(Tool{
			Name: "list_brand_kits", Title: "List brand kits", Scope: socialv1alpha1.ScopeWorkspaceRead, ReadOnly: true, Idempotent: true,
			Description: "Lists a workspace's brand kits: voice and tone to follow when writing, colours, signature and hashtags added to posts, and banned words.",
		}, func(ctx context.Context, s *toolCall, in workspaceArgs) (*BrandKitList, error) {
			kits, err := listViews(ctx, s, &socialv1alpha1.BrandKitList{}, func(k *socialv1alpha1.BrandKit) (BrandKitView, error) { return viewBrandKit(k), nil },
				func(v BrandKitView) string { return v.ID })
			return &BrandKitList{BrandKits: kits}, err
		}),
		declare(Tool{
			Name: "get_brand_kit", Title: "Get a brand kit", Scope: socialv1alpha1.ScopeWorkspaceRead, ReadOnly: true, Idempotent: true,
			Description: "Shows one brand kit. Follow its voice and tone when writing posts that use it.",
		}, func(ctx context.Context, s *toolCall, in brandKitArgs) (*BrandKitResult, error) {
			k, err := s.brandKit(ctx, in.BrandKitID)
			if err != nil {
				return nil, err
			}
			return &BrandKitResult{BrandKit: viewBrandKit(k)}, nil
		}),
		declare(Tool{
			Name: "create_brand_kit", Title: "Create a brand kit", Scope: socialv1alpha1.ScopeBrandKitsWrite,
			Description: "Creates a brand kit in a workspace: voice, tone, colours, a signature and hashtags added to every post that names it, and banned words.",
		}, func(ctx context.Context, s *toolCall, in createBrandKitArgs) (*BrandKitResult, error) {
			if !kitName.MatchString(in.BrandKitID) {
				return nil, invalidArgument("brandKitId %q must be lowercase letters, digits and dashes, such as acme-main", in.BrandKitID)
			}
			k := &socialv1alpha1.BrandKit{ObjectMeta: metav1.ObjectMeta{Namespace: s.ws.NamespaceName(), Name: in.BrandKitID}}
			k.Spec.DisplayName = in.BrandKitID
			in.applyTo(&k.Spec)
			stamp(k, s.caller)
			if err := s.writeSeen(ctx, k, false, func() error { return s.client.Create(ctx, k) }); err != nil {
				return nil, refused(err)
			}
			return &BrandKitResult{BrandKit: viewBrandKit(k)}, nil
		}),
		declare(Tool{
			Name: "update_brand_kit", Title: "Update a brand kit", Scope: socialv1alpha1.ScopeBrandKitsWrite, Idempotent: true,
			Description: "Changes the given fields of a brand kit; omitted fields stay as they are. Kits managed in Git are read-only here.",
		}, func(ctx context.Context, s *toolCall, in updateBrandKitArgs) (*BrandKitResult, error) {
			k, err := s.brandKit(ctx, in.BrandKitID)
			if err != nil {
				return nil, err
			}
			if err := s.updateFresh(ctx, k, func() error {
				if err := writable(k, "brand kit"); err != nil {
					return err
				}
				in.applyTo(&k.Spec)
				stamp(k, s.caller)
				return nil
			}); err != nil {
				return nil, refused(err)
			}
			return &BrandKitResult{BrandKit: viewBrandKit(k)}, nil
		}),
		declare(Tool{
			Name: "delete_brand_kit", Title: "Delete a brand kit", Scope: socialv1alpha1.ScopeBrandKitsWrite, Destructive: true, Idempotent: true,
			Description: "Deletes a brand kit. Posts that name it can no longer be published until they name another kit.",
		}, func(ctx context.Context, s *toolCall, in brandKitArgs) (*DeletedResult, error) {
			k, err := s.brandKit(ctx, in.BrandKitID)
			if err != nil {
				return nil, err
			}
			if err := writable(k, "brand kit"); err != nil {
				return nil, err
			}
			if err := s.writeSeen(ctx, k, true, func() error { return client.IgnoreNotFound(s.client.Delete(ctx, k)) }); err != nil {
				return nil, err
			}
			return &DeletedResult{ID: k.Name, Deleted: true}, nil
		}),
	}
}
