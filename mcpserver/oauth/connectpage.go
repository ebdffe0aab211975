package oauth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/connect"
	"github.com/herald-dev/herald/internal/publish"
)

// ConnectPath is the connection page of a platform in a workspace: the
// link ocoya_get_social_connection_url gives.
func ConnectPath(workspace, platform string) string {
	return "/connect/" + workspace + "/" + platform
}

// ConnectCallbackPath is where platforms send the person back after they
// authorized Herald; it is the redirect URI to register with a platform.
const ConnectCallbackPath = "/connect/callback"

// connectLifetime bounds a connection started on a platform's own page.
const connectLifetime = 15 * time.Minute

// verifyTimeout bounds the platform call that checks an account before it is saved.
const verifyTimeout = 30 * time.Second

// connectPage is what a connection page shows.
type connectPage struct {
	Workspace, WorkspaceName, Platform string
	// Name is how people call the platform.
	Name string
	// Profile is the profile's name, new or reconnected.
	Profile   string
	Reconnect bool
	Intro     string
	Fields    []connectField
	// Instance is the Mastodon instance, for the OAuth start form, which
	// asks for it when AskInstance.
	Instance    string
	AskInstance bool
	OAuth       bool
	// Done says what was connected.
	Done string
	// Choices are the accounts an authorization gave access to, for the
	// person to pick one; Pending carries them, sealed, to ConnectChoosePath.
	Choices []string
	Pending string
}

// ConnectChoosePath is where the person picks one of the accounts an
// authorization gave access to (one of the Pages they manage).
const ConnectChoosePath = "/connect/choose"

// pendingChoice is an authorization that gave access to several
// accounts, waiting for the person to pick one. It travels sealed in the
// chooser's form, so any replica finishes it.
type pendingChoice struct {
	Workspace string           `json:"ws"`
	Platform  string           `json:"p"`
	Profile   string           `json:"n"`
	Subject   string           `json:"s"`
	Expires   int64            `json:"e"`
	Choices   []connect.Choice `json:"c"`
}

type connectField struct {
	connect.Field
	Value string
}

// pendingConnection is a connection waiting for the platform's answer. It
// travels sealed in the OAuth state, so any replica can finish it, and is
// bound to the browser that started it by a cookie carrying Nonce.
type pendingConnection struct {
	Workspace string `json:"ws"`
	Platform  string `json:"p"`
	Profile   string `json:"n"`
	Instance  string `json:"i"`
	Verifier  string `json:"v"`
	Subject   string `json:"s"`
	Nonce     string `json:"o"`
	Expires   int64  `json:"e"`
}

