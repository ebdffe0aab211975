package platformtest

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// The page an OAuth platform shows a person asked to authorize an app, as
// the fakes of platforms Herald connects with OAuth serve it: the request
// travels in the form, and the person's choice is one of its buttons.

var authorizationPage = template.Must(template.New("authorize").Funcs(template.FuncMap{"label": label}).Parse(`<!doctype html>
<html><head><title>Authorization</title></head><body>
<h1>{{.Heading}}</h1>
<form method="post" action="{{.Action}}"><input type="hidden" name="query" value="{{.Query}}">
{{range .Decisions}}<button type="submit" name="decision" value="{{.}}" id="{{.}}">{{label .}}</button>
{{end}}</form></body></html>`))

func label(decision string) string { return strings.ToUpper(decision[:1]) + decision[1:] }

// AuthorizationPage writes that page: the heading, and a form posting the
// authorization request back to action, with one button per decision (its
// value and id).
func AuthorizationPage(w http.ResponseWriter, heading, action string, request url.Values, decisions ...string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = authorizationPage.Execute(w, map[string]any{"Heading": heading, "Action": action, "Query": request.Encode(), "Decisions": decisions})
}

// Decision reads what the person chose on an AuthorizationPage: the
// authorization request and the button.
func Decision(r *http.Request) (request url.Values, decision string) {
	request, _ = url.ParseQuery(r.FormValue("query"))
	return request, r.FormValue("decision")
}

// RedirectBack sends the browser to redirectURI with the request's state and
// the answer: a code, or an error and its description.
func RedirectBack(w http.ResponseWriter, r *http.Request, redirectURI string, request, answer url.Values) {
	back, err := url.Parse(redirectURI)
	if err != nil {
		http.Error(w, "the redirect URI is not a URL", http.StatusBadRequest)
		return
	}
	v := back.Query()
	if st := request.Get("state"); st != "" {
		v.Set("state", st)
	}
	for k, vs := range answer {
		v[k] = vs
	}
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}
