package publish_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/platformtest"
)

func TestKindForStatus(t *testing.T) {
	for status, want := range map[int][2]publish.ErrorKind{ // not idempotent, idempotent
		400: {publish.Permanent, publish.Permanent}, 404: {publish.Permanent, publish.Permanent}, 409: {publish.Permanent, publish.Permanent},
		410: {publish.Permanent, publish.Permanent}, 422: {publish.Permanent, publish.Permanent},
		401: {publish.CredentialsRejected, publish.CredentialsRejected}, 403: {publish.CredentialsRejected, publish.CredentialsRejected},
		408: {publish.Retryable, publish.Retryable}, 425: {publish.Retryable, publish.Retryable}, 429: {publish.Retryable, publish.Retryable},
		// A server error may come after the platform acted: only a request
		// that cannot act twice is sent again on its own.
		500: {publish.Unknown, publish.Retryable}, 502: {publish.Unknown, publish.Retryable},
		503: {publish.Unknown, publish.Retryable}, 504: {publish.Unknown, publish.Retryable},
	} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(publish.KindForStatus(status, false)).To(Equal(want[0]))
			g.Expect(publish.KindForStatus(status, true)).To(Equal(want[1]))
		})
	}
}

// answer starts a fake that answers every request with status, header and body.
func answer(t *testing.T, status int, header http.Header, body string) string {
	srv := platformtest.NewServer(t)
	srv.Handle("/", platformtest.ErrorCase{Status: status, Header: header, Body: body}.Handler(t))
	return srv.URL
}

func post(url string) publish.Request {
	return publish.Request{Op: "POST /thing", Method: http.MethodPost, URL: url, JSON: map[string]string{"a": "b"}}
}

func TestDoMapsStatuses(t *testing.T) {
	platformtest.CheckErrors(t, platformtest.StandardCases(func(_ int, msg string) string {
		return fmt.Sprintf(`{"error":%q}`, msg)
	}), nil, func(t *testing.T, client *http.Client, h http.HandlerFunc) error {
		srv := platformtest.NewServer(t)
		srv.Handle("/", h)
		_, err := publish.API{Platform: "test", Client: client}.Do(context.Background(), post(srv.URL+"/thing"))
		return err
	})
}

func TestRetryAfterSources(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		body   string
		want   time.Duration
	}{
		{"Retry-After seconds", 429, http.Header{"Retry-After": {"120"}}, "", 2 * time.Minute},
		{"Retry-After HTTP date", 503, http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, "", 90 * time.Second},
		{"X x-rate-limit-reset epoch", 429, http.Header{"X-Rate-Limit-Reset": {strconv.FormatInt(now.Add(5*time.Minute).Unix(), 10)}}, "", 5 * time.Minute},
		{"Mastodon X-RateLimit-Reset ISO 8601", 429, http.Header{"X-Ratelimit-Reset": {now.Add(time.Hour).Format("2006-01-02T15:04:05.000000Z")}}, "", time.Hour},
		{"Bluesky RateLimit-Reset epoch", 429, http.Header{"Ratelimit-Reset": {strconv.FormatInt(now.Add(30*time.Second).Unix(), 10)}}, "", 30 * time.Second},
		{"Discord X-RateLimit-Reset-After", 429, http.Header{"X-Ratelimit-Reset-After": {"1.5"}}, "", 1500 * time.Millisecond},
		{"retry_after in the body", 429, nil, `{"retry_after": 3}`, 3 * time.Second},
		{"reset in the past", 429, http.Header{"X-Rate-Limit-Reset": {strconv.FormatInt(now.Add(-time.Minute).Unix(), 10)}}, "", 0},
		{"reset headers ignored on 5xx", 500, http.Header{"X-Rate-Limit-Reset": {strconv.FormatInt(now.Add(time.Minute).Unix(), 10)}}, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			api := publish.API{Platform: "test", Now: func() time.Time { return now },
				Decode: func(_ int, body []byte) publish.Failure {
					if tc.body != "" {
						return publish.Failure{RetryAfter: 3 * time.Second}
					}
					return publish.Failure{}
				}}
			req := post(answer(t, tc.status, tc.header, tc.body))
			req.Idempotent = tc.status >= 500 // a server error is retryable only for a request that cannot act twice
			_, err := api.Do(context.Background(), req)
			g.Expect(publish.IsRetryable(err)).To(BeTrue())
			g.Expect(publish.RetryAfter(err)).To(Equal(tc.want))
		})
	}
}