// handleConnect serves a workspace's connection page for one platform:
// behind Herald's sign-in, for members who may connect accounts there
// (editors and owners). A form platform's account is verified with the
// platform and saved; a Mastodon connection goes on at the instance.
func (s *Server) handleConnect(w http.ResponseWriter, r *http.Request) {
	if !s.readPageForm(w, r) {
		return
	}
	d := pageData{Action: r.URL.RequestURI(), Title: "Connect an account"}
	subject := s.signedIn(w, r, d)
	if subject == "" {
		return
	}
	ws, ok := s.connectableWorkspace(r.Context(), r.PathValue("workspace"), subject)
	if !ok {
		s.pages.errorPage(w, http.StatusNotFound, "Not found", "There is no such workspace where you may connect accounts. Check the link, or ask an owner of the workspace to make you an editor.")
		return
	}
	platform := v1alpha1.Platform(r.PathValue("platform"))
	page := &connectPage{Workspace: ws.Name, WorkspaceName: displayName(ws), Platform: string(platform), Name: s.platformName(platform)}
	d.Subject, d.CSRF, d.Connect = subject, s.csrfToken(w, r), page
	form := connect.FormFor(platform)
	if provider, ok := s.providers[platform]; ok && form != nil {
		// With the operator's app, the person authorizes it on the
		// platform; without it, they paste a token.
		if _, err := s.apps.App(r.Context(), provider, s.public.String()+ConnectCallbackPath); err == nil {
			form = nil
		}
	}
	if !connect.Connectable(platform) {
		s.pages.errorPage(w, http.StatusNotFound, "Not connectable here", "Herald connects "+strings.Join(ConnectablePlatforms(), ", ")+
			" accounts on its pages. For "+string(platform)+", create the credentials Secret and the SocialProfile with kubectl, as docs/platforms.md shows.")
		return
	}
	values := map[string]string{}
	for k := range r.URL.Query() {
		values[k] = r.URL.Query().Get(k)
	}
	if r.Method == http.MethodPost {
		for k := range r.PostForm {
			values[k] = r.PostForm.Get(k)
		}
	}
	page.Profile = values["profile"]
	if form != nil {
		page.Intro = form.Intro
		for _, f := range form.Fields {
			cf := connectField{Field: f}
			if !f.Secret {
				cf.Value = values[f.Name]
			}
			page.Fields = append(page.Fields, cf)
		}
	} else if platform == "mastodon" {
		page.OAuth, page.AskInstance, page.Instance = true, true, values["instance"]
		page.Intro = "Herald registers itself as an app on your instance and sends you there to authorize it; it may then post statuses with media and read your account, nothing else."
	} else {
		page.OAuth = true
		page.Intro = "Herald sends you to " + s.providers[platform].Name + " to authorize its app there; it may then post for the account and read it, nothing else. Herald renews the access before it expires."
	}
	if r.Method != http.MethodPost {
		s.pages.render(w, "connect.html", http.StatusOK, d)
		return
	}
	if !s.validCSRF(r) {
		d.Error = "This form expired or was not sent from this page. Fill it in again."
		s.pages.render(w, "connect.html", http.StatusForbidden, d)
		return
	}
	var status int
	if form != nil {
		status, d.Error = s.connectForm(r.Context(), ws, form, values, subject, page)
	} else {
		status, d.Error = s.startOAuth(w, r, ws, platform, values, subject)
		if status == http.StatusSeeOther {
			return
		}
	}
	s.pages.render(w, "connect.html", status, d)
}

// ConnectablePlatforms are the platforms Herald's pages connect.
func ConnectablePlatforms() []string {
	var out []string
	for _, p := range connect.Platforms() {
		out = append(out, string(p))
	}
	return out
}

// platformName is how people call a platform.
func (s *Server) platformName(p v1alpha1.Platform) string {
	if pr, ok := s.providers[p]; ok {
		return pr.Name
	}
	if p == "" {
		return ""
	}
	return strings.ToUpper(string(p[:1])) + string(p[1:])
}

func displayName(ws *v1alpha1.Workspace) string {
	if ws.Spec.DisplayName != "" {
		return ws.Spec.DisplayName
	}
	return ws.Name
}

// connectableWorkspace is the workspace if subject may connect accounts in it.
func (s *Server) connectableWorkspace(ctx context.Context, name, subject string) (*v1alpha1.Workspace, bool) {
	ws := &v1alpha1.Workspace{}
	if err := s.c.Get(ctx, client.ObjectKey{Name: name}, ws); err != nil || !ws.RoleOf(subject).Allows(v1alpha1.ScopeSocialProfilesWrite) {
		return nil, false
	}
	return ws, true
}

// profileName is the profile a connection writes: the one named, or one
// named after the platform and the handle.
func profileName(platform v1alpha1.Platform, named, handle string) (string, error) {
	if named == "" {
		return connect.ProfileName(platform, handle), nil
	}
	return named, connect.CheckProfileName(named)
}

// connectForm verifies the account a form describes and saves it; it
// returns the page's status and, when it failed, what to fix.
func (s *Server) connectForm(ctx context.Context, ws *v1alpha1.Workspace, form *connect.Form, values map[string]string, subject string, page *connectPage) (int, string) {
	handle, endpoint, creds, err := form.Build(values)
	if err != nil {
		return http.StatusBadRequest, err.Error() + "."
	}
	name, err := profileName(form.Platform, values["profile"], handle)
	if err != nil {
		return http.StatusBadRequest, err.Error()
	}
	return s.verifyAndSave(ctx, ws, connect.Connection{
		Namespace: ws.NamespaceName(), Profile: name, Platform: form.Platform, Handle: handle, Endpoint: endpoint,
		Credentials: creds, By: subject, At: s.clock.Now(),
	}, page)
}

