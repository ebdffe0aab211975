package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/workflow"
)

// WorkflowView is a workflow as tools report it.
type WorkflowView struct {
	ID               string      `json:"id" jsonschema:"the workflow id run_workflow and toggle_workflow take"`
	Description      string      `json:"description,omitempty"`
	Enabled          bool        `json:"enabled"`
	Trigger          string      `json:"trigger" jsonschema:"manual, schedule or feed"`
	Schedule         string      `json:"schedule,omitempty" jsonschema:"cron expression of a schedule trigger"`
	TimeZone         string      `json:"timeZone,omitempty"`
	FeedURL          string      `json:"feedUrl,omitempty" jsonschema:"the site of a feed trigger's feed; its path and query are not shown, as they may hold an access token"`
	Inputs           []InputView `json:"inputs" jsonschema:"values run_workflow takes in inputs"`
	Valid            bool        `json:"valid" jsonschema:"false when the workflow has validation errors; it cannot run or be toggled until they are fixed"`
	ValidationErrors []string    `json:"validationErrors,omitempty"`
	LastRun          string      `json:"lastRun,omitempty"`
	ReadOnly         bool        `json:"readOnly" jsonschema:"true when the workflow is managed in Git"`
}

// InputView declares one workflow input.
type InputView struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Type        string   `json:"type"`
	Required    bool     `json:"required"`
	Default     string   `json:"default,omitempty"`
	Enum        []string `json:"enum,omitempty"`
}

// RunView is a workflow run as tools report it.
type RunView struct {
	ID          string            `json:"id"`
	WorkflowID  string            `json:"workflowId"`
	Phase       string            `json:"phase" jsonschema:"Pending, Running, Succeeded, Failed or Cancelled"`
	Inputs      map[string]string `json:"inputs,omitempty"`
	Posts       []string          `json:"posts,omitempty" jsonschema:"ids of the posts the run created; read them with ocoya_get_post"`
	Message     string            `json:"message,omitempty"`
	StartedAt   string            `json:"startedAt,omitempty"`
	CompletedAt string            `json:"completedAt,omitempty"`
	CreatedAt   string            `json:"createdAt"`
	RequestedBy string            `json:"requestedBy,omitempty"`
}

type workflowArgs struct {
	workspaceArg
	WorkflowID string `json:"workflowId" jsonschema:"id of a workflow from ocoya_list_workflows" minLength:"1"`
}

type listRunsArgs struct {
	workspaceArg
	WorkflowID string `json:"workflowId,omitempty" jsonschema:"only runs of this workflow"`
	Limit      int    `json:"limit,omitempty" jsonschema:"runs to return, newest first, 1 to 100; default 20" minimum:"1" maximum:"100"`
}

type runArgs struct {
	workspaceArg
	RunID string `json:"runId" jsonschema:"id of a run from ocoya_run_workflow or ocoya_list_workflow_runs" minLength:"1"`
}

type toggleArgs struct {
	workspaceArg
	WorkflowID string `json:"workflowId" jsonschema:"id of a workflow from ocoya_list_workflows" minLength:"1"`
	Enabled    bool   `json:"enabled" jsonschema:"true to enable, false to disable"`
}

type runWorkflowArgs struct {
	workspaceArg
	WorkflowID     string            `json:"workflowId" jsonschema:"id of a workflow from ocoya_list_workflows" minLength:"1"`
	Inputs         map[string]string `json:"inputs,omitempty" jsonschema:"values for the workflow's inputs, by name"`
	IdempotencyKey string            `json:"idempotencyKey,omitempty" jsonschema:"any string; sending the same key again returns the same run instead of a second one" maxLength:"128"`
}

// WorkflowList is the output of list_workflows.
type WorkflowList struct {
	Workflows []WorkflowView `json:"workflows"`
}

// WorkflowResult is the output of the tools returning one workflow.
type WorkflowResult struct {
	Workflow WorkflowView `json:"workflow"`
	NextRun  *NextRunView `json:"nextRun,omitempty" jsonschema:"what the next scheduled run would post (schedule triggers only)"`
}

