// Command testreport reads `go test -json` on standard input, prints each
// package's result with the output of failed tests, the ginkgo suite
// summaries, and closes with the totals, so a run that tested nothing shows.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type key struct{ pkg, test string }

func main() {
	var (
		passed, failed, skipped int
		failedPkgs              []string
		output                  = map[key]*strings.Builder{}
		start                   = time.Now()
	)
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	for in.Scan() {
		line := in.Bytes()
		var e event
		if json.Unmarshal(line, &e) != nil {
			fmt.Println(string(line)) // build errors and other plain text
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output":
			if output[k] == nil {
				output[k] = &strings.Builder{}
			}
			output[k].WriteString(e.Output)
			if isSuiteSummary(e.Output) {
				fmt.Printf("    %s: %s", e.Package, strings.TrimLeft(e.Output, " "))
			} else if obs, ok := observation(e.Output); ok {
				fmt.Printf("    %s: %s", e.Package, obs)
			}
		case "pass", "fail", "skip":
			if e.Test == "" {
				printPackage(e, output[k])
				if e.Action == "fail" {
					failedPkgs = append(failedPkgs, e.Package)
				}
				continue
			}
			switch e.Action {
			case "pass":
				passed++
			case "skip":
				skipped++
				fmt.Printf("--- SKIP %s %s\n", e.Package, e.Test)
			case "fail":
				failed++
				fmt.Printf("--- FAIL %s %s (%.1fs)\n", e.Package, e.Test, e.Elapsed)
				if b := output[k]; b != nil {
					fmt.Print(indent(b.String()))
				}
			}
			delete(output, k)
		}
	}
	sort.Strings(failedPkgs)
	fmt.Printf("\n%d tests in %s", passed+failed+skipped, time.Since(start).Round(time.Second))
	if len(failedPkgs) > 0 {
		fmt.Printf("; failed packages: %s", strings.Join(failedPkgs, ", "))
	}
	fmt.Printf("\n%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 || len(failedPkgs) > 0 || passed == 0 {
		os.Exit(1)
	}
}

// logPosition is where t.Log puts a line's source ("cluster_test.go:76: ").
var logPosition = regexp.MustCompile(`^\S+\.go:\d+: `)

// observation finds a line a test prints to say what it measured or saw
// ("observed: replica-b led 0.1s after …"), printed directly or through
// t.Log; it is shown whether the test passed or not.
func observation(s string) (string, bool) {
	s = logPosition.ReplaceAllString(strings.TrimLeft(s, " "), "")
	return s, strings.HasPrefix(s, "observed: ")
}

// isSuiteSummary matches ginkgo's "Ran 12 of 12 Specs" line.
func isSuiteSummary(s string) bool {
	return strings.HasPrefix(s, "Ran ") && strings.Contains(s, " Specs in ")
}

func printPackage(e event, out *strings.Builder) {
	status := map[string]string{"pass": "ok  ", "fail": "FAIL", "skip": "----"}[e.Action]
	fmt.Printf("%s %s (%.1fs)\n", status, e.Package, e.Elapsed)
	if e.Action == "fail" && out != nil {
		fmt.Print(indent(out.String())) // a package that failed to build or crashed
	}
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}