// verifyAndSave asks the platform whether the credentials work and saves
// the profile only when they do.
func (s *Server) verifyAndSave(ctx context.Context, ws *v1alpha1.Workspace, conn connect.Connection, page *connectPage) (int, string) {
	acct, err := s.verifyAccount(ctx, conn)
	if err != nil {
		return http.StatusBadRequest, err.Error()
	}
	if acct.Handle != "" {
		conn.Handle = acct.Handle
	}
	if conn.Endpoint == "" {
		conn.Endpoint = acct.Endpoint // the account's own server, resolved through the platform's entryway
	}
	return s.saveConnection(ctx, ws, conn, page)
}

// verifyAccount asks the platform whose account the credentials are; the
// error says what to do, without a credential in it.
func (s *Server) verifyAccount(ctx context.Context, conn connect.Connection) (publish.Account, error) {
	pub, err := s.cfg.Publishers.For(publish.Platform(conn.Platform))
	if err != nil {
		return publish.Account{}, errors.New("Herald cannot publish to " + string(conn.Platform) + " here; tell the operator")
	}
	vctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	creds := publish.Credentials(conn.Credentials)
	acct, err := pub.Verify(vctx, publish.Profile{Platform: publish.Platform(conn.Platform), Handle: conn.Handle, Endpoint: conn.Endpoint, Credentials: creds})
	if err != nil {
		return acct, errors.New(string(conn.Platform) + " did not accept these credentials: " + creds.Redact(err.Error()) + ". Check them and try again; nothing was saved.")
	}
	return acct, nil
}

// saveConnection writes the verified account and tells the page.
func (s *Server) saveConnection(ctx context.Context, ws *v1alpha1.Workspace, conn connect.Connection, page *connectPage) (int, string) {
	prof, existed, err := connect.Save(ctx, s.c, s.apiReader, conn)
	if err != nil {
		logFor(ctx).Error(err, "saving a connected account failed", "workspace", ws.Name, "profile", conn.Profile)
		return http.StatusConflict, "The account works, but it could not be saved: " + err.Error() + "."
	}
	logFor(ctx).Info("account connected", "workspace", ws.Name, "profile", prof.Name, "platform", conn.Platform, "user", conn.By, "reconnected", existed)
	page.Profile, page.Reconnect, page.Fields, page.OAuth = prof.Name, existed, nil, false
	page.Done = "Connected " + conn.Handle + " as profile " + prof.Name + "."
	return http.StatusOK, ""
}

// startOAuth sends the browser to the platform to authorize Herald: for
// Mastodon after registering Herald on the instance (once), for the other
// OAuth platforms with the operator's app.
func (s *Server) startOAuth(w http.ResponseWriter, r *http.Request, ws *v1alpha1.Workspace, platform v1alpha1.Platform, values map[string]string, subject string) (int, string) {
	ctx := r.Context()
	if values["profile"] != "" {
		if err := connect.CheckProfileName(values["profile"]); err != nil {
			return http.StatusBadRequest, err.Error()
		}
	}
	callback := s.public.String() + ConnectCallbackPath
	verifier, nonce := oauth2.GenerateVerifier(), randomToken(16)
	pending := pendingConnection{Workspace: ws.Name, Platform: string(platform), Profile: values["profile"],
		Verifier: verifier, Subject: subject, Nonce: nonce, Expires: s.clock.Now().Add(connectLifetime).Unix()}
	var authorize func(state string) string
	if platform == "mastodon" {
		instance, err := connect.Instance(values["instance"], s.cfg.DevMode)
		if err != nil {
			return http.StatusBadRequest, err.Error() + "."
		}
		app, err := s.mastodon.App(ctx, instance, callback)
		if err != nil {
			return http.StatusBadGateway, err.Error() + ". Check the instance's address; nothing was saved."
		}
		pending.Instance = instance
		authorize = func(state string) string {
			return connect.MastodonAuthorizeURL(instance, app, callback, state, oauth2.S256ChallengeFromVerifier(verifier))
		}
	} else {
		provider := s.providers[platform]
		app, err := s.apps.App(ctx, provider, callback)
		if err != nil {
			return http.StatusServiceUnavailable, err.Error() + "."
		}
		authorize = func(state string) string {
			return provider.AuthCodeURL(app, callback, state, oauth2.S256ChallengeFromVerifier(verifier))
		}
	}
	state, err := s.seal(pending)
	if err != nil {
		return http.StatusInternalServerError, "The connection could not be started; try again."
	}
	s.setCookie(w, "connect", nonce, connectLifetime)
	http.Redirect(w, r, authorize(state), http.StatusSeeOther)
	return http.StatusSeeOther, ""
}