func TestTransportFailures(t *testing.T) {
	t.Run("dial failure before sending is retryable", func(t *testing.T) {
		g := NewWithT(t)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		g.Expect(err).NotTo(HaveOccurred())
		addr := l.Addr().String()
		g.Expect(l.Close()).To(Succeed())
		_, err = publish.API{Platform: "test", Client: platformtest.Client()}.Do(context.Background(), post("http://"+addr+"/x"))
		g.Expect(publish.KindOf(err)).To(Equal(publish.Retryable))
		g.Expect(err.Error()).To(ContainSubstring("not sent"))
	})
	t.Run("timeout after sending a POST is unknown", func(t *testing.T) {
		g := NewWithT(t)
		srv := platformtest.NewServer(t)
		srv.Handle("/", platformtest.Blocking(t))
		_, err := publish.API{Platform: "test", Client: platformtest.Client()}.Do(context.Background(), post(srv.URL+"/x"))
		g.Expect(publish.KindOf(err)).To(Equal(publish.Unknown))
		g.Expect(errors.Is(err, context.DeadlineExceeded) || isTimeout(err)).To(BeTrue(), "the cause is kept: %v", err)
	})
	t.Run("timeout of a GET is retryable", func(t *testing.T) {
		g := NewWithT(t)
		srv := platformtest.NewServer(t)
		srv.Handle("/", platformtest.Blocking(t))
		_, err := publish.API{Platform: "test", Client: platformtest.Client()}.Do(context.Background(),
			publish.Request{Op: "GET /x", Method: http.MethodGet, URL: srv.URL + "/x"})
		g.Expect(publish.KindOf(err)).To(Equal(publish.Retryable))
	})
	t.Run("a 2xx whose body cannot be read as JSON is unknown", func(t *testing.T) {
		g := NewWithT(t)
		var out struct{ ID string }
		r := post(answer(t, 201, nil, "<html>created</html>"))
		r.Out = &out
		_, err := publish.API{Platform: "test"}.Do(context.Background(), r)
		g.Expect(publish.KindOf(err)).To(Equal(publish.Unknown))
		g.Expect(err.Error()).To(ContainSubstring("HTTP 201"))
	})
	t.Run("a POST is not redirected into a GET", func(t *testing.T) {
		g := NewWithT(t)
		srv := platformtest.NewServer(t)
		srv.Handle("POST /old", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/new", http.StatusFound) })
		srv.Handle("GET /new", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) })
		_, err := publish.API{Platform: "test"}.Do(context.Background(), post(srv.URL+"/old"))
		g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
		g.Expect(err.Error()).To(ContainSubstring("HTTP 302"))
		g.Expect(srv.Routes()).To(Equal([]string{"POST /old"}))
	})
	t.Run("an idempotent DELETE follows a 307 but not a 303", func(t *testing.T) {
		g := NewWithT(t)
		srv := platformtest.NewServer(t)
		srv.Handle("DELETE /moved", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/here", http.StatusTemporaryRedirect)
		})
		srv.Handle("DELETE /here", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
		srv.Handle("DELETE /seeother", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/here", http.StatusSeeOther) })
		del := func(path string) error {
			_, err := publish.API{Platform: "test"}.Do(context.Background(),
				publish.Request{Op: "DELETE", Method: http.MethodDelete, URL: srv.URL + path, Idempotent: true})
			return err
		}
		g.Expect(del("/moved")).To(Succeed())
		g.Expect(srv.Routes()).To(Equal([]string{"DELETE /moved", "DELETE /here"}), "the same method at the new place")
		err := del("/seeother")
		g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
		g.Expect(err.Error()).To(ContainSubstring("HTTP 303"))
		g.Expect(srv.Routes()).To(HaveLen(3), "no GET after the 303")
	})
	t.Run("a cancelled context before sending is retryable", func(t *testing.T) {
		g := NewWithT(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := publish.API{Platform: "test"}.Do(ctx, post(answer(t, 200, nil, "{}")))
		g.Expect(publish.KindOf(err)).To(Equal(publish.Retryable))
		g.Expect(errors.Is(err, context.Canceled)).To(BeTrue())
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestErrorsNeverContainCredentials(t *testing.T) {
	const token = "123456:AAbbCCddEEff-secret"
	creds := publish.Credentials{"botToken": []byte(token + "\n")}
	t.Run("echoed in the body", func(t *testing.T) {
		g := NewWithT(t)
		url := answer(t, 400, nil, fmt.Sprintf(`{"description":"bad token %s"}`, token))
		_, err := publish.API{Platform: "test", Secrets: creds}.Do(context.Background(), post(url))
		g.Expect(err).To(HaveOccurred())
		g.Expect(err.Error()).To(ContainSubstring("bad token [redacted]"))
		g.Expect(err.Error()).NotTo(ContainSubstring(token))
	})
	t.Run("in the URL of a request that failed", func(t *testing.T) {
		g := NewWithT(t)
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := l.Addr().String()
		l.Close()
		// Even without Secrets the URL is not quoted.
		_, err := publish.API{Platform: "test"}.Do(context.Background(), post("http://"+addr+"/bot"+token+"/sendMessage"))
		g.Expect(err).To(HaveOccurred())
		g.Expect(err.Error()).NotTo(ContainSubstring(token))
		g.Expect(err.Error()).NotTo(ContainSubstring("secret"))
	})
	t.Run("missing and empty keys name the key only", func(t *testing.T) {
		g := NewWithT(t)
		_, err := creds.Get("accessToken")
		g.Expect(err).To(MatchError("credentials have no key accessToken"))
		g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
		_, err = publish.Credentials{"accessToken": []byte(" \n")}.Get("accessToken")
		g.Expect(err).To(MatchError("credentials key accessToken is empty"))
		v, err := creds.Get("botToken")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(v).To(Equal(token), "trailing newline trimmed")
	})
}

func TestErrorMessage(t *testing.T) {
	for body, want := range map[string]string{
		`{"error":"Validation failed: Text character limit of 500 exceeded"}`:       "Validation failed: Text character limit of 500 exceeded",
		`{"error":"RecordNotFound","message":"Could not locate record"}`:            "RecordNotFound: Could not locate record",
		`{"title":"Forbidden","detail":"You are not allowed to create a Tweet"}`:    "You are not allowed to create a Tweet",
		`{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`: "Bad Request: chat not found",
		`{"errors":[{"message":"Rate limit"}]}`:                                     "Rate limit",
		`{"message":"Unknown Webhook","code":10015}`:                                "Unknown Webhook",
		"invalid_payload\n": "invalid_payload",
		`{"other":1}`:       "",
	} {
		NewWithT(t).Expect(publish.ErrorMessage([]byte(body))).To(Equal(want), body)
	}
}

func TestFetchMedia(t *testing.T) {
	g := NewWithT(t)
	srv := platformtest.NewServer(t)
	png := []byte("\x89PNG\r\n\x1a\nrest")
	srv.Handle("GET /img/cat.png", func(w http.ResponseWriter, r *http.Request) { w.Write(png) })
	srv.Handle("GET /private.png", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(403) })
	srv.Handle("GET /big.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(2<<20))
		w.Write(make([]byte, 2<<20))
	})
	srv.Handle("GET /liar.png", func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush() // no Content-Length: chunked, of any size
		for range 64 {
			w.Write(make([]byte, 32<<10))
		}
	})
	api := publish.API{Platform: "test"}
	ctx := context.Background()

	d, err := api.FetchMedia(ctx, publish.Media{URL: srv.URL + "/img/cat.png?sig=abc"}, 1<<20)
	g.Expect(err).NotTo(HaveOccurred())
	data, err := io.ReadAll(d)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(d.Close()).To(Succeed())
	g.Expect(data).To(Equal(png))
	g.Expect(d.Filename).To(Equal("cat.png"))
	g.Expect(d.ContentType).To(Equal("image/png"))

	// A media host refusing access is not the platform refusing credentials.
	_, err = api.FetchMedia(ctx, publish.Media{URL: srv.URL + "/private.png?sig=secret-signature"}, 1<<20)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("/private.png"))
	g.Expect(err.Error()).NotTo(ContainSubstring("secret-signature"))

	// A file larger than the platform takes is refused on its
	// Content-Length, before it is read.
	_, err = api.FetchMedia(ctx, publish.Media{URL: srv.URL + "/big.png"}, 1*1000*1000)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("the file is 2 MiB; test accepts at most 1 MB for a image; use a smaller file"))

	// A host that says nothing of the size fails once it passes the limit.
	d, err = api.FetchMedia(ctx, publish.Media{URL: srv.URL + "/liar.png"}, 1<<20)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = io.Copy(io.Discard, d)
	d.Close()
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("larger than 1 MiB, the most test accepts for it"))

	// A platform that takes no uploads of a type gets none.
	_, err = api.FetchMedia(ctx, publish.Media{URL: srv.URL + "/img/cat.png", Type: "video"}, 0)
	g.Expect(err).To(MatchError(ContainSubstring("Herald cannot upload videos to test")))
}