// NextRunView is the next scheduled run, rendered now as it would run.
type NextRunView struct {
	At       string        `json:"at" jsonschema:"when it runs, RFC 3339 in UTC"`
	Local    string        `json:"local" jsonschema:"the same time in the workflow's time zone, with the zone's name"`
	Posts    []PostPreview `json:"posts" jsonschema:"the posts it would create, rendered with the inputs' defaults"`
	Problems []string      `json:"problems,omitempty" jsonschema:"why the run would fail as the workflow stands, such as a required input without a default"`
}

// PostPreview is one post a run would create.
type PostPreview struct {
	ProfileIDs  []string       `json:"profileIds"`
	Text        string         `json:"text" jsonschema:"the post's text as the template renders it, before a profile's variant, signature or hashtags"`
	Variants    []VariantInput `json:"variants,omitempty"`
	ScheduledAt string         `json:"scheduledAt"`
	Draft       bool           `json:"draft"`
	Previews    []Preview      `json:"previews" jsonschema:"the post for each of its profiles exactly as publishing would send it, as ocoya_preview_post shows it: the variant the profile gets, the brand kit's signature and hashtags, its length against the platform's limit and what would stop it"`
}

// RunList is the output of list_workflow_runs.
type RunList struct {
	Runs []RunView `json:"runs"`
}

// RunResult is the output of the tools returning one run.
type RunResult struct {
	Run     RunView `json:"run"`
	Created bool    `json:"created,omitempty" jsonschema:"false when an idempotencyKey returned an existing run"`
}

// workflow finds a workflow in the workspace: from the cache for reads, and
// fresh from the API server (fresh=true) for the decisions of run and toggle,
// so a run right after a toggle sees the toggle.
func (s *toolCall) workflow(ctx context.Context, id string, fresh ...bool) (*socialv1alpha1.Workflow, error) {
	get := s.get
	if len(fresh) > 0 && fresh[0] {
		get = func(ctx context.Context, key client.ObjectKey, obj client.Object) error {
			return s.reader().Get(ctx, key, obj)
		}
	}
	return lookup(ctx, s, get, id, &socialv1alpha1.Workflow{}, "workflow %q is not in workspace %q. Call %s for its workflows.", "list_workflows")
}

// validationErrors checks the workflow now, against the profiles that exist now.
func (s *toolCall) validationErrors(ctx context.Context, wf *socialv1alpha1.Workflow) ([]string, error) {
	profiles := &socialv1alpha1.SocialProfileList{}
	if err := s.client.List(ctx, profiles, client.InNamespace(s.ws.NamespaceName())); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(profiles.Items))
	for _, p := range profiles.Items {
		names = append(names, p.Name)
	}
	return workflow.Validate(&wf.Spec, names), nil
}

func (s *toolCall) viewWorkflow(ctx context.Context, wf *socialv1alpha1.Workflow) (WorkflowView, error) {
	errs, err := s.validationErrors(ctx, wf)
	if err != nil {
		return WorkflowView{}, err
	}
	v := WorkflowView{
		ID: wf.Name, Description: wf.Spec.Description, Enabled: wf.Spec.Enabled, Trigger: string(wf.Spec.Trigger.Type),
		Schedule: wf.Spec.Trigger.Schedule, TimeZone: wf.Spec.Trigger.TimeZone, Inputs: []InputView{},
		Valid: len(errs) == 0, ValidationErrors: errs, LastRun: wf.Status.LastRun, ReadOnly: socialv1alpha1.GitOpsOwner(wf) != "",
	}
	if wf.Spec.Trigger.Feed != nil {
		v.FeedURL = capabilityRedacted(wf.Spec.Trigger.Feed.URL)
	}
	for _, in := range wf.Spec.Inputs {
		t := string(in.Type)
		if t == "" {
			t = "string"
		}
		v.Inputs = append(v.Inputs, InputView{Name: in.Name, Description: in.Description, Type: t, Required: in.Required, Default: in.Default, Enum: in.Enum})
	}
	return v, nil
}

