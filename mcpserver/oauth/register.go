package oauth

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
)

// registrationRequest is the RFC 7591 client metadata Herald reads.
type registrationRequest struct {
	RedirectURIs            []string `json:"redirect_uris"`
	ClientName              string   `json:"client_name"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	Scope                   string   `json:"scope"`
	ClientURI               string   `json:"client_uri"`
	LogoURI                 string   `json:"logo_uri"`
	SoftwareID              string   `json:"software_id"`
	SoftwareVersion         string   `json:"software_version"`
}

const maxRegistrationBody = 64 << 10

// handleRegister implements RFC 7591 dynamic client registration: each
// registration becomes an MCPClient (spec.dynamic=true) named by its client_id.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRegistrationBody+1))
	if err != nil || len(body) > maxRegistrationBody {
		writeOAuthError(w, http.StatusBadRequest, "invalid_client_metadata", "the registration body must be a JSON object under 64 KiB")
		return
	}
	var req registrationRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_client_metadata", "the registration body is not valid JSON client metadata: "+err.Error())
		return
	}
	spec, code, msg := registrationSpec(&req)
	if code != "" {
		writeOAuthError(w, http.StatusBadRequest, code, msg)
		return
	}
	if !s.admitRegistration(w, r) {
		return
	}
	id := "mcp-" + randomHex(12)
	obj := &v1alpha1.MCPClient{ObjectMeta: metav1.ObjectMeta{Name: id}, Spec: *spec}

	var secret string
	if spec.TokenEndpointAuthMethod != "none" {
		secret = randomToken(32)
		spec.ClientSecretRef = &v1alpha1.SecretKeyReference{Name: "herald-client-" + id, Key: "clientSecret"}
		obj.Spec = *spec
	}
	if err := s.c.Create(r.Context(), obj); err != nil {
		logFor(r.Context()).Error(err, "registering client failed", "client", id)
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "the client could not be stored; try again, and tell the operator if it persists")
		return
	}
	if secret != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.DefaultCost)
		if err == nil {
			err = s.c.Create(r.Context(), &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{
					Namespace: s.cfg.Namespace, Name: spec.ClientSecretRef.Name,
					Labels:          map[string]string{labelManagedBy: managedByValue},
					OwnerReferences: []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "MCPClient", Name: id, UID: obj.UID}},
				},
				Data: map[string][]byte{"clientSecret": hash},
			})
		}
		if err != nil {
			_ = s.c.Delete(r.Context(), obj)
			logFor(r.Context()).Error(err, "storing client secret failed", "client", id)
			writeOAuthError(w, http.StatusInternalServerError, "server_error", "the client secret could not be stored; try again")
			return
		}
	}
	logFor(r.Context()).Info("client registered", "client", id, "name", spec.ClientName, "dynamic", true)

	resp := map[string]any{
		"client_id":                  id,
		"client_id_issued_at":        obj.CreationTimestamp.Unix(),
		"client_name":                spec.ClientName,
		"redirect_uris":              spec.RedirectURIs,
		"grant_types":                spec.GrantTypes,
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": string(spec.TokenEndpointAuthMethod),
		"scope":                      scopeString(spec.Scopes),
	}
	if secret != "" {
		resp["client_secret"] = secret
		resp["client_secret_expires_at"] = 0
	}
	for k, v := range map[string]string{"client_uri": spec.ClientURI, "logo_uri": spec.LogoURI, "software_id": spec.SoftwareID, "software_version": spec.SoftwareVersion} {
		if v != "" {
			resp[k] = v
		}
	}
	writeJSON(w, http.StatusCreated, resp)
}

// admitRegistration applies the registration limits, answering 429 or 503
// with Retry-After itself when one is reached. Only registrations that
// passed validation count: a refused one stores nothing.
func (s *Server) admitRegistration(w http.ResponseWriter, r *http.Request) bool {
	var clients v1alpha1.MCPClientList
	if err := s.c.List(r.Context(), &clients, client.UnsafeDisableDeepCopy); err != nil {
		logFor(r.Context()).Error(err, "listing clients for the registration limit failed")
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "the registration could not be checked; try again")
		return false
	}
	unused := 0
	for i := range clients.Items {
		if c := &clients.Items[i]; c.Spec.Dynamic && c.Status.LastAuthorizedAt == nil {
			unused++
		}
	}
	if unused >= s.cfg.MaxUnusedClients {
		logFor(r.Context()).Info("registration refused: too many unused clients", "unused", unused)
		w.Header().Set("Retry-After", "3600")
		writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", fmt.Sprintf(
			"Herald holds %d registered clients that never completed a sign-in, its limit; they are removed an hour after registering. "+
				"Try again later, or ask the operator to delete unused ones (kubectl get mcpclients) or raise the limit", unused))
		return false
	}
	addr := s.clientAddr(r)
	if ok, wait := s.registrations.take(addr, s.cfg.MaxRegistrationsPerAddress); !ok {
		logFor(r.Context()).Info("registration refused by rate limit", "addr", addr)
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		writeOAuthError(w, http.StatusTooManyRequests, "temporarily_unavailable", fmt.Sprintf(
			"this address registered %d clients within the last hour, the limit; reuse a registered client_id, or try again in %s",
			s.cfg.MaxRegistrationsPerAddress, wait.Round(time.Second)))
		return false
	}
	return true
}

// registrationSpec validates metadata and turns it into an MCPClient spec, or
// returns an RFC 7591 error code and a message saying what to change.
func registrationSpec(req *registrationRequest) (*v1alpha1.MCPClientSpec, string, string) {
	if len(req.RedirectURIs) == 0 {
		return nil, "invalid_redirect_uri", "redirect_uris is required: list the URIs the client receives codes at"
	}
	if len(req.RedirectURIs) > 20 {
		return nil, "invalid_redirect_uri", "at most 20 redirect_uris may be registered"
	}
	for _, u := range req.RedirectURIs {
		if len(u) > 2048 {
			return nil, "invalid_redirect_uri", "a redirect URI is longer than 2048 characters"
		}
		if err := validateRedirectURI(u); err != nil {
			return nil, "invalid_redirect_uri", err.Error()
		}
	}
	method := req.TokenEndpointAuthMethod
	if method == "" {
		method = "none"
	}
	if !slices.Contains([]string{"none", "client_secret_basic", "client_secret_post"}, method) {
		return nil, "invalid_client_metadata", fmt.Sprintf("token_endpoint_auth_method %q is not supported; use none (public client with PKCE), client_secret_basic or client_secret_post", method)
	}
	grants := req.GrantTypes
	if len(grants) == 0 {
		grants = []string{"authorization_code", "refresh_token"}
	}
	for _, g := range grants {
		if g != "authorization_code" && g != "refresh_token" {
			return nil, "invalid_client_metadata", fmt.Sprintf("grant_type %q is not supported; Herald offers authorization_code and refresh_token", g)
		}
	}
	for _, rt := range req.ResponseTypes {
		if rt != "code" {
			return nil, "invalid_client_metadata", fmt.Sprintf("response_type %q is not supported; Herald offers only code", rt)
		}
	}
	var scopes []v1alpha1.Scope
	for _, sc := range strings.Fields(req.Scope) {
		if !isKnownScope(sc) {
			return nil, "invalid_client_metadata", fmt.Sprintf("scope %q is unknown; Herald's scopes are: %s", sc, scopeString(AllScopes))
		}
		scopes = append(scopes, v1alpha1.Scope(sc))
	}
	name := strings.TrimSpace(req.ClientName)
	if msg := clientNameProblem(name); msg != "" {
		return nil, "invalid_client_metadata", msg
	}
	if name == "" {
		name = "Unnamed MCP client"
	}
	return &v1alpha1.MCPClientSpec{
		ClientName: name, RedirectURIs: req.RedirectURIs,
		TokenEndpointAuthMethod: v1alpha1.TokenEndpointAuthMethod(method),
		GrantTypes:              grants, Scopes: sortScopes(scopes),
		ClientURI: truncate(req.ClientURI, 2048), LogoURI: truncate(req.LogoURI, 2048),
		SoftwareID: truncate(req.SoftwareID, 256), SoftwareVersion: truncate(req.SoftwareVersion, 64),
		Dynamic: true,
	}, "", ""
}

// maxClientName bounds client_name, in characters: the consent page shows
// it to the person who approves, where a longer one would crowd out the rest.
const maxClientName = 200

// clientNameProblem says what is wrong with a client_name, or "" when
// nothing is (an absent name is for the caller to judge). Control and
// bidirectional-override characters are refused because the consent page
// shows the name to a person deciding whom to trust: a line break or a
// right-to-left override would let a client dress itself up as another.
func clientNameProblem(name string) string {
	if !utf8.ValidString(name) {
		return "client_name is not valid UTF-8"
	}
	if n := utf8.RuneCountInString(name); n > maxClientName {
		return fmt.Sprintf("client_name has %d characters; at most %d are accepted", n, maxClientName)
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return fmt.Sprintf("client_name contains the control character %U; give a plain name, as the consent page shows it", r)
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