// TestUploadStreams sends a 48 MiB file from a media host to an upload
// endpoint and counts what the process allocated meanwhile: the file is
// streamed, not held.
func TestUploadStreams(t *testing.T) {
	g := NewWithT(t)
	const size = 48 << 20
	// A plain server: the platform fakes record whole bodies.
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	chunk := make([]byte, 64<<10)
	mux.HandleFunc("GET /video.mp4", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for sent := 0; sent < size; sent += len(chunk) {
			w.Write(chunk)
		}
	})
	var received int64
	var fields []string
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for {
			part, err := mr.NextPart()
			if err != nil {
				break
			}
			fields = append(fields, part.FormName()+"="+part.FileName())
			n, _ := io.Copy(io.Discard, part)
			if part.FileName() != "" {
				received = n
			}
		}
		w.Write([]byte(`{"id":"m1"}`))
	})
	api := publish.API{Platform: "test"}
	ctx := context.Background()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	file, err := api.FetchMedia(ctx, publish.Media{URL: srv.URL + "/video.mp4"}, 64<<20)
	g.Expect(err).NotTo(HaveOccurred())
	var out struct{ ID string }
	_, err = api.Do(ctx, publish.Request{Op: "POST /upload", Method: http.MethodPost, URL: srv.URL + "/upload",
		Upload: &publish.Upload{File: file, FormField: "file", Fields: map[string]string{"description": "a cat"}}, Idempotent: true, Out: &out})
	file.Close()
	runtime.ReadMemStats(&after)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out.ID).To(Equal("m1"))
	g.Expect(received).To(BeEquivalentTo(size))
	g.Expect(fields).To(Equal([]string{"description=", "file=video.mp4"}))
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("streaming %d MiB allocated %.1f MiB", size>>20, float64(allocated)/(1<<20))
	g.Expect(allocated).To(BeNumerically("<", size/4), "the upload allocated %d bytes for a %d-byte file", allocated, size)

	// A file that grows past the limit mid-upload fails as the file's
	// fault, not as a lost answer.
	file, err = api.FetchMedia(ctx, publish.Media{URL: srv.URL + "/video.mp4"}, size/2)
	g.Expect(err).To(MatchError(ContainSubstring("accepts at most")), "refused on Content-Length")
	mux.HandleFunc("GET /growing.mp4", func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		for sent := 0; sent < 4<<20; sent += len(chunk) {
			w.Write(chunk)
		}
	})
	file, err = api.FetchMedia(ctx, publish.Media{URL: srv.URL + "/growing.mp4"}, 1<<20)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = api.Do(ctx, publish.Request{Op: "POST /upload", Method: http.MethodPost, URL: srv.URL + "/upload",
		Upload: &publish.Upload{File: file, FormField: "file"}, Idempotent: true})
	file.Close()
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("larger than 1 MiB"))
}

