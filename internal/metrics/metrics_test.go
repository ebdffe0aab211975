package metrics

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMonitoringNamesOnlyRealMetrics reads the alerts and the dashboard of
// config/components/monitoring and checks that every herald_ series they
// query is one Herald defines, so a renamed metric cannot silence an alert.
func TestMonitoringNamesOnlyRealMetrics(t *testing.T) {
	defined := map[string]bool{}
	for _, c := range Collectors() {
		ch := make(chan *prometheus.Desc, 4)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			name := regexp.MustCompile(`fqName: "([^"]+)"`).FindStringSubmatch(d.String())[1]
			defined[name] = true
		}
	}
	series := regexp.MustCompile(`herald_[a-z_]+`)
	used := 0
	for _, f := range []string{"prometheus_rule.yaml", "herald-dashboard.json"} {
		data, err := os.ReadFile("../../config/components/monitoring/" + f)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range series.FindAllString(string(data), -1) {
			base := name
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				base = strings.TrimSuffix(base, suffix)
			}
			if !defined[base] {
				t.Errorf("%s queries %s, which Herald does not define", f, name)
			}
			used++
		}
	}
	if used < 10 {
		t.Errorf("only %d herald_ series found; the files moved?", used)
	}
}