// nextRun renders what a schedule trigger's next run would post, with the
// inputs' defaults, the brand kits as they are now and .Now at its time,
// and each post for each of its profiles as preview_post would; nil for
// other triggers, a disabled workflow or a schedule with no next time.
func (s *toolCall) nextRun(ctx context.Context, wf *socialv1alpha1.Workflow) (*NextRunView, error) {
	if wf.Spec.Trigger.Type != socialv1alpha1.TriggerSchedule || !wf.Spec.Enabled {
		return nil, nil
	}
	sched, err := workflow.ParseSchedule(wf.Spec.Trigger.Schedule)
	if err != nil {
		return nil, nil // validationErrors says why
	}
	loc := workflow.Zone(&wf.Spec, s.ws.Spec.TimeZone)
	at := sched.Next(s.clock.Now().In(loc))
	if at.IsZero() {
		return nil, nil
	}
	v := &NextRunView{At: at.UTC().Format(time.RFC3339), Local: at.Format(time.RFC3339) + " (" + loc.String() + ")", Posts: []PostPreview{}}
	inputs, problems := workflow.ValidateInputs(&wf.Spec, nil)
	v.Problems = problems
	for i, tmpl := range wf.Spec.Posts {
		var kit *workflow.BrandKitData
		if tmpl.BrandKit != "" {
			bk := &socialv1alpha1.BrandKit{}
			if err := s.get(ctx, client.ObjectKey{Namespace: s.ws.NamespaceName(), Name: tmpl.BrandKit}, bk); err == nil {
				kit = workflow.BrandKitFor(bk)
			} else if !apierrors.IsNotFound(err) {
				return nil, err
			}
		}
		p, err := workflow.RenderPost(tmpl, workflow.Data{Inputs: inputs, Workspace: s.ws.Name, Now: workflow.NewMoment(at, loc), BrandKit: kit}, at)
		if err != nil {
			v.Problems = append(v.Problems, fmt.Sprintf("posts[%d]: %v", i, err))
			continue
		}
		pv := PostPreview{ProfileIDs: p.Spec.Profiles, Text: p.Spec.Text, ScheduledAt: p.Spec.ScheduledAt, Draft: p.Spec.Draft, Previews: []Preview{}}
		for _, vr := range p.Spec.Variants {
			pv.Variants = append(pv.Variants, VariantInput{ProfileID: vr.Profile, Platform: string(vr.Platform), Text: vr.Text})
		}
		var te *ToolError
		switch r, err := s.previews(ctx, &p.Spec); {
		case errors.As(err, &te): // a profile or brand kit the workflow names is gone; validation says so too
			v.Problems = append(v.Problems, fmt.Sprintf("posts[%d]: %s", i, te.Message))
		case err != nil:
			return nil, err
		default:
			pv.Previews = r.Previews
			for _, pr := range r.Problems() {
				v.Problems = append(v.Problems, fmt.Sprintf("posts[%d]: %s", i, pr))
			}
		}
		v.Posts = append(v.Posts, pv)
	}
	return v, nil
}

// capabilityRedacted keeps the scheme and host of a URL whose path or
// query may be what grants access (a private feed's token), which a
// viewer must not learn: https://feeds.example/… .
func capabilityRedacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(hidden)"
	}
	out := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		out += "/…"
	}
	return out
}

func viewRun(r *socialv1alpha1.WorkflowRun) RunView {
	v := RunView{ID: r.Name, WorkflowID: r.Spec.WorkflowRef.Name, Phase: string(r.Status.Phase), Inputs: r.Spec.Inputs,
		Posts: r.Status.Posts, Message: r.Status.Message, CreatedAt: r.CreationTimestamp.UTC().Format(time.RFC3339)}
	if v.Phase == "" {
		v.Phase = string(socialv1alpha1.RunPending)
	}
	if r.Status.StartTime != nil {
		v.StartedAt = r.Status.StartTime.UTC().Format(time.RFC3339)
	}
	if r.Status.CompletionTime != nil {
		v.CompletedAt = r.Status.CompletionTime.UTC().Format(time.RFC3339)
	}
	if r.Spec.RequestedBy != nil {
		v.RequestedBy = r.Spec.RequestedBy.Subject
	}
	return v
}