func TestErrorHelpers(t *testing.T) {
	g := NewWithT(t)
	g.Expect(publish.KindOf(nil)).To(BeEmpty())
	g.Expect(publish.KindOf(errors.New("boom"))).To(Equal(publish.Unknown))
	wrapped := fmt.Errorf("deliver: %w", &publish.Error{Kind: publish.Retryable, RetryAfter: time.Second})
	g.Expect(publish.IsRetryable(wrapped)).To(BeTrue())
	g.Expect(publish.RetryAfter(wrapped)).To(Equal(time.Second))
	e := publish.Errorf(publish.Unknown, "lost: %w", context.DeadlineExceeded)
	g.Expect(errors.Is(e, context.DeadlineExceeded)).To(BeTrue())
	g.Expect(e.Error()).To(Equal("lost: context deadline exceeded"))

	_, err := publish.Registry{}.For(publish.Platform("x"))
	g.Expect(err).To(MatchError(`no publisher for platform "x"`))
}

func TestEffectiveType(t *testing.T) {
	g := NewWithT(t)
	g.Expect(publish.Media{URL: "https://c.example/a.MP4?x=1"}.EffectiveType()).To(Equal("video"))
	g.Expect(publish.Media{URL: "https://c.example/a.gif"}.EffectiveType()).To(Equal("gif"))
	g.Expect(publish.Media{URL: "https://c.example/a"}.EffectiveType()).To(Equal("image"))
	g.Expect(publish.Media{URL: "https://c.example/a.gif", Type: "Video"}.EffectiveType()).To(Equal("video"))
}
