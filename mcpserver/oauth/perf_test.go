package oauth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("the middleware's cost", func() {
	It("stays well under a millisecond per request once a token is verified", func() {
		h := newHarness("")
		redirect := "http://127.0.0.1:7500/cb"
		clientID := register(h.base, redirect)
		p := newPKCE(clientID, redirect)
		_, tok := exchange(h.base, p, authorize(h.base, p, "dev", devPassword, "demo"))
		at := tok["access_token"].(string)
		guarded := h.srv.RequireToken(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
		call := func() int {
			req := httptest.NewRequest(http.MethodPost, h.base+"/mcp", nil)
			req.Header.Set("Authorization", "Bearer "+at)
			rec := httptest.NewRecorder()
			guarded.ServeHTTP(rec, req)
			return rec.Code
		}
		start := time.Now()
		Expect(call()).To(Equal(http.StatusNoContent))
		first := time.Since(start)

		const n = 2000
		start = time.Now()
		for i := 0; i < n; i++ {
			if code := call(); code != http.StatusNoContent {
				Fail(fmt.Sprintf("request %d answered %d", i, code))
			}
		}
		per := time.Since(start) / n
		AddReportEntry("middleware latency", fmt.Sprintf("first (verifies ES256): %v, cached: %v per request", first, per))
		GinkgoWriter.Printf("middleware: first %v, cached %v per request\n", first, per)
		Expect(per).To(BeNumerically("<", 500*time.Microsecond))
	})
})
