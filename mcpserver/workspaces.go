package mcpserver

import (
	"context"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
)

// WorkspaceView is a workspace as tools report it.
type WorkspaceView struct {
	ID          string   `json:"id" jsonschema:"the workspace id other tools take as workspaceId"`
	DisplayName string   `json:"displayName" jsonschema:"the workspace's name"`
	TimeZone    string   `json:"timeZone" jsonschema:"IANA time zone people in this workspace think in"`
	Role        string   `json:"role" jsonschema:"your role: owner, editor, approver or viewer"`
	Ready       bool     `json:"ready" jsonschema:"whether the workspace is usable"`
	Approval    string   `json:"approval,omitempty" jsonschema:"which posts wait for approval before they are published: All, ThroughMCP (posts made through MCP) or the profiles named; absent when none do"`
	Approvers   []string `json:"approvers,omitempty" jsonschema:"who may approve them (owners and approvers), with ocoya_approve_post"`
}

type noArgs struct{}

type workspaceArgs struct {
	workspaceArg
}

// WorkspaceList is the output of list_workspaces.
type WorkspaceList struct {
	Workspaces []WorkspaceView `json:"workspaces" jsonschema:"the workspaces this connection may use"`
}

// WorkspaceResult is the output of get_workspace.
type WorkspaceResult struct {
	Workspace WorkspaceView `json:"workspace"`
	Profiles  int           `json:"profiles" jsonschema:"how many social profiles the workspace has"`
	BrandKits int           `json:"brandKits" jsonschema:"how many brand kits the workspace has"`
}

func viewWorkspace(ws *socialv1alpha1.Workspace, subject string) WorkspaceView {
	tz := ws.Spec.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	v := WorkspaceView{
		ID: ws.Name, DisplayName: ws.Spec.DisplayName, TimeZone: tz,
		Role:  string(ws.RoleOf(subject)),
		Ready: meta.IsStatusConditionTrue(ws.Status.Conditions, socialv1alpha1.ConditionReady),
	}
	if a := ws.Spec.Approval; a != nil {
		v.Approval, v.Approvers = string(a.Required), post.Approvers(ws)
		if a.Required == socialv1alpha1.ApproveProfiles {
			v.Approval = "Profiles: " + strings.Join(a.Profiles, ", ")
		}
	}
	return v
}

func workspaceTools() []Tool {
	return []Tool{
		declare(Tool{
			Name: "list_workspaces", Title: "List workspaces", Scope: socialv1alpha1.ScopeWorkspaceRead, ReadOnly: true, Idempotent: true,
			Description: "Lists the workspaces this connection was approved for. Call this first: every other tool takes a workspaceId from here.",
		}, func(ctx context.Context, s *toolCall, _ noArgs) (*WorkspaceList, error) {
			c := s.caller
			out := &WorkspaceList{Workspaces: []WorkspaceView{}}
			list := &socialv1alpha1.WorkspaceList{}
			if err := s.client.List(ctx, list); err != nil {
				return nil, err
			}
			for i := range list.Items {
				ws := &list.Items[i]
				if slices.Contains(c.Workspaces, ws.Name) && ws.RoleOf(c.Subject) != "" {
					out.Workspaces = append(out.Workspaces, viewWorkspace(ws, c.Subject))
				}
			}
			sort.Slice(out.Workspaces, func(i, j int) bool { return out.Workspaces[i].ID < out.Workspaces[j].ID })
			return out, nil
		}),
		declare(Tool{
			Name: "get_workspace", Title: "Get a workspace", Scope: socialv1alpha1.ScopeWorkspaceRead, ReadOnly: true, Idempotent: true,
			Description: "Shows one workspace: its name, time zone, your role, and how many social profiles and brand kits it has.",
		}, func(ctx context.Context, s *toolCall, in workspaceArgs) (*WorkspaceResult, error) {
			profiles := &socialv1alpha1.SocialProfileList{}
			kits := &socialv1alpha1.BrandKitList{}
			if err := s.client.List(ctx, profiles, client.InNamespace(s.ws.NamespaceName())); err != nil {
				return nil, err
			}
			if err := s.client.List(ctx, kits, client.InNamespace(s.ws.NamespaceName())); err != nil {
				return nil, err
			}
			return &WorkspaceResult{Workspace: viewWorkspace(s.ws, s.caller.Subject), Profiles: len(profiles.Items), BrandKits: len(kits.Items)}, nil
		}),
	}
}

// MeResult is the output of get_me.
type MeResult struct {
	Subject    string          `json:"subject" jsonschema:"the user this connection acts for"`
	Client     string          `json:"client" jsonschema:"the OAuth client id of this connection"`
	ClientName string          `json:"clientName,omitempty" jsonschema:"the client's name"`
	Grant      string          `json:"grant" jsonschema:"the MCPGrant behind this connection"`
	Scopes     []string        `json:"scopes" jsonschema:"what this connection may do"`
	Workspaces []WorkspaceView `json:"workspaces" jsonschema:"the workspaces this connection may use"`
}

func meTools() []Tool {
	return []Tool{
		declare(Tool{
			Name: "get_me", Title: "Who am I", ReadOnly: true, Idempotent: true,
			Description: "Says who this connection acts for, which scopes it holds and which workspaces it may use. Call it when a tool answers that a scope or workspace is missing.",
		}, func(ctx context.Context, s *toolCall, _ noArgs) (*MeResult, error) {
			c := s.caller
			out := &MeResult{Subject: c.Subject, Client: c.ClientID, ClientName: c.ClientName, Grant: c.Grant, Scopes: []string{}, Workspaces: []WorkspaceView{}}
			for _, sc := range c.Scopes {
				out.Scopes = append(out.Scopes, string(sc))
			}
			for _, id := range c.Workspaces {
				ws := &socialv1alpha1.Workspace{}
				if err := s.client.Get(ctx, client.ObjectKey{Name: id}, ws); err == nil && ws.RoleOf(c.Subject) != "" {
					out.Workspaces = append(out.Workspaces, viewWorkspace(ws, c.Subject))
				}
			}
			return out, nil
		}),
	}
}