func workflowTools() []Tool {
	return []Tool{
		declare(Tool{
			Name: "list_workflows", Title: "List workflows", Scope: socialv1alpha1.ScopeWorkflowsRead, ReadOnly: true, Idempotent: true,
			Description: "Lists a workspace's workflows: trigger, the inputs a run takes, whether each is enabled and valid (with every validation error).",
		}, func(ctx context.Context, s *toolCall, in workspaceArgs) (*WorkflowList, error) {
			workflows, err := listViews(ctx, s, &socialv1alpha1.WorkflowList{}, func(wf *socialv1alpha1.Workflow) (WorkflowView, error) { return s.viewWorkflow(ctx, wf) },
				func(v WorkflowView) string { return v.ID })
			return &WorkflowList{Workflows: workflows}, err
		}),
		declare(Tool{
			Name: "get_workflow", Title: "Get a workflow", Scope: socialv1alpha1.ScopeWorkflowsRead, ReadOnly: true, Idempotent: true,
			Description: "Shows one workflow: trigger, inputs, enabled, valid and its validation errors, and for a schedule trigger when it runs next and what that run would post: rendered now with the inputs' defaults, and for each target profile exactly as ocoya_preview_post renders a post (variant, brand kit signature and hashtags, length against the platform's limit, problems).",
		}, func(ctx context.Context, s *toolCall, in workflowArgs) (*WorkflowResult, error) {
			wf, err := s.workflow(ctx, in.WorkflowID)
			if err != nil {
				return nil, err
			}
			v, err := s.viewWorkflow(ctx, wf)
			if err != nil {
				return nil, err
			}
			next, err := s.nextRun(ctx, wf)
			return &WorkflowResult{Workflow: v, NextRun: next}, err
		}),
		declare(Tool{
			Name: "list_workflow_runs", Title: "List workflow runs", Scope: socialv1alpha1.ScopeWorkflowsRead, ReadOnly: true, Idempotent: true,
			Description: "Lists a workspace's workflow runs, newest first, optionally of one workflow, with the posts each created.",
		}, func(ctx context.Context, s *toolCall, in listRunsArgs) (*RunList, error) {
			list := &socialv1alpha1.WorkflowRunList{}
			if err := s.client.List(ctx, list, client.InNamespace(s.ws.NamespaceName())); err != nil {
				return nil, err
			}
			sort.Slice(list.Items, func(i, j int) bool {
				return list.Items[j].CreationTimestamp.Before(&list.Items[i].CreationTimestamp) ||
					(list.Items[i].CreationTimestamp.Equal(&list.Items[j].CreationTimestamp) && list.Items[i].Name < list.Items[j].Name)
			})
			limit := in.Limit
			if limit == 0 {
				limit = 20
			}
			out := &RunList{Runs: []RunView{}}
			for i := range list.Items {
				if len(out.Runs) == limit {
					break
				}
				if in.WorkflowID == "" || list.Items[i].Spec.WorkflowRef.Name == in.WorkflowID {
					out.Runs = append(out.Runs, viewRun(&list.Items[i]))
				}
			}
			return out, nil
		}),
		declare(Tool{
			Name: "get_workflow_run", Title: "Get a workflow run", Scope: socialv1alpha1.ScopeWorkflowsRead, ReadOnly: true, Idempotent: true,
			Description: "Shows one workflow run: phase, inputs, the posts it created and why it failed.",
		}, func(ctx context.Context, s *toolCall, in runArgs) (*RunResult, error) {
			r, err := lookup(ctx, s, s.get, in.RunID, &socialv1alpha1.WorkflowRun{}, "run %q is not in workspace %q. Call %s for its runs.", "list_workflow_runs")
			if err != nil {
				return nil, err
			}
			return &RunResult{Run: viewRun(r)}, nil
		}),
		declare(Tool{
			Name: "toggle_workflow", Title: "Enable or disable a workflow", Scope: socialv1alpha1.ScopeWorkflowsRun, Idempotent: true,
			Description: "Enables or disables a workflow. A workflow with validation errors cannot be toggled until they are fixed; the error lists them.",
		}, func(ctx context.Context, s *toolCall, in toggleArgs) (*WorkflowResult, error) {
			wf, err := s.workflow(ctx, in.WorkflowID, true)
			if err != nil {
				return nil, err
			}
			if err := s.updateFresh(ctx, wf, func() error {
				if err := writable(wf, "workflow"); err != nil {
					return err
				}
				if errs, err := s.validationErrors(ctx, wf); err != nil {
					return err
				} else if len(errs) > 0 {
					return invalidArgument("workflow %q cannot be toggled until its validation errors are fixed: %s", wf.Name, strings.Join(errs, "; "))
				}
				wf.Spec.Enabled = in.Enabled
				stamp(wf, s.caller)
				return nil
			}); err != nil {
				return nil, refused(err)
			}
			v, err := s.viewWorkflow(ctx, wf)
			if err != nil {
				return nil, err
			}
			next, err := s.nextRun(ctx, wf)
			return &WorkflowResult{Workflow: v, NextRun: next}, err
		}),
		declare(Tool{
			Name: "run_workflow", Title: "Run a workflow", Scope: socialv1alpha1.ScopeWorkflowsRun,
			Description: "Queues a run of an enabled, valid workflow with the given inputs; the run creates the workflow's posts. Call ocoya_get_workflow first for the inputs it takes, and ocoya_get_workflow_run afterwards for the posts it made. Pass an idempotencyKey so a retried call cannot run twice.",
		}, func(ctx context.Context, s *toolCall, in runWorkflowArgs) (*RunResult, error) {
			wf, err := s.workflow(ctx, in.WorkflowID, true)
			if err != nil {
				return nil, err
			}
			if errs, err := s.validationErrors(ctx, wf); err != nil {
				return nil, err
			} else if len(errs) > 0 {
				return nil, invalidArgument("workflow %q is invalid and cannot run: %s", wf.Name, strings.Join(errs, "; "))
			}
			if !wf.Spec.Enabled {
				return nil, invalidArgument("workflow %q is disabled; enable it with %s first", wf.Name, s.toolName("toggle_workflow"))
			}
			inputs, errs := workflow.ValidateInputs(&wf.Spec, in.Inputs)
			if len(errs) > 0 {
				return nil, invalidArgument("the inputs do not fit workflow %q: %s", wf.Name, strings.Join(errs, "; "))
			}
			c := s.caller
			run := &socialv1alpha1.WorkflowRun{
				ObjectMeta: metav1.ObjectMeta{Namespace: s.ws.NamespaceName(), GenerateName: wf.Name + "-"},
				Spec: socialv1alpha1.WorkflowRunSpec{
					WorkflowRef: socialv1alpha1.LocalObjectReference{Name: wf.Name}, Inputs: inputs,
					RequestedBy: &socialv1alpha1.Requester{Subject: c.Subject, Client: c.ClientID, Via: "mcp"},
				},
			}
			if in.IdempotencyKey != "" {
				run.Name, run.GenerateName = idempotentName(wf.Name+"-", s.ws.Name, in.IdempotencyKey), ""
				run.Spec.IdempotencyKey = in.IdempotencyKey
			}
			stamp(run, c)
			created, err := s.createOnce(ctx, run, in.IdempotencyKey)
			if err != nil {
				return nil, refused(err)
			}
			return &RunResult{Run: viewRun(run), Created: created}, nil
		}),
	}
}