// exchange trades the code the platform sent back for the accounts the
// person may connect with it, and says where they live.
func (s *Server) exchange(ctx context.Context, p pendingConnection, code string) ([]connect.Choice, string, error) {
	callback := s.public.String() + ConnectCallbackPath
	if p.Platform == "mastodon" {
		app, err := s.mastodon.App(ctx, p.Instance, callback)
		if err != nil {
			return nil, "", err
		}
		token, err := connect.MastodonExchange(ctx, s.cfg.Outbound, p.Instance, app, callback, code, p.Verifier)
		return []connect.Choice{{Credentials: map[string][]byte{"accessToken": []byte(token)}}}, p.Instance, err
	}
	provider, ok := s.providers[v1alpha1.Platform(p.Platform)]
	if !ok {
		return nil, "", errors.New("Herald no longer connects " + p.Platform + " accounts")
	}
	app, err := s.apps.App(ctx, provider, callback)
	if err != nil {
		return nil, "", err
	}
	t, err := provider.Exchange(ctx, s.cfg.Outbound, app, callback, code, p.Verifier, s.clock.Now())
	if err != nil {
		return nil, "", err
	}
	choices, err := provider.Choices(ctx, s.cfg.Outbound, app, t, s.clock.Now())
	return choices, "", err
}

// handleConnectCallback finishes a connection the platform sent back:
// the same person, in the same browser, within connectLifetime.
func (s *Server) handleConnectCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := s.open(q.Get("state"))
	c, cerr := r.Cookie(s.cookieName("connect"))
	if err != nil || cerr != nil || c.Value != p.Nonce || s.clock.Now().Unix() > p.Expires {
		s.pages.errorPage(w, http.StatusBadRequest, "This connection cannot be finished",
			"It expired, or was started in another browser. Open the connection link again; nothing was saved.")
		return
	}
	d := pageData{Action: r.URL.RequestURI(), Title: "Connect an account"}
	subject := s.signedIn(w, r, d)
	if subject == "" {
		return
	}
	ws, ok := s.connectableWorkspace(r.Context(), p.Workspace, subject)
	if subject != p.Subject || !ok {
		s.pages.errorPage(w, http.StatusForbidden, "This connection cannot be finished", "It was started by someone else, or you may no longer connect accounts in this workspace. Nothing was saved.")
		return
	}
	s.setCookie(w, "connect", "", -time.Second)
	page := &connectPage{Workspace: ws.Name, WorkspaceName: displayName(ws), Platform: p.Platform, Name: s.platformName(v1alpha1.Platform(p.Platform)), Profile: p.Profile}
	d.Subject, d.Connect = subject, page
	if e := q.Get("error"); e != "" {
		d.Error = platformHost(p) + " answered " + e + ": " + truncate(q.Get("error_description"), 300) + ". Nothing was saved; open the connection link again to retry."
		s.pages.render(w, "connect.html", http.StatusBadRequest, d)
		return
	}
	ctx := r.Context()
	choices, endpoint, err := s.exchange(ctx, p, q.Get("code"))
	if err != nil {
		d.Error = err.Error() + ". Nothing was saved; open the connection link again to retry."
		s.pages.render(w, "connect.html", http.StatusBadGateway, d)
		return
	}
	if len(choices) > 1 {
		pending, err := s.sealJSON(pendingChoice{Workspace: ws.Name, Platform: p.Platform, Profile: p.Profile, Subject: subject,
			Expires: s.clock.Now().Add(connectLifetime).Unix(), Choices: choices})
		if err != nil {
			d.Error = "The connection could not be finished; open the connection link again."
			s.pages.render(w, "connect.html", http.StatusInternalServerError, d)
			return
		}
		for _, c := range choices {
			page.Choices = append(page.Choices, c.Label)
		}
		page.Pending, d.CSRF, d.Action = pending, s.csrfToken(w, r), ConnectChoosePath
		s.pages.render(w, "connect.html", http.StatusOK, d)
		return
	}
	status, msg := s.connectChoice(ctx, ws, v1alpha1.Platform(p.Platform), p.Profile, endpoint, choices[0], subject, page)
	d.Error = msg
	s.pages.render(w, "connect.html", status, d)
}

