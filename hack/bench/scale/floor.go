package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/controllers"
	"github.com/herald-dev/herald/internal/scheme"
)

// floor is what any client of this API server pays to read every post,
// measured on the same machine as herald's start-up, so start-up can be
// told apart from the server's own cost.
type floor struct {
	list     time.Duration // a LIST of every post, paged as informers page it, bytes read and dropped
	bytes    int64         // the JSON that LIST served
	pages    int           // in how many pages
	informer time.Duration // a bare controller-runtime cache with herald's transform, from start to synced
}

// listPage is the page size client-go's reflector asks for.
const listPage = 500

func measureFloor(ctx context.Context, cfg *rest.Config) (floor, error) {
	var f floor
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return f, err
	}
	path := strings.TrimSuffix(cfg.Host, "/") + "/apis/" + socialv1alpha1.GroupVersion.String() + "/scheduledposts"
	start := time.Now()
	for cont := ""; ; {
		q := url.Values{"limit": {fmt.Sprint(listPage)}}
		if cont != "" {
			q.Set("continue", cont)
		}
		body, err := get(ctx, hc, path+"?"+q.Encode())
		if err != nil {
			return f, err
		}
		f.bytes += int64(len(body))
		f.pages++
		if cont = continueToken(body); cont == "" {
			break
		}
	}
	f.list = time.Since(start)

	opts := controllers.CacheOptions()
	opts.Scheme = scheme.New()
	c, err := cache.New(cfg, opts)
	if err != nil {
		return f, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start = time.Now()
	if _, err := c.GetInformer(ctx, &socialv1alpha1.ScheduledPost{}); err != nil {
		return f, err
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return f, fmt.Errorf("the bare cache did not sync")
	}
	f.informer = time.Since(start)
	return f, nil
}

func get(ctx context.Context, hc *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.200s", u, resp.Status, body)
	}
	return body, nil
}

// continueToken finds the list's continue token without decoding the page:
// items carry no field of that name, and the token is base64, never escaped.
func continueToken(page []byte) string {
	key := []byte(`"continue":"`)
	i := bytes.LastIndex(page, key)
	if i < 0 {
		return ""
	}
	rest := page[i+len(key):]
	if j := bytes.IndexByte(rest, '"'); j >= 0 {
		return string(rest[:j])
	}
	return ""
}
