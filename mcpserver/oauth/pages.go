package oauth

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
)

//go:embed templates/*.html
var templateFS embed.FS

type pages struct{ t *template.Template }

func mustParsePages() *pages {
	return &pages{t: template.Must(template.ParseFS(templateFS, "templates/*.html"))}
}

type scopeLine struct{ Name, Words string }

// workspaceChoice is one workspace on the consent page; Approval, when
// set, says which posts there wait for an approver.
type workspaceChoice struct{ Name, DisplayName, Role, Approval string }

type pageData struct {
	Title      string
	Error      string
	Action     string
	CSRF       string
	ClientName string
	// ClientHost is the host serving a metadata-document client's
	// document: who the person is really approving.
	ClientHost  string
	RedirectURI string
	Subject     string
	Username    string
	Scopes      []scopeLine
	Workspaces  []workspaceChoice
	OIDCName    string
	OIDCURL     string
	Approval    *approvalPage
	Connect     *connectPage
}

// render writes a page with headers that keep it out of frames and caches.
func (p *pages) render(w http.ResponseWriter, name string, status int, d pageData) {
	var buf bytes.Buffer
	if err := p.t.ExecuteTemplate(&buf, name, d); err != nil {
		log.Error(err, "rendering page failed", "page", name)
		http.Error(w, "the page could not be rendered; try again", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (p *pages) errorPage(w http.ResponseWriter, status int, title, msg string) {
	p.render(w, "error.html", status, pageData{Title: title, Error: msg})
}

// readPageForm reads the form a page posted back, bounded to maxFormBody;
// when it cannot, it answers with a page saying so and returns false.
func (s *Server) readPageForm(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		return true
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		s.pages.errorPage(w, http.StatusBadRequest, "Bad form", "The form could not be read; go back and submit it again.")
		return false
	}
	return true
}
