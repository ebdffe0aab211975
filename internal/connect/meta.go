package connect

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Choice is one account a person may connect after authorizing a
// platform that gives access to several (the Pages a person manages):
// how the page names it, and the keys of its Secret.
type Choice struct {
	Label       string
	Credentials map[string][]byte
}

// Facebook connects Facebook Pages with the operator's Meta app (Facebook
// Login for Business): the person's token is traded for a long-lived one,
// and each Page they manage is offered with its own token, which does not
// expire.
var Facebook = Provider{
	Platform: "facebook", Name: "Facebook", App: "meta",
	AuthorizeURL: "https://www.facebook.com/" + metaGraphVersion + "/dialog/oauth",
	TokenURL:     "https://graph.facebook.com/" + metaGraphVersion + "/oauth/access_token",
	APIURL:       "https://graph.facebook.com/" + metaGraphVersion,
	Scopes:       []string{"pages_show_list", "pages_read_engagement", "pages_manage_posts"},
	Developer:    "https://developers.facebook.com/apps", SecretInForm: true, ScopeSeparator: ",", NoRefresh: true,
	Accounts: facebookPages,
}

// Instagram connects Instagram professional accounts linked to a Facebook
// Page, through the same Meta app: each linked account is offered, with
// the person's long-lived token (60 days; connect again to renew it).
var Instagram = Provider{
	Platform: "instagram", Name: "Instagram", App: "meta",
	AuthorizeURL: Facebook.AuthorizeURL, TokenURL: Facebook.TokenURL, APIURL: Facebook.APIURL,
	Scopes:    []string{"pages_show_list", "pages_read_engagement", "instagram_basic", "instagram_content_publish"},
	Developer: Facebook.Developer, SecretInForm: true, ScopeSeparator: ",", NoRefresh: true,
	Accounts: instagramAccounts,
}

// Threads connects a Threads account with the Threads use case of the
// operator's Meta app, which Meta gives its own app id and secret
// (threads.clientID, threads.clientSecret): the short-lived token is
// traded for a long-lived one (60 days).
var Threads = Provider{
	Platform: "threads", Name: "Threads",
	AuthorizeURL: "https://threads.net/oauth/authorize", TokenURL: "https://graph.threads.net/oauth/access_token",
	APIURL:    "https://graph.threads.net",
	Scopes:    []string{"threads_basic", "threads_content_publish"},
	Developer: Facebook.Developer, SecretInForm: true, ScopeSeparator: ",", NoRefresh: true,
	Accounts: threadsAccount,
}

// metaGraphVersion is the Graph API version of the login dialog and the
// calls around it, the adapters' own.
const metaGraphVersion = "v24.0"

// longLived trades a short-lived token for a long-lived one: Facebook's
// fb_exchange_token at the token endpoint, Threads' th_exchange_token at
// its own.
func longLived(ctx context.Context, c *http.Client, p Provider, app OAuthApp, t Tokens, now time.Time) (Tokens, error) {
	endpoint, q := p.TokenURL, url.Values{"grant_type": {"fb_exchange_token"}, "client_id": {app.ClientID}, "client_secret": {app.ClientSecret}, "fb_exchange_token": {t.Access}}
	if p.Platform == "threads" {
		endpoint, q = p.APIURL+"/access_token", url.Values{"grant_type": {"th_exchange_token"}, "client_secret": {app.ClientSecret}, "access_token": {t.Access}}
	}
	var out tokenAnswer
	if err := getJSON(ctx, c, endpoint, q, &out); err != nil {
		return Tokens{}, fmt.Errorf("trading the %s token for a long-lived one: %w", p.Name, err)
	}
	if out.AccessToken == "" {
		return Tokens{}, fmt.Errorf("%s answered without a long-lived access_token", p.Name)
	}
	long := Tokens{Access: out.AccessToken}
	if out.ExpiresIn > 0 {
		long.ExpiresAt = now.Add(time.Duration(out.ExpiresIn) * time.Second)
	}
	return long, nil
}

// pages lists the Pages the person manages, with fields.
func pages(ctx context.Context, c *http.Client, p Provider, token, fields string) ([]map[string]any, error) {
	var out struct {
		Data []map[string]any `json:"data"`
	}
	if err := getJSON(ctx, c, p.APIURL+"/me/accounts", url.Values{"fields": {fields}, "limit": {"100"}, "access_token": {token}}, &out); err != nil {
		return nil, fmt.Errorf("listing the Pages you manage: %w", err)
	}
	return out.Data, nil
}

func facebookPages(ctx context.Context, c *http.Client, p Provider, app OAuthApp, t Tokens, now time.Time) ([]Choice, error) {
	long, err := longLived(ctx, c, p, app, t, now)
	if err != nil {
		return nil, err
	}
	list, err := pages(ctx, c, p, long.Access, "id,name,access_token")
	if err != nil {
		return nil, err
	}
	var out []Choice
	for _, pg := range list {
		id, _ := pg["id"].(string)
		name, _ := pg["name"].(string)
		token, _ := pg["access_token"].(string)
		if id == "" || token == "" {
			continue // a Page the person may see but not post to
		}
		out = append(out, Choice{Label: name, Credentials: map[string][]byte{"accessToken": []byte(token), "pageId": []byte(id)}})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("you manage no Facebook Page Herald may post to; grant the app your Page when Facebook asks which ones")
	}
	return out, nil
}

func instagramAccounts(ctx context.Context, c *http.Client, p Provider, app OAuthApp, t Tokens, now time.Time) ([]Choice, error) {
	long, err := longLived(ctx, c, p, app, t, now)
	if err != nil {
		return nil, err
	}
	list, err := pages(ctx, c, p, long.Access, "id,name,instagram_business_account{id,username}")
	if err != nil {
		return nil, err
	}
	var out []Choice
	for _, pg := range list {
		ig, _ := pg["instagram_business_account"].(map[string]any)
		id, _ := ig["id"].(string)
		if id == "" {
			continue
		}
		username, _ := ig["username"].(string)
		page, _ := pg["name"].(string)
		long.Account = map[string][]byte{"igUserId": []byte(id)}
		out = append(out, Choice{Label: strings.TrimSpace("@" + username + " (" + page + ")"), Credentials: long.Credentials()})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("none of the Pages you granted has an Instagram professional account linked to it; link one in the Page's settings, then connect again")
	}
	return out, nil
}

func threadsAccount(ctx context.Context, c *http.Client, p Provider, app OAuthApp, t Tokens, now time.Time) ([]Choice, error) {
	long, err := longLived(ctx, c, p, app, t, now)
	if err != nil {
		return nil, err
	}
	return []Choice{{Label: "Threads", Credentials: long.Credentials()}}, nil
}