// handleConnectChoose finishes an authorization that gave access to
// several accounts with the one the person picked: the same person, in
// time, with the form Herald's chooser sent.
func (s *Server) handleConnectChoose(w http.ResponseWriter, r *http.Request) {
	if !s.readPageForm(w, r) {
		return
	}
	d := pageData{Action: ConnectChoosePath, Title: "Connect an account"}
	subject := s.signedIn(w, r, d)
	if subject == "" {
		return
	}
	var p pendingChoice
	if err := s.openJSON(r.PostForm.Get("pending"), &p); err != nil || s.clock.Now().Unix() > p.Expires || !s.validCSRF(r) {
		s.pages.errorPage(w, http.StatusBadRequest, "This connection cannot be finished", "It expired, or the form was not sent from Herald's page. Open the connection link again; nothing was saved.")
		return
	}
	ws, ok := s.connectableWorkspace(r.Context(), p.Workspace, subject)
	if subject != p.Subject || !ok {
		s.pages.errorPage(w, http.StatusForbidden, "This connection cannot be finished", "It was started by someone else, or you may no longer connect accounts in this workspace. Nothing was saved.")
		return
	}
	i, err := strconv.Atoi(r.PostForm.Get("choice"))
	if err != nil || i < 0 || i >= len(p.Choices) {
		s.pages.errorPage(w, http.StatusBadRequest, "No account was picked", "Pick one of the accounts on the page. Nothing was saved.")
		return
	}
	page := &connectPage{Workspace: ws.Name, WorkspaceName: displayName(ws), Platform: p.Platform, Name: s.platformName(v1alpha1.Platform(p.Platform)), Profile: p.Profile}
	d.Subject, d.Connect = subject, page
	status, msg := s.connectChoice(r.Context(), ws, v1alpha1.Platform(p.Platform), p.Profile, "", p.Choices[i], subject, page)
	d.Error = msg
	s.pages.render(w, "connect.html", status, d)
}

// connectChoice verifies the account an authorization gave and saves it,
// named as the platform reports it unless the person named the profile.
func (s *Server) connectChoice(ctx context.Context, ws *v1alpha1.Workspace, platform v1alpha1.Platform, profile, endpoint string, c connect.Choice, subject string, page *connectPage) (int, string) {
	conn := connect.Connection{Namespace: ws.NamespaceName(), Platform: platform, Endpoint: endpoint,
		Credentials: c.Credentials, By: subject, At: s.clock.Now()}
	acct, err := s.verifyAccount(ctx, conn)
	if err != nil {
		return http.StatusBadGateway, err.Error()
	}
	conn.Handle = acct.Handle
	if conn.Profile, err = profileName(platform, profile, acct.Handle); err != nil {
		return http.StatusBadRequest, err.Error()
	}
	return s.saveConnection(ctx, ws, conn, page)
}

func platformHost(p pendingConnection) string {
	if p.Instance != "" {
		return connect.HostOf(p.Instance)
	}
	return p.Platform
}

// stateCipher seals pending connections with a key derived from the
// signing keys' shared secret, so every replica opens what another sealed.
func (s *Server) stateCipher() (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.cookieKey("connect-state"))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (s *Server) seal(p pendingConnection) (string, error) { return s.sealJSON(p) }

// sealJSON encrypts v for the browser to carry: it can neither read nor
// change it.
func (s *Server) sealJSON(v any) (string, error) {
	aead, err := s.stateCipher()
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, body, nil)), nil
}

var errBadState = errors.New("the connection state is not Herald's")

func (s *Server) open(state string) (pendingConnection, error) {
	var p pendingConnection
	return p, s.openJSON(state, &p)
}

// openJSON decrypts what sealJSON sealed into v.
func (s *Server) openJSON(sealed string, v any) error {
	aead, err := s.stateCipher()
	if err != nil {
		return err
	}
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(raw) < aead.NonceSize() {
		return errBadState
	}
	body, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], nil)
	if err != nil || json.Unmarshal(body, v) != nil {
		return errBadState
	}
	return nil
}
