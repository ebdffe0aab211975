// Command podtool is the one binary of the images the real-cluster harness
// makes besides Herald's: "pause" is the pod sandbox (it sleeps, reaps
// children and exits on SIGTERM), "get URL" asks a URL from inside a pod
// and exits 0 once it answers 200.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: podtool pause | podtool get URL")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "pause":
		pause()
	case "get":
		if len(os.Args) != 3 {
			fmt.Fprintln(os.Stderr, "usage: podtool get URL")
			os.Exit(2)
		}
		os.Exit(get(os.Args[2]))
	default:
		fmt.Fprintf(os.Stderr, "podtool: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func pause() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			return
		}
		for {
			var status syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}

// get asks url until it answers 200, for up to a minute, and prints the
// answer's first line.
func get(url string) int {
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				fmt.Printf("%s %s\n", resp.Status, body)
				return 0
			}
			err = fmt.Errorf("%s", resp.Status)
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "GET %s: %v\n", url, err)
			return 1
		}
		time.Sleep(500 * time.Millisecond)
	}
}
