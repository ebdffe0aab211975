// Package mcpload drives Herald's MCP endpoint the way many clients would,
// for the benchmarks: each client keeps its own connection and session and
// sends tools/call requests with a real bearer token; Measure spreads a number
// of calls over a number of clients and reports latency percentiles and
// throughput.
package mcpload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Result is one measurement: latency percentiles and calls per second.
type Result struct {
	P50, P99 time.Duration
	Rate     float64
}

// Median takes each measure's median over the rounds on its own.
func Median(rs []Result) Result {
	mid := func(v []float64) float64 { sort.Float64s(v); return v[len(v)/2] }
	var p50, p99, rate []float64
	for _, r := range rs {
		p50, p99, rate = append(p50, float64(r.P50)), append(p99, float64(r.P99)), append(rate, r.Rate)
	}
	return Result{P50: time.Duration(mid(p50)), P99: time.Duration(mid(p99)), Rate: mid(rate)}
}

// Client is one MCP client: its own connection and session.
type Client struct {
	http    *http.Client
	session map[string]string
	id      int
	buf     bytes.Buffer
}

func (c *Client) Call(url, token, tool string, args map[string]any) error {
	if c.session[url] == "" {
		sid, err := c.post(url, token, "", map[string]any{"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": map[string]any{
			"protocolVersion": "2025-06-18", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "bench", "version": "1"}}})
		if err != nil {
			return err
		}
		c.session[url] = sid
	}
	c.id++
	_, err := c.post(url, token, c.session[url], map[string]any{"jsonrpc": "2.0", "id": c.id, "method": "tools/call", "params": map[string]any{"name": tool, "arguments": args}})
	return err
}

func (c *Client) post(url, token, session string, msg any) (string, error) {
	body, _ := json.Marshal(msg)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-06-18")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	// One buffer per client, as a client that keeps its connection would;
	// the error check searches from a byte that is rare in JSON, so the
	// load generator's share of the two cores stays small.
	c.buf.Reset()
	if _, err := c.buf.ReadFrom(resp.Body); err != nil {
		return "", err
	}
	data := c.buf.Bytes()
	if resp.StatusCode != http.StatusOK || bytes.Contains(data, []byte(`isError":true`)) {
		return "", fmt.Errorf("status %d: %.300s", resp.StatusCode, data)
	}
	return resp.Header.Get("Mcp-Session-Id"), nil
}

// Measure runs total calls spread over n clients and reports latency
// percentiles and throughput.
func Measure(n, total int, do func(*Client) error) Result {
	lat := make([]time.Duration, total)
	var next atomic.Int64
	var failed atomic.Int64
	var wg, warm sync.WaitGroup
	begin := make(chan struct{})
	for range n {
		wg.Add(1)
		warm.Add(1)
		go func() {
			defer wg.Done()
			// A read buffer that takes a page in one read, not four.
			c := &Client{http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, ReadBufferSize: 64 << 10}}, session: map[string]string{}}
			// One untimed call opens the connection and the session.
			if err := do(c); err != nil {
				fmt.Fprintln(os.Stderr, "warm-up call failed:", err)
				os.Exit(1)
			}
			warm.Done()
			<-begin
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				t0 := time.Now()
				if err := do(c); err != nil {
					if failed.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, "call failed:", err)
					}
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	warm.Wait()
	start := time.Now()
	close(begin)
	wg.Wait()
	elapsed := time.Since(start)
	if failed.Load() > 0 {
		fmt.Fprintf(os.Stderr, "%d of %d calls failed\n", failed.Load(), total)
		os.Exit(1)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return Result{
		P50:  lat[total/2].Round(time.Microsecond),
		P99:  lat[total*99/100].Round(time.Microsecond),
		Rate: float64(total) / elapsed.Seconds(),
	}
}
